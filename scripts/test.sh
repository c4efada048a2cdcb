#!/usr/bin/env bash
# The test command: environment, build, lints, Rust tests, Python tests. Extra arguments
# go to pytest (e.g. scripts/test.sh -k parity).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
bash scripts/build.sh
bash scripts/lint.sh  # after the build: stubtest checks the stub against the built module
echo "== cargo test"
cargo test --quiet
echo "== pytest"
python -m pytest -q "$@"
