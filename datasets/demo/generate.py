#!/usr/bin/env python3
"""Generate the demo baseline and canary metrics (deterministic: fixed seed, stdlib only).

A checkout service with three APIs, one hour at one-minute steps. The canary is a new
version whose /checkout API regressed: about 35% slower and erroring more. /cart and
/search are unchanged. Run from anywhere: `python3 datasets/demo/generate.py`.
"""

import csv
import math
import os
import random
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
START = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
MINUTES = 60
APIS = {
    # api: (median latency ms, lognormal sigma, requests per minute, error probability, cpu s/min)
    "/checkout": (180.0, 0.35, 40, 0.002, 9.0),
    "/cart": (45.0, 0.30, 90, 0.001, 6.0),
    "/search": (95.0, 0.45, 120, 0.0015, 14.0),
}
# The canary's changes, per API: latency factor, error factor, cpu factor.
CANARY = {"/checkout": (1.35, 6.0, 1.05), "/cart": (1.0, 1.0, 1.0), "/search": (1.0, 1.0, 1.0)}
# Latency samples per API and minute (a sampled access log keeps files small).
SAMPLES_PER_MINUTE = 10


def poisson(rng, lam):
    # Knuth's method; fine for the small rates here.
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def generate(arm, seed):
    rng = random.Random(seed)
    rows = []
    for minute in range(MINUTES):
        ts = (START + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")
        # Traffic follows a shared morning ramp (both arms see it).
        load = 1.0 + 0.3 * math.sin(math.pi * minute / MINUTES)
        for api, (median, sigma, rpm, perr, cpu) in APIS.items():
            lat_f, err_f, cpu_f = CANARY[api] if arm == "canary" else (1.0, 1.0, 1.0)
            for _ in range(SAMPLES_PER_MINUTE):
                v = median * lat_f * load ** 0.3 * math.exp(rng.gauss(0.0, sigma))
                rows.append((ts, api, "latency_ms", round(v, 2)))
            requests = poisson(rng, rpm * load)
            errors = sum(1 for _ in range(requests) if rng.random() < perr * err_f)
            rows.append((ts, api, "http_requests", requests))
            rows.append((ts, api, "http_errors", errors))
            rows.append((ts, api, "cpu_seconds", round(cpu * cpu_f * load * math.exp(rng.gauss(0.0, 0.08)), 3)))
    with open(os.path.join(HERE, f"{arm}.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["timestamp", "api", "metric", "value"])
        w.writerows(rows)


if __name__ == "__main__":
    generate("baseline", 20261102)
    generate("canary", 20261103)
