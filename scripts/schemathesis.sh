#!/usr/bin/env bash
# Hostile-input run of the API (part of ./scripts/test.sh): schemathesis (PyPI) against
# /api/v1/openapi.json of a fresh `canaryd serve` on a free loopback port, with a write
# token, every check on (scripts/schemathesis/schemathesis.toml says which one is off where,
# and why), TOML bodies through scripts/schemathesis/hooks.py. Fails on any failure or
# error schemathesis reports, on a dead daemon, and on fewer requests than the floor.
#
# Usage: ./scripts/schemathesis.sh [max-examples per operation, default 200]
# Env:   CANARYD_BIN (default target/debug/canaryd, built here when missing),
#        SCHEMATHESIS_MIN_REQUESTS (default 5000), SCHEMATHESIS_SEED (a fixed seed).
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${1:-200}"
min_requests="${SCHEMATHESIS_MIN_REQUESTS:-5000}"
venv=target/schemathesis-venv
if [ ! -x "$venv/bin/schemathesis" ] || ! "$venv/bin/python" -c 'import tomli_w' 2>/dev/null; then
  echo "== installing schemathesis into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis>=4.32,<5" "tomli-w>=1,<2"
fi
bin="${CANARYD_BIN:-target/debug/canaryd}"
[ -x "$bin" ] || cargo build --locked --bin canaryd
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
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
"$bin" serve --config "$work/canaryd.toml" 2> "$work/daemon.log" &
pid=$!
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$port/readyz" > /dev/null && break
  sleep 0.1
done
seed=()
[ -n "${SCHEMATHESIS_SEED:-}" ] && seed=(--seed "$SCHEMATHESIS_SEED")
status=0
SCHEMATHESIS_HOOKS=hooks PYTHONPATH=scripts/schemathesis \
  "$venv/bin/schemathesis" --config-file scripts/schemathesis/schemathesis.toml --no-color \
  run "http://127.0.0.1:$port/api/v1/openapi.json" \
  -H "Authorization: Bearer $token" --max-examples "$examples" -w 2 \
  --report ndjson --report-ndjson-path "$work/events.ndjson" "${seed[@]}" \
  > "$work/out.txt" 2>&1 || status=$?
cp "$work/out.txt" target/schemathesis-last.txt
cp "$work/daemon.log" target/schemathesis-daemon.log
alive=1
kill -0 "$pid" 2>/dev/null || alive=0
# Every request sent, counted from the event stream (checks and stateful steps included).
requests=$(python3 - "$work/events.ndjson" <<'PY'
import json, sys
n = 0
def walk(v):
    global n
    if isinstance(v, dict):
        if "request" in v and "response" in v and isinstance(v["request"], dict):
            n += 1
        for x in v.values():
            walk(x)
    elif isinstance(v, list):
        for x in v:
            walk(x)
with open(sys.argv[1]) as f:
    for line in f:
        walk(json.loads(line))
print(n)
PY
)
server_errors=$(grep -c '"status_code": 5[0-9][0-9]\|"status_code":5[0-9][0-9]' "$work/events.ndjson" || true)
tail -40 "$work/out.txt"
echo "== schemathesis: $requests requests, $server_errors answers 5xx, exit $status, daemon alive: $alive"
if [ "$alive" != 1 ]; then
  echo "the daemon died:"; tail -20 "$work/daemon.log"; exit 1
fi
if [ "$status" != 0 ]; then
  echo "schemathesis found failures (above); full output in target/schemathesis-last.txt:"
  head -400 "$work/out.txt"; exit 1
fi
if [ "$requests" -lt "$min_requests" ]; then
  echo "only $requests requests were sent (floor $min_requests): raise max-examples"; exit 1
fi
echo "== schemathesis: no failure"
