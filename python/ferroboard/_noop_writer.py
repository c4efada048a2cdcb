"""The `FileWriter` a writer that writes nothing hands out from `_get_file_writer()`.

A non-writing rank (or `write_to_disk=False`) must cost nothing, yet frameworks reach for
the file writer directly (PyTorch Lightning calls `add_summary` on it): every method here
accepts anything and does nothing, without looking at its arguments.
"""

from __future__ import annotations

from typing import Any, Optional


class NoopFileWriter:
    """`FileWriter`'s methods, all no-ops; `get_logdir()` still names the directory."""

    __slots__ = ("_log_dir",)

    def __init__(self, log_dir: str) -> None:
        self._log_dir = log_dir

    def get_logdir(self) -> str:
        return self._log_dir

    @property
    def dropped_events(self) -> int:
        return 0

    @property
    def event_file_path(self) -> Optional[str]:
        return None

    def add_event(self, *_args: Any, **_kwargs: Any) -> None:
        return None

    def add_summary(self, *_args: Any, **_kwargs: Any) -> None:
        return None

    def add_graph(self, *_args: Any, **_kwargs: Any) -> None:
        return None

    def add_onnx_graph(self, *_args: Any, **_kwargs: Any) -> None:
        return None

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None

    def reopen(self) -> None:
        return None

    def __enter__(self) -> NoopFileWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        return None
