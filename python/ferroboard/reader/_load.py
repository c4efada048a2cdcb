"""Reading a log path through the Rust core, and the damage policy: a damaged file is
reported once (a warning naming the file, byte offset and kind of damage) and every valid
record is kept; ``strict=True`` raises instead on anything but a torn tail."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Optional

from .. import _core

#: Kinds of rows the core keeps (text comes from tensors, hparams from plugin metadata).
CORE_KINDS = ("scalars", "tensors", "histograms", "images", "audio")


class EventFileDamageError(ValueError):
    """An event file holds a record whose length or data checksum does not match."""


class EventFileDamageWarning(RuntimeWarning):
    """An event file is damaged; the valid records were kept."""


@dataclass(frozen=True)
class Damage:
    """One damaged region of an event file."""

    offset: int
    kind: str  # "torn tail", "bad length checksum" or "bad data checksum"
    skipped: int  # bytes skipped before the next valid record (or the end of the file)


@dataclass(frozen=True)
class FileReport:
    """What reading one event file found."""

    path: str
    dir_name: str
    file_name: str
    size: int
    records: int
    damage: tuple[Damage, ...]
    undecodable: tuple[int, ...]
    error: Optional[str]
    first_wall_time: Optional[float]
    last_wall_time: Optional[float]

    @property
    def torn_tail(self) -> bool:
        return any(d.kind == "torn tail" for d in self.damage)

    @property
    def corrupt(self) -> bool:
        """Damage other than a torn tail (which a live writer leaves as a matter of course)."""
        return (
            any(d.kind != "torn tail" for d in self.damage)
            or bool(self.undecodable)
            or self.error is not None
        )

    @property
    def clean(self) -> bool:
        return not self.damage and not self.undecodable and self.error is None

    def describe(self) -> str:
        parts = [f"{d.kind} at byte {d.offset} ({d.skipped} bytes skipped)" for d in self.damage]
        parts += [f"record at byte {o} is not an Event" for o in self.undecodable]
        if self.error is not None:
            parts.append(f"read error: {self.error}")
        return f"{self.path}: {'; '.join(parts)}; {self.records} valid records kept"


def _report(info: tuple[Any, ...]) -> FileReport:
    path, dir_name, name, size, records, damage, undecodable, error, first, last = info
    return FileReport(
        path=path,
        dir_name=dir_name,
        file_name=name,
        size=size,
        records=records,
        damage=tuple(Damage(o, k, s) for o, k, s in damage),
        undecodable=tuple(undecodable),
        error=error,
        first_wall_time=first,
        last_wall_time=last,
    )


def load(
    log_path: str | os.PathLike[str],
    kinds: Iterable[str],
    *,
    check_crc: bool = True,
    strict: bool = False,
    warn: bool = True,
) -> tuple[Any, list[FileReport]]:
    """Reads every event file under ``log_path``: ``(core LogData, one report per file)``."""
    data = _core.read_log(os.fspath(log_path), sorted(set(kinds)), check_crc)
    reports = [_report(data.file(i)) for i in range(len(data))]
    for r in reports:
        if strict and r.corrupt:
            raise EventFileDamageError(r.describe())
        if warn and not r.clean:
            warnings.warn(r.describe(), EventFileDamageWarning, stacklevel=3)
    return data, reports
