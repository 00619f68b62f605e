#!/usr/bin/env python3
"""Write the `analyze` benchmark data (deterministic: fixed seeds, stdlib only).

    python3 scripts/gen_bench_data.py DIR [--pairs 1000] [--values 1000]

writes DIR/baseline.csv, DIR/canary.csv and DIR/canary.toml: `--pairs` label sets
(`api` = /api/0 … /api/N-1) of the metric `latency_ms`, `--values` lognormal latencies
(median 100 ms, log-sd 0.5) per label set and file, the canary 10% slower, and a config
with one mann_whitney metric on `latency_ms`. Rows are interleaved by API, like a scrape of
every API at each step. The same shape of data as the criterion bench `analyze/…` in
benches/judges.rs generates for itself (a different generator, so not the same values).
"""

import argparse
import os
import random

MEDIAN = 100.0
SIGMA = 0.5
CANARY_FACTOR = 1.1

CONFIG = """name = "bench"

[[metrics]]
name = "latency"
series = "latency_ms"
direction = "increase"
judge = { kind = "mann_whitney" }
"""


def write_csv(path, seed, factor, pairs, values):
    rng = random.Random(seed)
    lines = ["api,metric,value\n"]
    for _ in range(values):
        for api in range(pairs):
            v = factor * MEDIAN * rng.lognormvariate(0.0, SIGMA)
            lines.append(f"/api/{api},latency_ms,{v:.3f}\n")
    with open(path, "w", newline="") as f:
        f.writelines(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dir", help="output directory (created if missing)")
    p.add_argument("--pairs", type=int, default=1000, help="label sets (default 1000)")
    p.add_argument("--values", type=int, default=1000, help="values per label set and file (default 1000)")
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    write_csv(os.path.join(a.dir, "baseline.csv"), 1, 1.0, a.pairs, a.values)
    write_csv(os.path.join(a.dir, "canary.csv"), 2, CANARY_FACTOR, a.pairs, a.values)
    with open(os.path.join(a.dir, "canary.toml"), "w") as f:
        f.write(CONFIG)


if __name__ == "__main__":
    main()
