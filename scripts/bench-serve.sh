#!/usr/bin/env bash
# `canaryd serve` against its targets (benches/serve.rs): judging 2,000 metric pairs from a
# real Prometheus, start to /readyz, RSS idle and with 100 live analyses, GET latency at
# 500 requests/s. Builds the release binary, runs the bench (about 90 s; progress on
# stderr), then prints the summary table again at the end.
#
#   scripts/bench-serve.sh
#
# Needs `prometheus` and `promtool` (Debian/Ubuntu: `apt-get install -y prometheus`).
# A release build of the bench needs about 10 GB under target/release.
set -euo pipefail

cd "$(dirname "$0")/.."

free_kb=$(df -Pk . | awk 'NR == 2 { print $4 }')
if ((free_kb < 5 * 1024 * 1024)); then
    echo "warning: only $((free_kb / 1024 / 1024)) GB free; a release build needs about 10 GB" >&2
fi
for tool in prometheus promtool; do
    command -v "$tool" >/dev/null || {
        echo "$tool is not installed (apt-get install -y prometheus)" >&2
        exit 69
    }
done

# The bench profile inherits `release`: this builds target/release/canaryd (with the
# dev-dependencies' feature set, so a plain `cargo build --release` would relink it) and the
# bench itself, which runs that binary (CARGO_BIN_EXE_canaryd).
echo "== cargo bench --bench serve --no-run (release profile)" >&2
cargo bench --bench serve --no-run >&2

summary="$(mktemp)"
trap 'rm -f "$summary"' EXIT
echo "== cargo bench --bench serve" >&2
cargo bench --bench serve | tee "$summary"

echo
echo "== summary"
sed -n '/^## /,$p' "$summary"
