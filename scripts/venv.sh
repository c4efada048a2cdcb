#!/usr/bin/env bash
# Creates (once) and activates the virtual environment shared by the demo, the tests and
# the benchmarks. torch alone is a few GB, so the environment lives outside the checkout
# (default ~/.cache/ferroboard/venv, override with FERROBOARD_VENV) and is reused.
# The stamp (a hash of requirements-dev.txt) re-installs whenever that file changes, so a
# reused environment cannot hide a requirement missing from a fresh one.
# Source this file; it sets VENV and puts its bin/ first on PATH.
set -euo pipefail
VENV="${FERROBOARD_VENV:-$HOME/.cache/ferroboard/venv}"
REQ="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/requirements-dev.txt"
stamp="$VENV/.requirements.sha256"
want="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ]; then
  echo "creating virtual environment in $VENV"
  python3 -m venv "$VENV"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing development requirements into $VENV (torch is large: first time only)"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -r "$REQ"
  # Conflicting versions fail here, not in a test far away; the stamp is only written
  # after a clean check, so a failed install is retried next time.
  "$VENV/bin/python" -m pip check
  echo "$want" > "$stamp"
fi
export VIRTUAL_ENV="$VENV"
export PATH="$VENV/bin:$PATH"
