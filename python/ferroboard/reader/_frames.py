"""DataFrames with tbparse's columns, dtypes and row order.

Each event file gives one frame (tags in order of first appearance, the rows of a tag in
file order), and each directory stacks its entries' frames in sorted name order and sorts
them by ``[dir_name, file_name]`` (when asked for), ``tag`` and ``step``; with
``pivot=True`` each directory also merges the rows of one step into one (several values
become a list). The long-format scalars, the bulk of most logs, skip the per-file frames:
the core returns them already in that order (a stable sort over the same stacking)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from ._values import decode_image, decode_wav, tensor_array, tensor_value

TEXT_SUFFIX = "/text_summary"
HPARAMS_TAG = "_hparams_/session_start_info"
TAIL_COLUMNS = ("wall_time", "dir_name", "file_name")


def pandas() -> Any:
    try:
        import pandas as pd
    except ImportError as e:
        raise ModuleNotFoundError(
            "SummaryReader's DataFrames need pandas: pip install pandas (without it, "
            "SummaryReader.scalars_arrays() returns the same data as numpy arrays)"
        ) from e
    return pd


def string_column(pd: Any, codes: np.ndarray, names: list[str]) -> Any:
    """``names[codes]`` as the column pandas makes of a list of str (``str`` dtype under
    pandas 3, object before), without a Python object per row where pyarrow can help."""
    if pd.get_option("future.infer_string"):
        try:
            import pyarrow as pa
            import pyarrow.compute as pc
        except ImportError:
            pass
        else:
            taken = pc.take(pa.array(names, type=pa.large_string()), pa.array(codes))
            column = pd.Series(taken.to_pandas())
            if column.dtype == pd.Series([""]).dtype:
                return column
    return pd.Series(np.array(names, dtype=object)[codes])


class FileRows:
    """The rows of one event file, per kind, in tbparse's per-file order."""

    def __init__(self, data: Any, index: int) -> None:
        self.data = data
        self.index = index
        self.tags: list[str] = data.tags(index)
        self.plugins: list[tuple[int, str, bytes]] = data.plugins(index)

    def plugin_tags(self, plugin: str) -> list[int]:
        return [t for t, p, _ in self.plugins if p == plugin]

    def kind_tags(self, kind: str) -> list[str]:
        """tbparse's per-file tag list of ``kind``."""
        if kind == "hparams":
            return [name for name, _ in self.hparams()]
        if kind == "text":
            return [self.tags[t] for t in self.plugin_tags("text")]
        if kind == "tensors":
            skip = set(self.plugin_tags("text")) | set(self.plugin_tags("hparams"))
            _, order = self.data.tensors(self.index)
            return [self.tags[t] for t in order if t not in skip]
        if kind == "scalars":
            order = self.data.scalar_order(self.index)
        elif kind == "histograms":
            order = self.data.histograms(self.index)["order"]
        elif kind in ("images", "audio"):
            order = getattr(self.data, kind)(self.index)[1]
        else:
            raise ValueError(kind)
        return [self.tags[t] for t in order]

    def hparams(self) -> list[tuple[str, Any]]:
        from .. import _core

        for t, plugin, content in self.plugins:
            if plugin == "hparams" and self.tags[t] == HPARAMS_TAG:
                return _core.hparams_session_start(content) or []
        return []

    def events(self, kind: str) -> list[tuple[str, list[dict[str, Any]]]]:
        """``[(tag, [event fields, ...]), ...]`` in tbparse's order (not for scalars)."""
        out: dict[int, list[dict[str, Any]]] = {}
        order: list[int]
        if kind in ("tensors", "text"):
            rows, all_order = self.data.tensors(self.index)
            if kind == "text":
                order = self.plugin_tags("text")
            else:
                skip = set(self.plugin_tags("text")) | set(self.plugin_tags("hparams"))
                order = [t for t in all_order if t not in skip]
            wanted = set(order)
            for step, wall, tag, dtype, shape, data, strings in rows:
                if tag in wanted:
                    out.setdefault(tag, []).append(
                        {"step": step, "wall_time": wall, "tensor": (dtype, shape, data, strings)}
                    )
        elif kind == "histograms":
            h = self.data.histograms(self.index)
            order = h["order"]
            cols = {
                k: np.frombuffer(h[k], dtype=np.float64)
                for k in ("wall", "min", "max", "num", "sum", "sum_squares", "limits", "counts")
            }
            steps = np.frombuffer(h["step"], dtype=np.int64)
            tags = np.frombuffer(h["tag"], dtype=np.uint32)
            starts = np.frombuffer(h["start"], dtype=np.uint64).tolist()
            ends = np.frombuffer(h["end"], dtype=np.uint64).tolist()
            for r in range(len(steps)):
                a, b = starts[r], ends[r]
                out.setdefault(int(tags[r]), []).append(
                    {
                        "step": int(steps[r]),
                        "wall_time": float(cols["wall"][r]),
                        "counts": cols["counts"][a:b].copy(),
                        "limits": cols["limits"][a:b].copy(),
                        "max": float(cols["max"][r]),
                        "min": float(cols["min"][r]),
                        "num": float(cols["num"][r]),
                        "sum": float(cols["sum"][r]),
                        "sum_squares": float(cols["sum_squares"][r]),
                    }
                )
        elif kind == "images":
            rows, order = self.data.images(self.index)
            for step, wall, tag, width, height, _cs, encoded in rows:
                out.setdefault(tag, []).append(
                    {
                        "step": step,
                        "wall_time": wall,
                        "width": width,
                        "height": height,
                        "encoded": encoded,
                    }
                )
        elif kind == "audio":
            rows, order = self.data.audio(self.index)
            for step, wall, tag, rate, frames, _ch, ctype, encoded in rows:
                out.setdefault(tag, []).append(
                    {
                        "step": step,
                        "wall_time": wall,
                        "sample_rate": rate,
                        "length_frames": frames,
                        "content_type": ctype,
                        "encoded": encoded,
                    }
                )
        elif kind == "scalars":
            step, wall, value, tag, order = self.data.scalars(self.index)
            steps = np.frombuffer(step, dtype=np.int64).tolist()
            walls = np.frombuffer(wall, dtype=np.float64).tolist()
            values = np.frombuffer(value, dtype=np.float64).tolist()
            tags = np.frombuffer(tag, dtype=np.uint32).tolist()
            for s, w, v, t in zip(steps, walls, values, tags):
                out.setdefault(t, []).append({"step": s, "wall_time": w, "value": v})
        else:
            raise ValueError(kind)
        return [(self.tags[t], out.get(t, [])) for t in order]


def leaf_frame(rows: FileRows, kind: str, extra: set[str], pivot: bool) -> Any:
    """One file's frame, built as tbparse builds it."""
    pd = pandas()
    if kind == "hparams":
        tag_events: list[tuple[str, list[Any]]] = [(k, [v]) for k, v in rows.hparams()]
    else:
        tag_events = rows.events(kind)
        if kind == "text":
            tag_events = [
                (t[: -len(TEXT_SUFFIX)] if t.endswith(TEXT_SUFFIX) else t, ev)
                for t, ev in tag_events
            ]
    n = sum(len(ev) for _, ev in tag_events)
    cols: dict[str, list[Any]] = defaultdict(lambda: [np.nan] * n)
    if "dir_name" in extra:
        cols["dir_name"] = [""] * n
    if "file_name" in extra:
        cols["file_name"] = [rows.data.file(rows.index)[2]] * n
    if "wall_time" in extra and kind != "hparams":
        cols["wall_time"] = [e["wall_time"] for _, ev in tag_events for e in ev]
    idx = 0
    for tag, events in tag_events:
        for e in events:
            if kind == "hparams":
                fields: dict[str, Any] = {}
                value = e
            else:
                cols["step"][idx] = e["step"]
                fields, value = _fields(kind, e, extra)
            if kind == "histograms":
                if not pivot:
                    cols["tag"][idx] = tag
                for k, v in fields.items():
                    cols[k if not pivot else f"{tag}/{k}"][idx] = v
            else:
                if pivot:
                    cols[tag][idx] = value
                else:
                    cols["tag"][idx] = tag
                    cols["value"][idx] = value
                for k, v in fields.items():
                    cols[k if not pivot else f"{tag}/{k}"][idx] = v
            idx += 1
    for c in TAIL_COLUMNS:
        if c in cols:
            cols[c] = cols.pop(c)
    return pd.DataFrame.from_dict(cols)


def _fields(kind: str, e: dict[str, Any], extra: set[str]) -> tuple[dict[str, Any], Any]:
    """(extra per-row columns, value) of one event."""
    if kind == "scalars":
        return {}, e["value"]
    if kind == "tensors":
        return {}, tensor_value(*e["tensor"])
    if kind == "text":
        return {}, tensor_array(*e["tensor"]).item().decode("utf-8")
    if kind == "histograms":
        wanted = extra | {"limits", "counts"}
        keys = ("counts", "limits", "max", "min", "num", "sum", "sum_squares")
        return {k: e[k] for k in keys if k in wanted}, None
    if kind == "images":
        f: dict[str, Any] = {k: e[k] for k in ("height", "width") if k in extra}
        return f, decode_image(e["encoded"])
    if kind == "audio":
        audio_keys = ("content_type", "length_frames", "sample_rate")
        return {k: e[k] for k in audio_keys if k in extra}, decode_wav(e["encoded"])
    raise ValueError(kind)


def _merge_values(s: Any) -> Any:
    """Several values of one pivoted cell: NaNs dropped, the rest concatenated."""
    pd = pandas()
    if len(s) == 1:
        return s.iloc[0]
    out: list[Any] = []
    for x in s:
        if isinstance(x, list):
            out.extend(x)
        elif np.isscalar(x):
            if not pd.isnull(x):
                out.append(x)
        else:
            out.append(x)
    if not out:
        return np.nan
    return out[0] if len(out) == 1 else out


def finish(frames: list[Any], extra: set[str], pivot: bool) -> Any:
    """Stacks the frames of one directory's entries, sorts them and (pivot) merges steps."""
    pd = pandas()
    if not frames:
        return pd.DataFrame()
    stacked = pd.concat(frames, ignore_index=True)
    if stacked.empty:
        return pd.DataFrame()
    group: list[str] = [c for c in ("dir_name", "file_name") if c in extra]
    if not pivot:
        group.append("tag")
    group.append("step")
    group = [c for c in group if c in stacked.columns]
    stacked = stacked.sort_values(group, ignore_index=True)
    if not pivot:
        return stacked
    keys: Any = group if group else [True] * len(stacked)
    merged = stacked.groupby(keys, sort=False).aggregate(_merge_values)
    merged = merged.reset_index()
    middle = sorted(c for c in stacked.columns if c not in ("step", *TAIL_COLUMNS))
    columns = [c for c in ["step", *middle, *TAIL_COLUMNS] if c in stacked.columns]
    return merged[columns]


class Tree:
    """Event files grouped by directory, entries in sorted name order."""

    def __init__(self) -> None:
        self.entries: dict[str, Any] = {}  # name → Tree or file index

    def add(self, dir_name: str, name: str, index: int) -> None:
        node = self
        for part in [p for p in dir_name.split("/") if p]:
            node = node.entries.setdefault(part, Tree())
        node.entries[name] = index

    def frame(self, make_leaf: Any, extra: set[str], pivot: bool) -> Any:
        frames = []
        for name in sorted(self.entries):
            entry = self.entries[name]
            if isinstance(entry, Tree):
                df = entry.frame(make_leaf, extra, pivot)
                if "dir_name" in df:
                    empty = df["dir_name"] == ""
                    df.loc[empty, "dir_name"] = name
                    df.loc[~empty, "dir_name"] = name + "/" + df.loc[~empty, "dir_name"]
            else:
                df = finish([make_leaf(entry)], extra, pivot)
            frames.append(df)
        return finish(frames, extra, pivot)


def _bucket_cells(flat: np.ndarray, starts: list[int], ends: list[int]) -> np.ndarray:
    """One array per row, each a view of ``flat``; filled one by one, since numpy would
    turn a list of equal-length arrays into a 2-d array."""
    cells = np.empty(len(starts), dtype=object)
    for j, (a, b) in enumerate(zip(starts, ends)):
        cells[j] = flat[a:b]
    return cells


def histogram_frame(data: Any, files: list[tuple[int, str, str]], extra: set[str]) -> Any:
    """The long-format histograms of ``files`` (``(index, dir_name, file_name)``, in visiting
    order) as tbparse's frame, built from whole columns: one stable sort over the stacked
    files gives the row order that sorting directory by directory gives.

    The bucket arrays of the rows are views of each file's flat buffers, which the core
    built and hands over without a copy (docs/reader.md, "Memory")."""
    pd = pandas()
    parts: dict[str, list[np.ndarray]] = defaultdict(list)
    tag_names: list[str] = []
    tag_code: dict[str, int] = {}
    dirs: list[str] = []
    names: list[str] = []
    for i, dir_name, file_name in files:
        h = data.histograms(i)
        steps = np.frombuffer(h["step"], np.int64)
        if len(steps) == 0:
            continue
        tags = data.tags(i)
        local = np.array([tag_code.setdefault(t, len(tag_code)) for t in tags], np.int64)
        tag_names[len(tag_names) :] = list(tag_code)[len(tag_names) :]
        parts["step"].append(steps)
        parts["tag"].append(local[np.frombuffer(h["tag"], np.uint32)])
        for c in ("wall", "min", "max", "num", "sum", "sum_squares"):
            parts[c].append(np.frombuffer(h[c], np.float64))
        starts = np.frombuffer(h["start"], np.uint64).tolist()
        ends = np.frombuffer(h["end"], np.uint64).tolist()
        for c in ("counts", "limits"):
            parts[c].append(_bucket_cells(np.frombuffer(h[c], np.float64), starts, ends))
        parts["dir"].append(np.full(len(steps), len(dirs), np.int64))
        parts["file"].append(np.full(len(steps), len(names), np.int64))
        dirs.append(dir_name)
        names.append(file_name)
    if not parts:
        return pd.DataFrame()
    col = {c: v[0] if len(v) == 1 else np.concatenate(v) for c, v in parts.items()}

    # Ranks of the names in sorted order, so that integer keys sort like the strings.
    def ranks(values: list[str]) -> np.ndarray:
        order = sorted(range(len(values)), key=values.__getitem__)
        r = np.empty(len(values), np.int64)
        for pos, idx in enumerate(order):
            r[idx] = pos if pos == 0 or values[order[pos - 1]] != values[idx] else r[order[pos - 1]]
        return r

    keys = [col["step"], ranks(tag_names)[col["tag"]]]
    if "file_name" in extra:
        keys.append(ranks(names)[col["file"]])
    if "dir_name" in extra:
        keys.append(ranks(dirs)[col["dir"]])
    order = np.lexsort(keys)
    out: dict[str, Any] = {
        "step": col["step"][order],
        "tag": string_column(pd, col["tag"][order].astype(np.uint32), tag_names),
        "counts": col["counts"][order],
        "limits": col["limits"][order],
    }
    for c in ("max", "min", "num", "sum", "sum_squares"):
        if c in extra:
            out[c] = col[c][order]
    if "wall_time" in extra:
        out["wall_time"] = col["wall"][order]
    if "dir_name" in extra:
        out["dir_name"] = string_column(pd, col["dir"][order].astype(np.uint32), dirs)
    if "file_name" in extra:
        out["file_name"] = string_column(pd, col["file"][order].astype(np.uint32), names)
    return pd.DataFrame(out)
