#!/usr/bin/env bash
# canaryd's Mann–Whitney (estimate + 98% interval + p-value, including the sort) against
# R's wilcox.test(conf.int = TRUE, exact = FALSE, correct = TRUE) at 100, 1k, 10k and 100k
# values per side. Prints a Markdown table with the ratio R / canaryd.
#
#   scripts/bench-vs-r.sh
#
# Needs cargo, Rscript (base R) and python3. canaryd's times are criterion's median
# (benches/judges.rs, `mann_whitney/<size>`); R's are the median of scripts/bench_r.R.
set -euo pipefail

cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-target}"
sizes=(100 1000 10000 100000)

echo "== cargo bench --bench judges -- mann_whitney" >&2
cargo bench --bench judges -- mann_whitney >&2

echo "== Rscript scripts/bench_r.R ${sizes[*]}" >&2
r_out="$(Rscript scripts/bench_r.R "${sizes[@]}")"

python3 - "$target_dir" "$r_out" "${sizes[@]}" <<'PY'
import json
import os
import sys

target, r_out, sizes = sys.argv[1], sys.argv[2], sys.argv[3:]
r = {}
for line in r_out.splitlines():
    parts = line.split()
    if len(parts) == 2:
        r[parts[0]] = float(parts[1]) * 1e3  # seconds → ms

print("| values per side | canaryd (ms) | R (ms) | R / canaryd |")
print("|---:|---:|---:|---:|")
for n in sizes:
    path = os.path.join(target, "criterion", "mann_whitney", n, "new", "estimates.json")
    with open(path) as f:
        ours = json.load(f)["median"]["point_estimate"] / 1e6  # ns → ms
    theirs = r.get(n)
    if theirs is None:
        print(f"| {int(n):,} | {ours:.4f} | – | – |")
    else:
        print(f"| {int(n):,} | {ours:.4f} | {theirs:.1f} | {theirs / ours:,.0f}× |")
PY
