"""Helpers of the benchmark suite (the fixtures that use them are in conftest.py).

Every benchmark is parametrized over the writer (ferroboard | torch | tensorboardX) and
uses ``benchmark.pedantic`` with a fresh writer in a fresh logdir per round: the writer is
made in ``setup`` (not timed) and closed and deleted in ``teardown`` (not timed). In the
end-to-end benchmarks ``close()`` is part of the timed function.

Each benchmark records in ``extra_info`` (see `record`):

* ``case``: the row of the report (also the pytest-benchmark group);
* ``writer``: which writer ran;
* ``units`` and ``unit``: how many calls/events/steps one round does, so that
  ``median / units`` is the time per call (benches/report.py divides).

Set ``FERROBOARD_BENCH_QUICK=1`` for a smoke run (fewer rounds and calls; the numbers
are then only a check that the suite works).
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
from pathlib import Path
from typing import Any, Callable

import numpy as np

WRITERS = ("ferroboard", "torch", "tensorboardX")

QUICK = os.environ.get("FERROBOARD_BENCH_QUICK", "") not in ("", "0")


def build_dirs(parser: argparse.ArgumentParser, specs: list[str], taken: Any) -> dict[str, str]:
    """``--build LABEL=DIR`` options (another build's ``python/``), by label; a label in
    `taken` (the scripts' own variants), a missing directory or a malformed spec is a
    usage error."""
    builds: dict[str, str] = {}
    for spec in specs:
        label, sep, path = spec.partition("=")
        if not sep or not label or not os.path.isdir(path) or label in taken:
            parser.error(
                f"--build: expected LABEL=DIR with a new label and a directory, got {spec!r}"
            )
        builds[label] = path
    return builds


def rounds(writer: str, ferroboard: int, anchor: int) -> int:
    """Rounds for `writer`: the anchors are 10-1000x slower, so they get fewer."""
    n = ferroboard if writer == "ferroboard" else anchor
    return min(n, 2) if QUICK else n


def scaled(n: int) -> int:
    """A call count, cut 10x in quick mode."""
    return max(1, n // 10) if QUICK else n


def record(benchmark: Any, case: str, writer: str, units: int, unit: str, **extra: Any) -> None:
    """Names the report row this benchmark belongs to (see the module docstring)."""
    benchmark.group = case
    benchmark.extra_info.update(case=case, writer=writer, units=units, unit=unit, **extra)


def writer_class(name: str) -> Any:
    if name == "ferroboard":
        from ferroboard import SummaryWriter
    elif name == "torch":
        from torch.utils.tensorboard import SummaryWriter
    elif name == "tensorboardX":
        from tensorboardX import SummaryWriter
    else:  # pragma: no cover - a typo in a parametrization
        raise ValueError(f"unknown writer {name!r}")
    return SummaryWriter


class Logdirs:
    """Fresh, empty run directories under one session directory, deleted after use."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self._counter = itertools.count()

    def fresh(self) -> str:
        path = self.base / f"run{next(self._counter):05d}"
        path.mkdir()
        return str(path)

    @staticmethod
    def discard(path: str) -> None:
        shutil.rmtree(path, ignore_errors=True)


class Writers:
    """Makes writers of one kind in fresh logdirs, for pedantic's setup and teardown."""

    def __init__(self, name: str, logdirs: Logdirs) -> None:
        self.name = name
        self.cls = writer_class(name)
        self.logdirs = logdirs
        self._logdir_of: dict[int, str] = {}

    def new(self) -> Any:
        """A writer on a fresh logdir (remembered, so `dispose` can delete the directory)."""
        logdir = self.logdirs.fresh()
        writer = self.cls(logdir)
        self._logdir_of[id(writer)] = logdir
        return writer

    def dispose(self, writer: Any) -> None:
        """Closes `writer` (a no-op if the timed part closed it) and deletes its logdir."""
        writer.close()
        self.logdirs.discard(self._logdir_of.pop(id(writer)))

    def setup(self, *extra: Any) -> Callable[[], tuple[tuple, dict]]:
        """A pedantic `setup`: a fresh writer as first argument, then `extra`."""

        def make() -> tuple[tuple, dict]:
            return (self.new(), *extra), {}

        return make

    def teardown(self, writer: Any, *_extra: Any) -> None:
        """A pedantic `teardown` matching `setup`."""
        self.dispose(writer)

    def warm_up(self) -> None:
        """First calls import modules and build tables (torch's default bins, protobuf
        descriptors, tensorboardX's Comet hook): keep that out of every measurement."""
        writer = self.new()
        writer.add_scalar("warm/scalar", 1.0, 0)
        writer.add_histogram("warm/hist", np.arange(1000, dtype=np.float32), 0)
        writer.flush()
        self.dispose(writer)
