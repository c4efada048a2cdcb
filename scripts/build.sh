#!/usr/bin/env bash
# Builds the Rust extension in release mode and installs ferroboard (editable) into the
# virtual environment. Needs only cargo and pip (maturin comes from requirements-dev.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
log="$(mktemp)"
if ! maturin develop --release >"$log" 2>&1; then
  cat "$log"
  rm -f "$log"
  echo "build failed: maturin develop --release"
  exit 1
fi
rm -f "$log"
python -c "import ferroboard._core" || { echo "build failed: ferroboard._core does not import"; exit 1; }
