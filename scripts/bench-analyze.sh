#!/usr/bin/env bash
# Wall-clock time of `canaryd analyze` judging 1,000 metric pairs of 1,000 values per side
# from CSV (the release binary, end to end: process start, reading both files, grouping,
# judging, scoring, rendering JSON to /dev/null). Median of 5 runs (after one warm-up run
# that also fills the page cache).
#
#   scripts/bench-analyze.sh [--pairs N] [--values N] [--runs N]
#
# Data: scripts/gen_bench_data.py into a temporary directory (removed on exit).
set -euo pipefail

cd "$(dirname "$0")/.."
pairs=1000
values=1000
runs=5
while [[ $# -gt 0 ]]; do
    case "$1" in
        --pairs) pairs="$2"; shift 2 ;;
        --values) values="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        *) echo "usage: $0 [--pairs N] [--values N] [--runs N]" >&2; exit 64 ;;
    esac
done

target_dir="${CARGO_TARGET_DIR:-target}"
echo "== cargo build --release" >&2
cargo build --release --bin canaryd >&2
bin="$target_dir/release/canaryd"

data="$(mktemp -d)"
trap 'rm -rf "$data"' EXIT
echo "== scripts/gen_bench_data.py ($pairs pairs x $values values) -> $data" >&2
python3 scripts/gen_bench_data.py "$data" --pairs "$pairs" --values "$values"

python3 - "$bin" "$data" "$runs" "$pairs" "$values" <<'PY'
import os
import statistics
import subprocess
import sys
import time

binary, data, runs, pairs, values = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
cmd = [
    binary, "analyze",
    "--config", os.path.join(data, "canary.toml"),
    "--baseline", os.path.join(data, "baseline.csv"),
    "--canary", os.path.join(data, "canary.csv"),
    "--format", "json",
]


def once():
    t0 = time.perf_counter()
    with open(os.devnull, "w") as out:
        p = subprocess.run(cmd, stdout=out)
    dt = time.perf_counter() - t0
    # 0 pass, 1 fail, 2 marginal are verdicts; 64 and above are errors.
    if p.returncode >= 64 or p.returncode < 0:
        sys.exit(f"canaryd analyze failed with exit status {p.returncode}")
    return dt, p.returncode


_, verdict = once()  # warm-up: page cache, binary loading
times = [once()[0] for _ in range(runs)]
print(f"canaryd analyze, {pairs} pairs x {values} values per side, exit status {verdict}")
print(f"runs (s): {' '.join(f'{t:.3f}' for t in times)}")
print(f"median: {statistics.median(times):.3f} s")
PY
