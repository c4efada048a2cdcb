"""``ferroboard export``: every scalar of every run as one table, long or wide, optionally
aggregated over runs, and the tables of the other kinds (``_cli_export_kinds``), written as
CSV (by the core), JSON Lines or Parquet."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from . import _core

AGGREGATES = ("mean", "std", "min", "max", "count")


class ExportError(ValueError):
    """A usage error of ``export`` (bad pattern, format or option combination)."""


@dataclass
class Table:
    """Columns in order; a column is ``(kind, values, names)`` with kind ``i64``, ``f64``,
    ``f32``, ``names`` (``values`` are indices into ``names``) or ``obj`` (``values`` a list
    of JSON values: lists, strings, numbers, None; JSON Lines and Parquet only)."""

    header: list[str]
    columns: list[tuple[str, Any, list[str]]]

    def __len__(self) -> int:
        return len(self.columns[0][1]) if self.columns else 0


def pattern(option: str, text: Optional[str]) -> Optional[re.Pattern[str]]:
    """``--run`` / ``--tag``'s regular expression."""
    if text is None:
        return None
    try:
        return re.compile(text)
    except re.error as e:
        raise ExportError(f"--{option}: invalid regular expression {text!r}: {e}") from e


def scalars(data: Any, files: int, run: Optional[str], tag: Optional[str]) -> dict[str, Any]:
    """The scalars sorted by run, tag, step, filtered by the two patterns."""
    # The export reads the scalars once: the core frees its per-file columns as soon as
    # the table holds them.
    (step, value, wall, tag_c, dir_c, _, tags, dirs, _) = data.scalar_table(
        list(range(files)), True, False, release=True
    )
    cols: dict[str, np.ndarray] = {
        "step": np.frombuffer(step, np.int64),
        "value": np.frombuffer(value, np.float64),
        "wall_time": np.frombuffer(wall, np.float64),
        "tag": np.frombuffer(tag_c, np.uint32),
        "run": np.frombuffer(dir_c, np.uint32),
    }
    runs = [d or "." for d in dirs]
    keep = np.ones(len(cols["step"]), dtype=np.bool_)
    for name, text, names in (("run", run, runs), ("tag", tag, tags)):
        rx = pattern(name, text)
        if rx is None:
            continue
        ok = np.array([rx.search(n) is not None for n in names] or [False], dtype=np.bool_)
        keep = keep & ok[cols[name]]
    if not keep.all():
        cols = {k: v[keep] for k, v in cols.items()}
    out: dict[str, Any] = dict(cols)
    out["tags"], out["runs"] = tags, runs
    return out


def long_table(c: dict[str, Any]) -> Table:
    return Table(
        ["run", "tag", "step", "wall_time", "value"],
        [
            ("names", c["run"], c["runs"]),
            ("names", c["tag"], c["tags"]),
            ("i64", c["step"], []),
            ("f64", c["wall_time"], []),
            ("f32", c["value"], []),
        ],
    )


def _keys(*arrays: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Unique rows of the key columns (sorted) and each input row's index among them."""
    if len(arrays[0]) == 0:
        return [a[:0] for a in arrays], np.zeros(0, np.int64)
    order = np.lexsort(arrays[::-1])
    sorted_keys = [a[order] for a in arrays]
    new = np.ones(len(order), bool)
    new[1:] = np.any([k[1:] != k[:-1] for k in sorted_keys], axis=0)
    group = np.cumsum(new) - 1
    inverse = np.empty(len(order), np.int64)
    inverse[order] = group
    return [k[new] for k in sorted_keys], inverse


def wide_table(c: dict[str, Any]) -> Table:
    """One row per (run, step): its latest wall time and one column per tag (the last value
    written for that run, step and tag; empty where there is none)."""
    (run, step), row = _keys(c["run"].astype(np.int64), c["step"])
    used = np.unique(c["tag"])
    col_of = np.full(len(c["tags"]) or 1, -1, np.int64)
    col_of[used] = np.arange(len(used))
    matrix = np.full((len(step), len(used)), np.nan)
    matrix[row, col_of[c["tag"]]] = c["value"]  # rows in file order: the last one stays
    wall = np.full(len(step), -np.inf)
    np.maximum.at(wall, row, c["wall_time"])
    header = ["step", "wall_time"] + [c["tags"][t] for t in used]
    columns: list[tuple[str, np.ndarray, list[str]]] = [("i64", step, []), ("f64", wall, [])]
    columns += [("f32", matrix[:, k].copy(), []) for k in range(len(used))]
    if len(set(run.tolist())) > 1:
        header.insert(0, "run")
        columns.insert(0, ("names", run.astype(np.uint32), c["runs"]))
    return Table(header, columns)


def aggregate_table(c: dict[str, Any], ops: list[str], wide: bool) -> Table:
    """Per tag and step, statistics over the runs (each run's last value at that step)."""
    (tag, step, run), idx = _keys(c["tag"].astype(np.int64), c["step"], c["run"].astype(np.int64))
    last = np.empty(len(tag))
    last[idx] = c["value"]  # the last value of a run at a step wins
    (gtag, gstep), g = _keys(tag, step)
    n = np.bincount(g, minlength=len(gtag)).astype(np.float64)
    total = np.bincount(g, weights=last, minlength=len(gtag))
    mean = total / n
    stats = {
        "mean": mean,
        "std": np.sqrt(
            np.maximum(np.bincount(g, weights=(last - mean[g]) ** 2, minlength=len(gtag)) / n, 0.0)
        ),
        "min": np.full(len(gtag), np.inf),
        "max": np.full(len(gtag), -np.inf),
        "count": n,
    }
    np.minimum.at(stats["min"], g, last)
    np.maximum.at(stats["max"], g, last)
    if not wide:
        columns: list[tuple[str, np.ndarray, list[str]]] = [
            ("names", gtag.astype(np.uint32), c["tags"]),
            ("i64", gstep, []),
        ]
        columns += [
            (
                "i64" if op == "count" else "f64",
                stats[op].astype(np.int64) if op == "count" else stats[op],
                [],
            )
            for op in ops
        ]
        return Table(["tag", "step", *ops], columns)
    (wstep,), row = _keys(gstep)
    used = np.unique(gtag)
    header = ["step"]
    columns = [("i64", wstep, [])]
    for t in used:
        m = gtag == t
        for op in ops:
            col = np.full(len(wstep), np.nan)
            col[row[m]] = stats[op][m]
            header.append(f"{c['tags'][t]}/{op}")
            columns.append(("f64", col, []))
    return Table(header, columns)


def _arrow_type(pa: Any, values: list[Any]) -> Any:
    """The Arrow type of an ``obj`` column: lists of doubles, lists of strings or lists of
    integers (shapes); None where the column is all nulls (Arrow infers the rest)."""
    for v in values:
        if isinstance(v, list):
            for x in v:
                if isinstance(x, str):
                    return pa.list_(pa.string())
                if isinstance(x, float):
                    return pa.list_(pa.float64())
    if values and all(isinstance(v, list) for v in values):
        return pa.list_(pa.int64())
    return None


def write(table: Table, path: str, fmt: str) -> int:
    if fmt == "csv":
        if any(kind == "obj" for kind, _, _ in table.columns):
            raise ValueError("a list column cannot be written as CSV")
        cols = [
            (
                kind,
                np.ascontiguousarray(v).tobytes()
                if kind != "names"
                else np.ascontiguousarray(v, np.uint32).tobytes(),
                names,
            )
            for kind, v, names in table.columns
        ]
        return int(_core.write_csv(path, table.header, cols))
    if fmt == "parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as e:
            raise ExportError("Parquet output needs pyarrow: pip install pyarrow") from e
        arrays = []
        for kind, v, names in table.columns:
            if kind == "names":
                arrays.append(
                    pa.DictionaryArray.from_arrays(
                        pa.array(v.astype(np.int32)), pa.array(names, pa.string())
                    )
                )
            elif kind == "f32":
                arrays.append(pa.array(v.astype(np.float32)))
            elif kind == "obj":
                arrays.append(pa.array(v, _arrow_type(pa, v)))
            else:
                arrays.append(pa.array(v))
        pq.write_table(pa.table(arrays, names=table.header), path)
        return len(table)
    if fmt == "json":
        lists = []
        for kind, v, names in table.columns:
            if kind == "names":
                lists.append([names[i] for i in v.tolist()])
            elif kind == "f32":
                # str() of a float32 is its shortest text, "0.1" rather than 0.10000000149.
                lists.append(
                    [float(str(np.float32(x))) if math.isfinite(x) else None for x in v.tolist()]
                )
            elif kind == "f64":
                lists.append([x if math.isfinite(x) else None for x in v.tolist()])
            elif kind == "obj":
                lists.append(v)
            else:
                lists.append(v.tolist())
        with open(path, "w", encoding="utf-8") as f:
            for row in zip(*lists):
                f.write(json.dumps(dict(zip(table.header, row)), allow_nan=False))
                f.write("\n")
        return len(table)
    raise ExportError(f"--format: unknown format {fmt!r}; choose csv, json or parquet")
