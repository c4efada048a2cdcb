"""Reading a log path for the command line: progress on stderr, and ``ls``'s summary."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from . import _core
from .reader._frames import HPARAMS_TAG
from .reader._load import CORE_KINDS, FileReport, _report

#: Scans shorter than this show no progress.
PROGRESS_AFTER_S = 0.5


def event_bytes(path: str) -> int:
    if os.path.isfile(path):
        return os.path.getsize(path)
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            if "tfevents" in f:
                try:
                    total += os.path.getsize(os.path.join(root, f))
                except OSError:
                    pass
    return total


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def read_with_progress(
    path: str,
    kinds: Iterable[str] = CORE_KINDS,
    *,
    check_crc: bool = True,
    quiet: bool = False,
    light: bool = False,
) -> tuple[Any, list[FileReport]]:
    """Reads ``path`` in the core on a thread while stderr shows how far it got.

    ``light``: every record framed and checked, but only the step, wall time, tag and
    plugin of each value read (no tensor, bucket or image decoded): what ``ls`` needs."""
    total = event_bytes(path)
    progress = _core.ReadProgress()
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["data"] = _core.read_log(
                path, sorted(set(kinds)), check_crc, progress, light=light
            )
        except BaseException as e:  # re-raised on the caller's thread
            result["error"] = e

    thread = threading.Thread(target=work, name="ferroboard-read", daemon=True)
    start = time.monotonic()
    thread.start()
    tty = sys.stderr.isatty()
    shown = False
    while thread.is_alive():
        thread.join(0.1)
        elapsed = time.monotonic() - start
        if quiet or elapsed < PROGRESS_AFTER_S or not thread.is_alive():
            continue
        done = progress.bytes
        if tty:
            frac = min(done / total, 1.0) if total else 0.0
            bar = "#" * int(frac * 30)
            sys.stderr.write(f"\rreading [{bar:<30}] {frac:4.0%} {_mb(done)} / {_mb(total)}")
            sys.stderr.flush()
        elif not shown:
            print(f"reading {_mb(total)} of event files under {path} ...", file=sys.stderr)
        shown = True
    if shown and not quiet:
        if tty:
            sys.stderr.write("\r" + " " * 72 + "\r")
        print(f"read {_mb(total)} in {time.monotonic() - start:.1f} s", file=sys.stderr)
    if "error" in result:
        raise result["error"]
    data = result["data"]
    return data, [_report(data.file(i)) for i in range(len(data))]


@dataclass
class TagSummary:
    """What ``ls`` prints for one tag of one run."""

    run: str
    kind: str
    tag: str
    points: int
    first_step: Optional[int]  # None for hparams: the light scan keeps only their content
    last_step: Optional[int]
    first_wall: Optional[float]
    last_wall: Optional[float]
    detail: str = ""  # hparams: "name=value, ..." of the session start

    def merge(self, other: TagSummary) -> None:
        self.points += other.points
        self.first_step = _either(min, self.first_step, other.first_step)
        self.last_step = _either(max, self.last_step, other.last_step)
        self.first_wall = _either(min, self.first_wall, other.first_wall)
        self.last_wall = _either(max, self.last_wall, other.last_wall)
        if other.detail and other.detail not in self.detail.split("; "):
            self.detail = f"{self.detail}; {other.detail}" if self.detail else other.detail


def _either(pick: Any, a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else pick(a, b)


def _hparams(run: str, names: list[str], plugins: list[tuple[int, str, bytes]]) -> list:
    """The hparams a file's session start records, as one ``ls`` row."""
    out = []
    for t, plugin, content in plugins:
        if plugin == "hparams" and names[t] == HPARAMS_TAG:
            values = _core.hparams_session_start(content) or []
            detail = ", ".join(f"{k}={v}" for k, v in values)
            out.append(TagSummary(run, "hparams", names[t], 1, None, None, None, None, detail))
    return out


def _group(
    run: str, kind: str, names: list[str], tag: np.ndarray, step: np.ndarray, wall: np.ndarray
) -> list[TagSummary]:
    out = []
    for t in np.unique(tag):
        m = tag == t
        s, w = step[m], wall[m]
        out.append(
            TagSummary(
                run,
                kind,
                names[int(t)],
                int(m.sum()),
                int(s.min()),
                int(s.max()),
                float(w.min()),
                float(w.max()),
            )
        )
    return out


def summarize(data: Any, reports: list[FileReport]) -> list[TagSummary]:
    """Points, step range and wall-time range per (run, kind, tag), runs sorted."""
    merged: dict[tuple[str, str, str], TagSummary] = {}
    for i, r in enumerate(reports):
        run = r.dir_name or "."
        names = data.tags(i)
        plugin_of = {t: p for t, p, _ in data.plugins(i)}
        found: list[TagSummary] = []
        step, wall, _, tag, _ = data.scalars(i)
        found += _group(
            run,
            "scalars",
            names,
            np.frombuffer(tag, np.uint32),
            np.frombuffer(step, np.int64),
            np.frombuffer(wall, np.float64),
        )
        h = data.histograms(i)
        found += _group(
            run,
            "histograms",
            names,
            np.frombuffer(h["tag"], np.uint32),
            np.frombuffer(h["step"], np.int64),
            np.frombuffer(h["wall"], np.float64),
        )
        for kind, getter in (
            ("images", data.images),
            ("audio", data.audio),
            ("tensors", data.tensors),
        ):
            rows, _ = getter(i)
            if not rows:
                continue
            steps = np.array([row[0] for row in rows], np.int64)
            walls = np.array([row[1] for row in rows], np.float64)
            tags = np.array([row[2] for row in rows], np.uint32)
            for s in _group(run, kind, names, tags, steps, walls):
                if kind == "tensors":
                    tag_id = names.index(s.tag)
                    s.kind = plugin_of.get(tag_id, "tensors")
                found.append(s)
        found += _hparams(run, names, data.plugins(i))
        for s in found:
            key = (s.run, s.kind, s.tag)
            if key in merged:
                merged[key].merge(s)
            else:
                merged[key] = s
    return [merged[k] for k in sorted(merged)]


def format_wall(t: Optional[float]) -> str:
    if t is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))
