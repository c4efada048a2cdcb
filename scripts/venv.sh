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
# TensorFlow goes into a folder of its own (requirements-tensorflow.txt says why), pinned to
# the versions the environment already has of what they share (numpy, protobuf, ...).
TF_REQ="$(dirname "$REQ")/requirements-tensorflow.txt"
TF_SITE="$VENV/tensorflow-site"
tf_stamp="$TF_SITE/.requirements.sha256"
tf_want="$(cat "$REQ" "$TF_REQ" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$tf_stamp" 2>/dev/null)" != "$tf_want" ]; then
  echo "installing TensorFlow for the tbparse image and audio comparison into $TF_SITE"
  rm -rf "$TF_SITE"
  pins="$(mktemp)"
  "$VENV/bin/python" -m pip freeze --exclude-editable > "$pins"
  "$VENV/bin/python" -m pip install -q --target "$TF_SITE" -r "$TF_REQ" -c "$pins"
  rm -f "$pins"
  echo "$tf_want" > "$tf_stamp"
fi
export FERROBOARD_TENSORFLOW_SITE="$TF_SITE"
export VIRTUAL_ENV="$VENV"
export PATH="$VENV/bin:$PATH"
