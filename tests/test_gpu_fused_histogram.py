"""The fused Triton kernel of `add_histograms`, checked in Triton's interpreter on CPU
(the checks: fused_interpreter_checks.py).

The interpreter must be on before Triton is imported, and other tests of this session
may have imported it already, so the checks run in a child pytest with
`TRITON_INTERPRET=1` in its environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("triton")

CHECKS = Path(__file__).with_name("fused_interpreter_checks.py")


def test_the_fused_kernel_in_the_interpreter(tmp_path):
    env = dict(os.environ, TRITON_INTERPRET="1")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(CHECKS)]
    command += ["--basetemp", str(tmp_path / "checks")]
    done = subprocess.run(
        command, cwd=CHECKS.parent.parent, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout, done.stdout[-2000:]
