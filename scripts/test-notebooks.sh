#!/usr/bin/env bash
# Executes every notebook in notebooks/ headless on freshly generated canaryd output, so the
# notebooks cannot rot: a small `canaryd evaluate` run and a `canaryd replay` of deploys
# simulated from datasets/scenarios/, then `jupyter nbconvert --execute` on each notebook.
# Exits non-zero if any step or notebook fails.
#
# Usage: ./scripts/test-notebooks.sh
#   CANARYD_BIN=target/release/canaryd  binary to use (default target/debug/canaryd, built if missing)
#   PYTHON=python3.12                   interpreter of the venv (default python3, 3.11+)
#   CANARYD_NOTEBOOKS_KEEP=1            keep the temp dir (inputs, executed notebooks)
# The venv is target/notebooks-venv, reinstalled only when notebooks/requirements.txt changes.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
say() { echo "== notebooks: $*"; }

bin=${CANARYD_BIN:-target/debug/canaryd}
venv=target/notebooks-venv
python=${PYTHON:-python3}
req=notebooks/requirements.txt

# 1. The binary.
if [ ! -x "$bin" ]; then
  case "$bin" in
    target/debug/canaryd | ./target/debug/canaryd)
      say "building $bin"
      cargo build --locked --bin canaryd
      ;;
    target/release/canaryd | ./target/release/canaryd)
      say "building $bin"
      cargo build --release --locked --bin canaryd
      ;;
    *)
      echo "error: CANARYD_BIN=$bin is not an executable file" >&2
      exit 1
      ;;
  esac
fi
bin=$(realpath "$bin")

# 2. The venv, reused while the requirements (and the interpreter's version) are unchanged.
want="$(sha256sum "$req" | cut -d' ' -f1) python $("$python" -c 'import sys; print(sys.version.split()[0])')"
stamp=$venv/.requirements-stamp
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  say "reusing $venv"
else
  say "installing $req into $venv"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
  echo "$want" >"$stamp"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/canaryd-notebooks.XXXXXX")
if [ -n "${CANARYD_NOTEBOOKS_KEEP:-}" ]; then
  trap 'echo "== notebooks: kept $tmp"' EXIT
else
  trap 'rm -rf "$tmp"' EXIT
fi

# Runs a command quietly; on failure shows its output and stops.
quiet() {
  local log
  log=$(mktemp "$tmp/log.XXXXXX")
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    echo "error: failed: $*" >&2
    return 1
  fi
}

# 3. `canaryd evaluate`: every judge on a few no-change and regression scenarios, fixed seed.
scenarios=datasets/scenarios
say "canaryd evaluate (6 scenarios × 30 runs, seed 7)"
quiet "$bin" evaluate \
  --scenarios "$scenarios"/{nochange-lognormal,nochange-ar05,warmup-spike,crash-loop,latency-plus-50,errors-0.1-to-0.5}.toml \
  --runs 30 --seed 7 --format json --out "$tmp/evaluate.json"

# 4. `canaryd replay`: deploys simulated from the shipped scenarios (shortened to 10 minutes;
#    `simulate` writes each deploy's `label`), plus one broken deploy that must be reported,
#    replayed with one config per judge, in each output format.
say "canaryd simulate (6 deploys) and canaryd replay (3 configs)"
mkdir -p "$tmp/scenarios" "$tmp/deploys" "$tmp/configs" "$tmp/replay"
deploys=(crash-loop latency-plus-50 errors-0.1-to-0.5 nochange-lognormal nochange-pareto warmup-spike)
pids=()
for i in "${!deploys[@]}"; do
  s=${deploys[$i]}
  sed -E 's/^duration_s = [0-9]+$/duration_s = 600/' "$scenarios/$s.toml" >"$tmp/scenarios/$s.toml"
  quiet "$bin" simulate --scenario "$tmp/scenarios/$s.toml" --seed $((i + 1)) --format parquet \
    --out "$tmp/deploys/$(printf %02d $((i + 1)))-$s" &
  pids+=($!)
  if ((${#pids[@]} >= 2)); then # ~1 GB of memory each
    wait "${pids[0]}"
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p"; done
mkdir "$tmp/deploys/07-broken"
printf 'metric,value\nlatency_ms,1\n' >"$tmp/deploys/07-broken/baseline.csv"

cat >"$tmp/configs/sequential.toml" <<'EOF'
name = "sequential"
[judge]
kind = "sequential"
alpha = 0.01
tolerance = 0.1

[[metrics]]
name = "latency"
series = "latency_ms"
direction = "increase"

[[metrics]]
name = "errors"
events = "errors"
total = "requests"
direction = "increase"
judge = { kind = "sequential", tolerance = 1.0 }
EOF
cat >"$tmp/configs/mann_whitney.toml" <<'EOF'
name = "mann_whitney"
[judge]
kind = "mann_whitney"

[[metrics]]
name = "latency"
series = "latency_ms"
direction = "increase"
effect_size = { allowed_increase = 1.1 }

[[metrics]]
name = "errors"
events = "errors"
total = "requests"
direction = "increase"
critical = true
EOF
cat >"$tmp/configs/threshold.toml" <<'EOF'
name = "threshold"

[[metrics]]
name = "latency_p99"
series = "latency_ms"
direction = "increase"
judge = { kind = "threshold", aggregate = "p99", max_ratio = 1.2 }

[[metrics]]
name = "error_rate"
events = "errors"
total = "requests"
direction = "increase"
critical = true
judge = { kind = "threshold", aggregate = "rate", max = 0.01 }
EOF
replays=()
for out in sequential.json mann_whitney.csv threshold.parquet; do
  quiet "$bin" replay --deploys "$tmp/deploys" --config "$tmp/configs/${out%.*}.toml" \
    --format "${out##*.}" --out "$tmp/replay/$out"
  replays+=("$tmp/replay/$out")
done
replay_output=$(IFS=:; echo "${replays[*]}")

# 5. Execute every notebook on that output.
export JUPYTER_PLATFORM_DIRS=1 MPLCONFIGDIR="$PWD/$venv/mplconfig" IPYTHONDIR="$PWD/$venv/ipython"
export CANARYD_EVALUATE_OUTPUT="$tmp/evaluate.json" CANARYD_REPLAY_OUTPUT="$replay_output"
failed=()
for nb in notebooks/*.ipynb; do
  say "executing $nb"
  if ! quiet "$venv/bin/jupyter" nbconvert --to notebook --execute \
    --ExecutePreprocessor.timeout=300 --output-dir "$tmp/executed" "$nb"; then
    failed+=("$nb")
  fi
done
if ((${#failed[@]})); then
  echo "error: notebooks failed: ${failed[*]}" >&2
  exit 1
fi
say "all notebooks ran in $((SECONDS - started)) s"
