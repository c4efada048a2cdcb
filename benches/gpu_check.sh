#!/usr/bin/env bash
# Runs benches/gpu_check.py on a GPU machine, unattended and without network.
#
# ferroboard comes from the abi3 wheel in .whl/ (built beforehand with
# `benches/gpu_check.sh --build-wheel` on a machine with Rust), installed into a scratch
# directory with pip --no-index --no-deps; torch, numpy and tensorboard come from the
# machine. Results: $OUT/gpu_check.json, $OUT/gpu_check.log, and a Markdown table at the
# end of the output. The whole run is limited to 470 s (8 minutes with start-up).
set -u
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--build-wheel" ]; then
    # abi3 for CPython >= 3.11 (the buffer protocol joined the stable ABI in 3.11).
    rm -rf .whl && mkdir -p .whl
    CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/abi3" \
        exec maturin build --release --features pyo3/abi3-py311 --out .whl
fi

OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
SCRATCH="$(mktemp -d)"
PY="${PYTHON:-python3}"
WHEEL="$(ls .whl/ferroboard-*.whl 2>/dev/null | head -n 1)"
if [ -n "$WHEEL" ]; then
    "$PY" -m pip install --quiet --no-index --no-deps --target "$SCRATCH/site" "$WHEEL" \
        || { echo "gpu_check: installing $WHEEL failed" | tee "$OUT/gpu_check.log"; exit 3; }
    export PYTHONPATH="$SCRATCH/site${PYTHONPATH:+:$PYTHONPATH}"
else
    echo "gpu_check: no wheel in .whl/; using the ferroboard that $PY imports" | tee "$OUT/gpu_check.log"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee -a "$OUT/gpu_check.log"
export PYTHONUNBUFFERED=1
timeout -k 10 470 "$PY" benches/gpu_check.py --out "$OUT" "$@" 2>&1 | tee -a "$OUT/gpu_check.log"
status=${PIPESTATUS[0]}
echo "gpu_check: exit status $status; results in $OUT" | tee -a "$OUT/gpu_check.log"
exit "$status"
