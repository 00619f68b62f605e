#!/usr/bin/env bash
# Property tests of every parser that reads user and client input (configs in all formats,
# Kayenta configs, pipeline specs, metric CSV, PromQL templates), for longer than CI runs
# them: PROPTEST_CASES cases per property (default 20000), stopped after SECONDS_LIMIT
# (default 600). A failure prints the minimal input that panicked.
# Usage: ./scripts/fuzz.sh [cases] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
cases="${1:-20000}"
limit="${2:-600}"
echo "== parsers: ${cases} cases per property, at most ${limit} s"
PROPTEST_CASES="$cases" timeout "$limit" cargo test --locked --test it parsers_fuzz -- --nocapture
echo "== PromQL template shape: ${cases} cases"
PROPTEST_CASES="$cases" timeout "$limit" cargo test --locked --lib collectors::promql -- --nocapture
echo "== fuzzing passed"
