"""Property test of the whole Python API (T12-T17 as a fuzz;
docs/architecture.md G5, G6): random calls never crash the process, never raise anything but
TypeError/ValueError/OverflowError, never drop an accepted event, and never leave a file
TensorBoard's readers reject. The fuzz runs in reliability_fuzz_child.py, in its own
interpreter with a timeout; rustboard then loads everything it wrote.

Anchor result (torch 2.13, recorded with FERROBOARD_RELIABILITY_WRITER=torch and 150
examples): failed with 11 distinct failures, e.g. AssertionError ("Tensor should contain
one element", "size of input tensor and input format are different"), AttributeError
("'NoneType' object has no attribute 'encode'") and NotImplementedError for None
inputs. (It also writes NaN wall times verbatim, which rustboard rejects.)

Set FERROBOARD_FUZZ_EXAMPLES for a longer run and FERROBOARD_FUZZ_RANDOM=1 to explore
beyond the deterministic examples CI runs.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from procs import child_env
from reliability_harness import Rustboard, event_files, ferroboard_only

pytestmark = pytest.mark.timeout(300)

EXAMPLES = int(os.environ.get("FERROBOARD_FUZZ_EXAMPLES", "150"))
MEMORY_EXAMPLES = int(os.environ.get("FERROBOARD_FUZZ_MEMORY_EXAMPLES", "40"))


def test_random_api_calls_never_crash_or_write_what_readers_reject(tmp_path):
    script = os.path.join(os.path.dirname(__file__), "reliability_fuzz_child.py")
    proc = subprocess.run(
        [sys.executable, script, str(tmp_path), str(EXAMPLES)],
        capture_output=True,
        text=True,
        timeout=240,
        env=child_env(),
    )
    assert proc.returncode == 0, (
        f"fuzz failed (rc={proc.returncode})\n--- stdout ---\n{proc.stdout[-6000:]}\n"
        f"--- stderr ---\n{proc.stderr[-6000:]}"
    )
    assert "RESULT" in proc.stdout
    files = event_files(tmp_path)
    assert len(files) >= EXAMPLES, "fewer files than examples"
    # rustboard (--checksum) loads every run and serves the scalars it found.
    with Rustboard(tmp_path) as rb:
        served = rb.wait_for(lambda g: len(g) > 0, timeout=20)
    assert served, "rustboard served nothing"


@ferroboard_only("torch's writer has no memory guarantee to test")
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc: Linux")
def test_size_amplifying_arguments_under_a_memory_limit_never_end_the_process(tmp_path):
    """The same fuzz under RLIMIT_AS (usage after warm-up + 1 GiB), mixing in rescale,
    bin counts and numpy strategies on spiky data, image grids, video clips and
    embedding sprites: every call returns or raises an allowed error (MemoryError
    included), an event may only be dropped with an "out of memory" warning, the
    process exits normally and every file reads back."""
    script = os.path.join(os.path.dirname(__file__), "reliability_fuzz_child.py")
    proc = subprocess.run(
        [sys.executable, script, str(tmp_path), str(MEMORY_EXAMPLES), "memory"],
        capture_output=True,
        text=True,
        timeout=240,
        env=child_env(),
    )
    assert proc.returncode == 0, (
        f"memory fuzz failed (rc={proc.returncode})\n--- stdout ---\n{proc.stdout[-6000:]}\n"
        f"--- stderr ---\n{proc.stderr[-6000:]}"
    )
    assert "RESULT" in proc.stdout
    assert len(event_files(tmp_path)) >= MEMORY_EXAMPLES, "fewer files than examples"
    # What the fuzz exercised (stderr): at least one rejection by a limit.
    assert "ValueError" in proc.stderr, proc.stderr
