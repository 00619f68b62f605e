#!/usr/bin/env bash
# Hostile-input run of the API: schemathesis (PyPI) against /api/v1/openapi.json of a fresh
# `canaryd serve` on a free loopback port, with a write token, failing on any server error.
# Not yet part of ./scripts/test.sh (issue 13: the OpenAPI document must first describe
# every request body and content type). Usage: ./scripts/schemathesis.sh [max-examples]
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${1:-50}"
venv=target/schemathesis-venv
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis>=4,<5"
fi
cargo build --locked --bin canaryd
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
token="schemathesis-write-token-$(date +%s)"
cat > "$work/canaryd.toml" <<TOML
listen = "127.0.0.1:$port"
data_dir = "$work/data"
[prometheus]
url = "http://127.0.0.1:9"
retries = 0
timeout_s = 1
[[tokens]]
name = "schemathesis"
role = "write"
token = "$token"
TOML
target/debug/canaryd serve --config "$work/canaryd.toml" 2> "$work/daemon.log" &
pid=$!
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$port/readyz" > /dev/null && break
  sleep 0.1
done
"$venv/bin/schemathesis" run "http://127.0.0.1:$port/api/v1/openapi.json" \
  -H "Authorization: Bearer $token" --checks not_a_server_error \
  --max-examples "$examples" -w 2
kill -0 "$pid" || { echo "the daemon died:"; tail -20 "$work/daemon.log"; exit 1; }
echo "== schemathesis: no server error, the daemon is alive"
