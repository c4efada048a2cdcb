"""``read_events(path)``: the decoded events of one event file, one at a time."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

from .. import _core
from ._load import EventFileDamageError, EventFileDamageWarning
from ._values import tensor_array


class EventRecord(NamedTuple):
    """One value of one event (an event with several summary values gives several).

    ``kind`` is ``scalar`` (value: float), ``histogram`` (dict with ``limits``, ``counts``
    arrays and ``min, max, num, sum, sum_squares``), ``image`` (dict: ``width, height,
    colorspace, encoded``), ``audio`` (dict: ``sample_rate, num_channels, length_frames,
    content_type, encoded``), ``tensor`` (numpy array), or for events without a summary
    ``file_version``, ``session_log``, ``graph_def``, ``meta_graph_def``, ``log_message``,
    ``tagged_run_metadata``; ``tag`` and ``plugin`` are ``""`` where there is none.
    """

    offset: int
    wall_time: float
    step: int
    kind: str
    tag: str
    value: Any
    plugin: str


def _summary_value(kind: str, value: Any) -> Any:
    if kind == "histogram":
        out = dict(value)
        out["limits"] = np.frombuffer(value["limits"], dtype=np.float64)
        out["counts"] = np.frombuffer(value["counts"], dtype=np.float64)
        return out
    if kind == "image":
        w, h, cs, enc = value
        return {"width": w, "height": h, "colorspace": cs, "encoded": enc}
    if kind == "audio":
        rate, ch, frames, ctype, enc = value
        return {
            "sample_rate": rate,
            "num_channels": ch,
            "length_frames": frames,
            "content_type": ctype,
            "encoded": enc,
        }
    if kind == "tensor":
        return tensor_array(*value)
    return value


def read_events(
    path: str | os.PathLike[str], *, strict: bool = False, check_crc: bool = True
) -> Iterator[EventRecord]:
    """Yields the records of the event file ``path`` in file order, streaming.

    Damaged regions are skipped and reported once, at the end, with a warning naming the
    file, byte offset and kind of damage; ``strict=True`` raises ``EventFileDamageError``
    at the first damage other than a torn tail.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a path to an event file, got {path!r}")
    p = os.fspath(path)
    if os.path.isdir(p):
        raise ValueError(f"path: {p} is a directory; read_events reads one event file")
    it = _core.iter_events(p, check_crc)
    seen = 0
    for offset, wall, step, what, value in it:
        damage = it.damage
        if strict and len(damage) > seen:
            for o, k, _ in damage[seen:]:
                if k != "torn tail":
                    raise EventFileDamageError(f"{p}: {k} at byte {o}")
            seen = len(damage)
        if what == "summary":
            for tag, kind, v, plugin in value:
                yield EventRecord(offset, wall, step, kind, tag, _summary_value(kind, v), plugin)
        elif what == "undecodable":
            if strict:
                raise EventFileDamageError(f"{p}: record at byte {offset} is not an Event")
            warnings.warn(
                f"{p}: record at byte {offset} is not an Event",
                EventFileDamageWarning,
                stacklevel=2,
            )
        else:
            yield EventRecord(offset, wall, step, what, "", value, "")
    damage = it.damage
    if strict:
        for o, k, _ in damage:
            if k != "torn tail":
                raise EventFileDamageError(f"{p}: {k} at byte {o}")
    if damage:
        desc = "; ".join(f"{k} at byte {o} ({s} bytes skipped)" for o, k, s in damage)
        warnings.warn(f"{p}: {desc}", EventFileDamageWarning, stacklevel=2)
