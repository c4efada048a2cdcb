"""The `FileWriter` a writer that writes nothing hands out from `_get_file_writer()`.

A non-writing rank (or `write_to_disk=False`) must cost nothing, yet frameworks reach for
the file writer directly (PyTorch Lightning calls `add_summary` on it): every method here
accepts anything and does nothing, without looking at its arguments.
"""

from __future__ import annotations

from typing import Any, NoReturn, Optional


class NoopFileWriter:
    """`FileWriter`'s methods, all no-ops; `get_logdir()` still names the directory."""

    __slots__ = ("_log_dir",)

    # What `SummaryWriter` reads from its file writer on every call: no core writer and
    # no GPU queue, so code that holds either kind of file writer needs no type checks.
    _core: None = None
    _pending: None = None

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

    def poll(self) -> int:
        return 0

    def _writer(self) -> NoReturn:
        # Unreachable through SummaryWriter: a writer that writes nothing replaces every
        # add_* with a no-op before anything asks for the core writer.
        raise RuntimeError(f"the writer for {self._log_dir!r} writes nothing: it has no event file")

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
