"""Shared fixtures: write the same calls with torch's writer and ferroboard's, compare."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Callable, Optional

import ferroboard
import pytest
from eventfiles import assert_logdirs_equal, events_of
from torch.utils.tensorboard import SummaryWriter as TorchSummaryWriter

Calls = Callable[[Any], None]


class Parity:
    """Runs `calls(writer)` against torch's writer and ferroboard's, each in its own
    fresh log directory, closes both, and compares the directories event by event."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._ids = itertools.count()

    def dirs(self) -> tuple[Path, Path]:
        n = next(self._ids)
        return self.root / f"torch{n}", self.root / f"ferro{n}"

    def check(
        self,
        calls: Calls,
        torch_calls: Optional[Calls] = None,
        *,
        compare_wall_time: bool = False,
        **writer_kwargs: Any,
    ) -> tuple[dict, dict]:
        """Returns (ferroboard's, torch's) decoded logdirs: run -> files -> events.

        `torch_calls` replaces `calls` for torch when torch needs another spelling of
        the same input (e.g. an ndarray where ferroboard is also given a list).
        """
        torch_dir, ferro_dir = self.dirs()
        with TorchSummaryWriter(str(torch_dir), **writer_kwargs) as w:
            (torch_calls or calls)(w)
        with ferroboard.SummaryWriter(str(ferro_dir), **writer_kwargs) as w:
            calls(w)
        return assert_logdirs_equal(ferro_dir, torch_dir, compare_wall_time=compare_wall_time)

    def ferro_events(self, calls: Calls, run: str = ".", **writer_kwargs: Any) -> list:
        """Events ferroboard writes for `calls` (for documented deviations)."""
        _, ferro_dir = self.dirs()
        with ferroboard.SummaryWriter(str(ferro_dir), **writer_kwargs) as w:
            calls(w)
        return events_of(ferro_dir, run)

    def torch_events(self, calls: Calls, run: str = ".", **writer_kwargs: Any) -> list:
        """Events torch writes for `calls` (the oracle of deviation tests)."""
        torch_dir, _ = self.dirs()
        with TorchSummaryWriter(str(torch_dir), **writer_kwargs) as w:
            calls(w)
        return events_of(torch_dir, run)


@pytest.fixture
def parity(tmp_path: Path) -> Parity:
    return Parity(tmp_path)
