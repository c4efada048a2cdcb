"""``SummaryReader``: tbparse's interface over ferroboard's Rust reader."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, Optional

import numpy as np

from ._frames import FileRows, Tree, histogram_frame, leaf_frame, pandas, string_column
from ._load import CORE_KINDS, FileReport, load

ALL_EVENT_TYPES = frozenset(
    {"scalars", "tensors", "histograms", "images", "audio", "hparams", "text"}
)
ALL_EXTRA_COLUMNS = frozenset(
    {
        "dir_name",
        "file_name",
        "wall_time",
        "min",
        "max",
        "num",
        "sum",
        "sum_squares",
        "width",
        "height",
        "content_type",
        "length_frames",
        "sample_rate",
    }
)
_CORE_KIND_OF = {"text": "tensors", "hparams": None}
#: The coded name columns of the scalar table, and the key of the names they index.
_CODED = {"tag": "tags", "dir_name": "dir_names", "file_name": "file_names"}


def _as_set(arg: str, value: Any, allowed: frozenset[str], error: type[Exception]) -> set[str]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ValueError(f"{arg} must be a set of names, got {value!r}")
    names = set(value)
    unknown = names - allowed
    if unknown:
        raise error(f"{arg}: unknown names {sorted(unknown)}; allowed: {sorted(allowed)}")
    return names


class SummaryReader:
    """Reads every event file under ``log_path`` (or the event file ``log_path``).

    Same constructor, properties and DataFrames as tbparse's ``SummaryReader``: every value
    is kept (duplicate steps, restarts), rows sorted by ``[dir_name, file_name]`` (when
    asked for), tag and step. The files are read at once, in Rust, CRC-checked; a damaged
    file is reported with a warning naming the file and byte offset, and its valid records
    are kept (``strict=True`` raises ``EventFileDamageError`` instead).
    """

    def __init__(
        self,
        log_path: str | os.PathLike[str],
        *,
        pivot: bool = False,
        extra_columns: Optional[Iterable[str]] = None,
        event_types: Optional[Iterable[str]] = None,
        strict: bool = False,
        check_crc: bool = True,
    ) -> None:
        if not isinstance(log_path, (str, os.PathLike)):
            raise TypeError(f"log_path must be a path, got {log_path!r}")
        self._log_path = os.fspath(log_path)
        self._pivot = bool(pivot)
        self._extra = _as_set("extra_columns", extra_columns or (), ALL_EXTRA_COLUMNS, KeyError)
        self._types = _as_set(
            "event_types",
            ALL_EVENT_TYPES if event_types is None else event_types,
            ALL_EVENT_TYPES,
            KeyError,
        )
        self._strict = strict
        self._check_crc = check_crc
        if not os.path.exists(self._log_path):
            raise ValueError(f"log_path: file or directory not found: {self._log_path}")
        kinds = {_CORE_KIND_OF.get(t, t) for t in self._types} - {None}
        self._data, self._reports = load(
            self._log_path,
            [k for k in CORE_KINDS if k in kinds],
            check_crc=check_crc,
            strict=strict,
        )
        self._tree = Tree()
        for i, r in enumerate(self._reports):
            self._tree.add(r.dir_name, r.file_name, i)
        self._rows: dict[int, FileRows] = {}
        self._scalar_arrays: Optional[dict[str, Any]] = None
        self._children: Optional[dict[str, SummaryReader]] = None

    def __repr__(self) -> str:
        return f"SummaryReader(log_path={self._log_path!r})"

    @property
    def log_path(self) -> str:
        return self._log_path

    @property
    def files(self) -> list[FileReport]:
        """One report per event file read: path, size, records, damage."""
        return list(self._reports)

    def _file_rows(self, i: int) -> FileRows:
        if i not in self._rows:
            self._rows[i] = FileRows(self._data, i)
        return self._rows[i]

    # --- tbparse's properties -------------------------------------------------------

    @property
    def children(self) -> dict[str, SummaryReader]:
        """One reader per entry of a directory (sorted by name); read on first access."""
        if self._children is None:
            self._children = {}
            if os.path.isdir(self._log_path):
                for name in sorted(os.listdir(self._log_path)):
                    self._children[name] = SummaryReader(
                        os.path.join(self._log_path, name),
                        pivot=self._pivot,
                        extra_columns=self._extra,
                        event_types=self._types,
                        strict=self._strict,
                        check_crc=self._check_crc,
                    )
        return dict(self._children)

    def __getitem__(self, name: str) -> SummaryReader:
        return self.children[name]

    @property
    def tags(self) -> dict[str, list[str]]:
        return {
            t: self.get_tags(t)
            for t in ("images", "audio", "histograms", "scalars", "tensors", "hparams", "text")
        }

    def get_tags(self, event_type: str) -> list[str]:
        """The tags of ``event_type`` in order of first appearance over the files."""
        self._check_type(event_type)
        seen: dict[str, None] = {}
        for i in range(len(self._reports)):
            for t in self._file_rows(i).kind_tags(event_type):
                seen.setdefault(t, None)
        return list(seen)

    def _check_type(self, event_type: str) -> None:
        if event_type not in ALL_EVENT_TYPES:
            raise ValueError(
                f"event_type: unknown type {event_type!r}; allowed: {sorted(ALL_EVENT_TYPES)}"
            )
        if event_type not in self._types:
            raise ValueError(f"event_type is ignored by user: {event_type}")

    def get_events(self, event_type: str) -> Any:
        """The ``event_type`` rows of every file as one DataFrame (tbparse's)."""
        self._check_type(event_type)
        if event_type == "scalars" and not self._pivot:
            return self._scalars_frame()
        if event_type == "histograms" and not self._pivot:
            files = [(i, r.dir_name, r.file_name) for i, r in enumerate(self._reports)]
            return histogram_frame(self._data, files, self._extra)
        return self._tree.frame(
            lambda i: leaf_frame(self._file_rows(i), event_type, self._extra, self._pivot),
            self._extra,
            self._pivot,
        )

    @property
    def scalars(self) -> Any:
        return self.get_events("scalars")

    @property
    def tensors(self) -> Any:
        return self.get_events("tensors")

    @property
    def histograms(self) -> Any:
        return self.get_events("histograms")

    @property
    def images(self) -> Any:
        return self.get_events("images")

    @property
    def audio(self) -> Any:
        return self.get_events("audio")

    @property
    def hparams(self) -> Any:
        return self.get_events("hparams")

    @property
    def text(self) -> Any:
        return self.get_events("text")

    # --- numpy without pandas -------------------------------------------------------

    def scalars_arrays(self) -> dict[str, Any]:
        """The scalars as numpy arrays, in the row order of ``scalars`` (long format).

        Keys: ``step`` (int64), ``value``, ``wall_time`` (float64), ``tag``, ``dir_name``,
        ``file_name`` (uint32 indices into the sorted name lists ``tags``, ``dir_names``,
        ``file_names``). No pandas and no per-row Python objects. The arrays are the
        reader's own, built once: later calls and the ``scalars`` frame share them (copy
        an array before changing it in place).
        """
        self._check_type("scalars")
        table = self._scalar_table()
        out = dict(table)
        for key, names in _CODED.items():
            if not isinstance(out[key], np.ndarray):  # a column the frame built
                codes = pandas().Categorical(out[key], categories=table[names]).codes
                out[key] = codes.astype(np.uint32)
        return out

    def _scalar_table(self) -> dict[str, Any]:
        """The reader's scalar table, built once: numpy arrays, or for the name columns a
        frame has used, that frame's string column instead of the codes."""
        if self._scalar_arrays is None:
            by_dir = "dir_name" in self._extra
            by_file = "file_name" in self._extra
            # Long-format readers never need the per-file columns again once the table
            # holds them: the core frees them, and this reader keeps the table instead.
            (step, value, wall, tag, dir_, name, tags, dirs, names) = self._data.scalar_table(
                list(range(len(self._reports))), by_dir, by_file, release=not self._pivot
            )
            self._scalar_arrays = {
                "step": np.frombuffer(step, dtype=np.int64),
                "value": np.frombuffer(value, dtype=np.float64),
                "wall_time": np.frombuffer(wall, dtype=np.float64),
                "tag": np.frombuffer(tag, dtype=np.uint32),
                "dir_name": np.frombuffer(dir_, dtype=np.uint32),
                "file_name": np.frombuffer(name, dtype=np.uint32),
                "tags": tags,
                "dir_names": dirs,
                "file_names": names,
            }
        return self._scalar_arrays

    def _names_column(self, pd: Any, key: str) -> Any:
        """The string column ``key`` of the frame; it replaces the codes in the table, so
        that the codes and the strings are never both held (docs/reader.md, "Memory")."""
        table = self._scalar_table()
        column = table[key]
        if isinstance(column, np.ndarray):
            column = string_column(pd, column, table[_CODED[key]])
            table[key] = column
        return column

    def _scalars_frame(self) -> Any:
        pd = pandas()
        table = self._scalar_table()
        if len(table["step"]) == 0:
            return pd.DataFrame()
        cols: dict[str, Any] = {"step": table["step"]}
        cols["tag"] = self._names_column(pd, "tag")
        cols["value"] = table["value"]
        if "wall_time" in self._extra:
            cols["wall_time"] = table["wall_time"]
        if "dir_name" in self._extra:
            cols["dir_name"] = self._names_column(pd, "dir_name")
        if "file_name" in self._extra:
            cols["file_name"] = self._names_column(pd, "file_name")
        return pd.DataFrame(cols, copy=False)
