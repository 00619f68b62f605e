#!/usr/bin/env bash
# Every check canaryd's CI runs, from a fresh machine: installs the system packages the
# tests need (when missing), then formatting, lints, docs, the whole test suite and the
# schemathesis run against the API.
# Usage: ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages the test suite needs (Debian names): real services that tests start
# themselves on free loopback ports. Tests fail (never skip) without them unless
# CANARYD_SKIP_SERVICE_TESTS=1.
packages=(prometheus haproxy chromium chromium-driver python3-venv)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "== installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y --no-install-recommends "${missing[@]}"
fi

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet
echo "== cargo test"
CI="${CI:-true}" cargo test --workspace --locked
./scripts/test-notebooks.sh
echo "== schemathesis (hostile API input, docs/security.md)"
CANARYD_BIN=target/debug/canaryd ./scripts/schemathesis.sh
echo "== all checks passed"
