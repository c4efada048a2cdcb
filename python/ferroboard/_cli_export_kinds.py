"""``ferroboard export`` of the kinds other than scalars: tensors, histograms, text,
hparams, images and audio, as tables in the reader's row order (run, tag, step; ties in
the order the files were visited and the values written), with the columns and rules of
docs/reader.md ("Exporting every kind")."""

from __future__ import annotations

import json
import math
import os
import re
from typing import Any, Optional

import numpy as np

from ._cli_export import Table
from .reader._frames import TEXT_SUFFIX, FileRows
from .reader._values import tensor_array

#: Every kind ``export`` writes, in the order ``--kind all`` writes them.
KINDS = ("scalars", "tensors", "histograms", "text", "hparams", "images", "audio")


def _names(values: list[str]) -> tuple[str, np.ndarray, list[str]]:
    """A text column as indices into its distinct values (how the CSV writer takes it)."""
    index: dict[str, int] = {}
    codes = np.array([index.setdefault(v, len(index)) for v in values], np.uint32)
    return ("names", codes, list(index))


def _obj(values: list[Any]) -> tuple[str, Any, list[str]]:
    """A column of JSON values (lists, strings, numbers, None): JSON Lines and Parquet."""
    return ("obj", values, [])


def _matches(pattern: Optional[re.Pattern[str]], name: str) -> bool:
    return pattern is None or pattern.search(name) is not None


def _finite(x: Any) -> Any:
    return x if not isinstance(x, float) or math.isfinite(x) else None


class Rows:
    """The events of one kind from every file, filtered, in the reader's row order."""

    def __init__(
        self,
        data: Any,
        reports: list[Any],
        kind: str,
        run: Optional[re.Pattern[str]],
        tag: Optional[re.Pattern[str]],
    ) -> None:
        # (dir_name, tag, step, visit order, run, event)
        rows: list[tuple[str, str, int, int, str, Any]] = []
        for i, r in enumerate(reports):
            run_name = r.dir_name or "."
            if not _matches(run, run_name):
                continue
            file_rows = FileRows(data, i)
            if kind == "hparams":
                events = [(name, [value]) for name, value in file_rows.hparams()]
            else:
                events = file_rows.events(kind)
            for t, evs in events:
                if kind == "text" and t.endswith(TEXT_SUFFIX):
                    t = t[: -len(TEXT_SUFFIX)]
                if not _matches(tag, t):
                    continue
                for e in evs:
                    step = e["step"] if kind != "hparams" else 0
                    rows.append((r.dir_name, t, step, len(rows), run_name, e))
        rows.sort(key=lambda x: x[:4])
        self.run = [x[4] for x in rows]
        self.tag = [x[1] for x in rows]
        self.step = np.array([x[2] for x in rows], np.int64)
        self.events = [x[5] for x in rows]

    def head(self) -> tuple[list[str], list[tuple[str, Any, list[str]]]]:
        """The ``run, tag, step, wall_time`` columns."""
        wall = np.array([e["wall_time"] for e in self.events], np.float64)
        return (
            ["run", "tag", "step", "wall_time"],
            [_names(self.run), _names(self.tag), ("i64", self.step, []), ("f64", wall, [])],
        )


def tensor_table(rows: Rows, fmt: str) -> Table:
    """``dtype``, ``shape`` and the values, flattened in row-major order. JSON and Parquet:
    ``shape`` a list, ``values`` the list of numbers (``strings``: of texts, for string
    tensors: UTF-8, undecodable bytes replaced by U+FFFD). CSV: ``shape`` as ``2x3``
    (empty for a 0-d tensor), ``value`` the value of a one-element tensor, or the JSON
    text of the flat list otherwise."""
    header, columns = rows.head()
    dtypes: list[str] = []
    shapes: list[list[int]] = []
    values: list[Optional[list[Any]]] = []
    strings: list[Optional[list[str]]] = []
    for e in rows.events:
        arr = tensor_array(*e["tensor"])
        dtypes.append("string" if arr.dtype == object else str(arr.dtype))
        shapes.append(list(arr.shape))
        flat = arr.reshape(-1).tolist()
        if arr.dtype == object:
            values.append(None)
            strings.append([b.decode("utf-8", "replace") for b in flat])
        else:
            values.append([_finite(float(x.real if isinstance(x, complex) else x)) for x in flat])
            strings.append(None)
    header += ["dtype", "shape"]
    columns += [_names(dtypes)]
    if fmt == "csv":
        texts = []
        for v, s in zip(values, strings):
            items: list[Any] = v if v is not None else (s or [])
            if len(items) == 1:
                one = items[0]
                texts.append(one if isinstance(one, str) else "" if one is None else repr(one))
            else:
                texts.append(json.dumps(items))
        columns += [_names(["x".join(map(str, s)) for s in shapes]), _names(texts)]
        return Table([*header, "value"], columns)
    columns += [_obj(shapes), _obj(values), _obj(strings)]
    return Table([*header, "values", "strings"], columns)


def histogram_table(rows: Rows, fmt: str) -> Table:
    """JSON and Parquet: one row per histogram with its statistics and the lists ``limits``
    and ``counts``. CSV (long form): one row per bucket, ``limit`` (its right edge) and
    ``count``."""
    header, columns = rows.head()
    ev = rows.events
    if fmt != "csv":
        for k in ("min", "max", "num", "sum", "sum_squares"):
            header.append(k)
            columns.append(("f64", np.array([e[k] for e in ev], np.float64), []))
        header += ["limits", "counts"]
        columns += [
            _obj([[_finite(x) for x in e["limits"].tolist()] for e in ev]),
            _obj([[_finite(x) for x in e["counts"].tolist()] for e in ev]),
        ]
        return Table(header, columns)
    lengths = np.array([len(e["limits"]) for e in ev], np.int64)
    flat = {
        k: np.concatenate([e[k] for e in ev]) if ev else np.zeros(0) for k in ("limits", "counts")
    }
    repeated = []
    for kind, values, names in columns:
        repeated.append((kind, np.repeat(values, lengths), names))
    repeated += [("f64", flat["limits"], []), ("f64", flat["counts"], [])]
    return Table([*header, "limit", "count"], repeated)


def text_table(rows: Rows) -> Table:
    header, columns = rows.head()
    texts = []
    for e in rows.events:
        flat = tensor_array(*e["tensor"]).reshape(-1)
        texts.append(flat[0].decode("utf-8", "replace") if flat.size else "")
    return Table([*header, "value"], [*columns, _names(texts)])


def hparams_table(rows: Rows, fmt: str) -> Table:
    """``run, name, value``; CSV and Parquet carry the value as text (a string as itself,
    anything else as JSON: ``0.1``, ``true``), JSON Lines as the JSON value."""
    values = [e for e in rows.events]
    if fmt == "json":
        value_col = _obj(values)
    else:
        value_col = _names([v if isinstance(v, str) else json.dumps(v) for v in values])
    return Table(["run", "name", "value"], [_names(rows.run), _names(rows.tag), value_col])


def _media_ext(encoded: bytes, kind: str) -> str:
    if kind == "audio":
        return ".wav"
    for magic, ext in ((b"\x89PNG", ".png"), (b"GIF8", ".gif"), (b"\xff\xd8", ".jpg")):
        if encoded.startswith(magic):
            return ext
    return ".bin"


def _safe(part: str) -> str:
    """A run or tag as a relative path: its ``/`` kept as directories, nothing else that
    could leave the media directory."""
    parts = [re.sub(r"[^\w.\-]", "_", p) for p in part.split("/") if p not in ("", ".", "..")]
    return os.path.join(*parts) if parts else "_"


def media_table(rows: Rows, kind: str, media_dir: Optional[str]) -> Table:
    """Images and audio as metadata rows: ``width, height`` (images) or ``sample_rate,
    length_frames, content_type`` (audio), ``bytes`` (the encoded size) and ``file``: the
    file written under ``media_dir`` (``<run>/<tag>/<step>_<n>.png``, ``.wav``; relative to
    it), empty without one."""
    header, columns = rows.head()
    ev = rows.events
    if kind == "images":
        header += ["width", "height"]
        columns += [("i64", np.array([e[k] for e in ev], np.int64), []) for k in header[-2:]]
    else:
        header += ["sample_rate", "length_frames", "content_type"]
        columns += [
            ("f64", np.array([e["sample_rate"] for e in ev], np.float64), []),
            ("i64", np.array([e["length_frames"] for e in ev], np.int64), []),
            _names([e["content_type"] for e in ev]),
        ]
    files = []
    seen: dict[str, int] = {}
    for run, tag, step, e in zip(rows.run, rows.tag, rows.step.tolist(), ev):
        if media_dir is None:
            files.append("")
            continue
        stem = os.path.join(_safe(run), _safe(tag), str(step))
        n = seen.get(stem, 0)
        seen[stem] = n + 1
        rel = f"{stem}_{n}{_media_ext(e['encoded'], kind)}"
        target = os.path.join(media_dir, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(e["encoded"])
        files.append(rel)
    header += ["bytes", "file"]
    columns += [("i64", np.array([len(e["encoded"]) for e in ev], np.int64), []), _names(files)]
    return Table(header, columns)


def kind_table(
    data: Any,
    reports: list[Any],
    kind: str,
    fmt: str,
    run: Optional[re.Pattern[str]],
    tag: Optional[re.Pattern[str]],
    media_dir: Optional[str],
) -> Table:
    """The table ``export`` writes for ``kind`` (not scalars)."""
    rows = Rows(data, reports, kind, run, tag)
    if kind == "tensors":
        return tensor_table(rows, fmt)
    if kind == "histograms":
        return histogram_table(rows, fmt)
    if kind == "text":
        return text_table(rows)
    if kind == "hparams":
        return hparams_table(rows, fmt)
    if kind in ("images", "audio"):
        return media_table(rows, kind, media_dir)
    raise ValueError(f"kind: unknown kind {kind!r}")
