#!/usr/bin/env bash
# Benchmarks against torch and tensorboardX (not part of the test command).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
bash scripts/build.sh
python -m pytest benches -q -p no:randomly --benchmark-columns=min,median,max,rounds "$@"
