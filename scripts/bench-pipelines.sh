#!/usr/bin/env bash
# Pipelines through `canaryd serve` against their targets (benches/pipelines.rs):
#   scale    — 1,000 concurrent executions on one daemon (webhook router → local sink):
#              RSS ≤ 200 MiB, no missed or doubled step;
#   restart  — the same, killed with SIGKILL mid-burst and restarted on its data dir;
#   rollback — a fail verdict to 0 % canary weight at a real HAProxy in ≤ 1 s (real Prometheus).
# Builds the release binary and the bench, runs it (about 1 minute once built; progress on
# stderr), then prints the summary table again at the end. Arguments go to the bench, e.g.
#
#   scripts/bench-pipelines.sh
#   scripts/bench-pipelines.sh --executions 200 --wait 1 --phases scale
#   scripts/bench-pipelines.sh --sink-fail-every 20      # exercise webhook retries
#
# Flags: --executions N, --wait S, --start-in S, --sink-fail-every K, --rounds K, --runs R,
# --analysis-step S, --rss-limit-mib M, --phases scale,restart,rollback (see the bench's doc).
# Exits non-zero when an execution did not succeed, a step was missed or doubled, or the
# daemon's RSS went over the limit.
#
# Needs `haproxy` (apt-get install -y haproxy) and `prometheus` + `promtool`
# (apt-get install -y prometheus) for the rollback phase; the other phases need neither.
# A release build needs about 10 GB under target/release.
set -euo pipefail

cd "$(dirname "$0")/.."

free_kb=$(df -Pk . | awk 'NR == 2 { print $4 }')
if ((free_kb < 5 * 1024 * 1024)); then
    echo "warning: only $((free_kb / 1024 / 1024)) GB free; a release build needs about 10 GB" >&2
fi
phases="$* ${CANARYD_BENCH_PHASES:+--phases $CANARYD_BENCH_PHASES}"
if [[ "$phases" != *--phases* || "$phases" == *rollback* ]]; then
    for tool in haproxy prometheus promtool; do
        command -v "$tool" >/dev/null || [[ -x "/usr/sbin/$tool" ]] || {
            echo "$tool is not installed (apt-get install -y haproxy prometheus)" >&2
            exit 69
        }
    done
fi

# The release binary on its own, then the bench. The bench profile inherits `release`, but
# `cargo bench` unifies the dev-dependencies' features, so some dependencies (polars, …) are
# built twice, once per feature set (the first time ~11 min extra on 2 cores; cached after).
# `cargo bench` (re)links target/release/canaryd with its own feature set, and the bench runs
# that binary (CARGO_BIN_EXE_canaryd; CANARYD_BIN overrides it).
echo "== cargo build --release --bin canaryd" >&2
cargo build --release --bin canaryd >&2
echo "== cargo bench --bench pipelines --no-run (release profile)" >&2
cargo bench --bench pipelines --no-run >&2

summary="$(mktemp)"
trap 'rm -f "$summary"' EXIT
echo "== cargo bench --bench pipelines -- $*" >&2
status=0
cargo bench --bench pipelines -- "$@" | tee "$summary" || status=$?

echo
echo "== summary"
sed -n '/^## /,$p' "$summary"
exit "$status"
