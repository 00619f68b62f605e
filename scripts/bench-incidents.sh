#!/usr/bin/env bash
# The real-incident benchmark (docs/evaluation.md#real-incidents-petshop) on a release
# build: canary configs judged on the PetShop dataset's 68 incidents and healthy windows,
# read in place from ../shared/datasets/petshop (or --data DIR). Extra arguments go to
# `canaryd bench-incidents` (--shipped-only, --missed, --format json, -o FILE, -c CONFIG).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --locked --quiet -- bench-incidents "$@"
