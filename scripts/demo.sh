#!/usr/bin/env bash
# The main job: builds ferroboard, writes the demo run under ./runs, and
# says how to look at it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
bash scripts/build.sh
python examples/demo.py "$@"
