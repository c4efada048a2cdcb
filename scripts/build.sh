#!/usr/bin/env bash
# Builds the Rust extension in release mode and installs ferroboard (editable) into the
# virtual environment. Needs only cargo and pip (maturin comes from requirements-dev.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
maturin develop --release --quiet 2>&1 | grep -v "^📦\|^🔗\|^🐍\|^⚠️  Warning: .*pip" || true
python -c "import ferroboard._core" || { echo "build failed: ferroboard._core does not import"; exit 1; }
