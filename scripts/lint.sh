#!/usr/bin/env bash
# The lint gate: Rust formatting and clippy, ruff lint and format, mypy, and stubtest of
# the extension's stub against the built module (so run it after scripts/build.sh).
# Every check runs even when one fails, so one run lists every failure; the exit status is
# 1 if any failed. Seconds on a built tree (clippy and mypy are incremental).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh

failed=()
check() {
  local name="$1"
  shift
  local start=$SECONDS
  echo "== lint: $name"
  if "$@"; then
    echo "   ok ($((SECONDS - start)) s)"
  else
    echo "   FAILED: $name"
    failed+=("$name")
  fi
}

# stubtest compares the stub with the module; it needs nothing the stub does not import,
# and following the package's imports into torch and numpy (stubtest caches nothing)
# would take a minute and a half instead of a few seconds.
stubtest_config="$(mktemp)"
trap 'rm -f "$stubtest_config"' EXIT
printf '[mypy]\nfollow_imports = skip\n' >"$stubtest_config"

check "cargo fmt --check" cargo fmt --check
check "cargo clippy" cargo clippy --quiet --all-targets -- -D warnings
check "ruff check" ruff check --quiet
check "ruff format --check" ruff format --check --quiet
check "mypy" mypy  # files and options: [tool.mypy] in pyproject.toml
check "stubtest ferroboard._core" \
  python -m mypy.stubtest --mypy-config-file "$stubtest_config" ferroboard._core

if [ "${#failed[@]}" -ne 0 ]; then
  echo "lint failed: ${failed[*]}"
  exit 1
fi
