"""Fixtures of the benchmark suite: ferroboard against torch and tensorboardX.

Run with ``bash scripts/bench.sh`` or ``python -m pytest benches -q``; the README table
comes from ``python benches/report.py``. How rounds are timed: benchlib.py.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from benchlib import QUICK, WRITERS, Logdirs, Writers


@pytest.fixture(scope="session")
def logdirs() -> Any:
    """Fresh run directories, all under one temporary directory removed at the end."""
    base = Path(tempfile.mkdtemp(prefix="ferroboard-bench-"))
    yield Logdirs(base)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def _warmed() -> set:
    return set()


@pytest.fixture(params=WRITERS)
def writers(request: pytest.FixtureRequest, logdirs: Logdirs, _warmed: set) -> Writers:
    """The writer under test (parametrized), warmed up once per session."""
    made = Writers(request.param, logdirs)
    if request.param not in _warmed:
        made.warm_up()
        _warmed.add(request.param)
    return made


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def pytest_benchmark_update_machine_info(config: Any, machine_info: dict) -> None:
    machine_info["cpu_count"] = os.cpu_count()
    machine_info["quick"] = QUICK
    # tensorboardX computes its record CRC with the optional `crc32c` package when it is
    # installed, and with a pure-Python loop otherwise (torch always uses the loop).
    machine_info["packages"] = {
        dist: _version(dist)
        for dist in ("ferroboard", "torch", "tensorboard", "tensorboardX", "numpy", "crc32c")
    }
