"""tensorboardX's `GlobalSummaryWriter`: one writer shared by modules and processes,
which numbers each tag's events itself (callers pass no step).

The process that creates it owns the event file. Processes started from it (fork, or
spawn with the writer passed as an argument) send their calls through a pipe; a thread
in the owner writes them. Steps are given out in the owner as calls are written, so
each tag's steps increase in file order even when processes interleave.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from typing import Any, Optional

from . import _lifecycle
from .conversions import check_tag, describe, scalar_to_float, to_numpy
from .remote import DEFAULT_CLOSE_TIMEOUT
from .writer import SummaryWriter

_writer: Optional[GlobalSummaryWriter] = None


class GlobalSummaryWriter:
    """A `SummaryWriter` with per-tag step counters, usable from several processes.

    The constructor takes `SummaryWriter`'s arguments (and tensorboardX's unused
    ``coalesce_process``). On a non-writing rank of a distributed job (`SummaryWriter`'s
    ``ranks``) it is a no-op: no file, no thread, no queue, arguments never read.
    """

    def __init__(
        self,
        logdir: Any = None,
        comment: str = "",
        purge_step: Optional[int] = None,
        max_queue: int = 10,
        flush_secs: float = 120,
        filename_suffix: str = "",
        write_to_disk: bool = True,
        log_dir: Any = None,
        coalesce_process: bool = True,
        *,
        ranks: Any = "auto",
        rank: Optional[int] = None,
        per_rank_dir: bool = False,
        storage_options: Optional[dict] = None,
        close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise TypeError(f"unexpected arguments: {sorted(kwargs)}")
        self.smw: Optional[SummaryWriter] = SummaryWriter(
            log_dir=log_dir,
            comment=comment,
            purge_step=purge_step,
            max_queue=max_queue,
            flush_secs=flush_secs,
            filename_suffix=filename_suffix,
            write_to_disk=write_to_disk,
            logdir=logdir,
            ranks=ranks,
            rank=rank,
            per_rank_dir=per_rank_dir,
            storage_options=storage_options,
            close_timeout=close_timeout,
        )
        self._owner = os.getpid()
        self._lock = threading.Lock()
        self._steps: dict = {}
        self._closed = False
        if not self.smw.is_writing:
            self._queue: Any = None  # processes started from here inherit the no-op
            return
        # A spawn-context queue works for forked children too (they inherit it) and,
        # unlike a fork-context one, may be pickled into spawned processes.
        self._queue = multiprocessing.get_context("spawn").SimpleQueue()
        self._drain = threading.Thread(
            target=self._drain_loop, name="ferroboard-global-writer", daemon=True
        )
        self._drain.start()
        _lifecycle.register(self, _lifecycle.GLOBAL_WRITER)

    # -- pickling (spawned processes) --------------------------------------------------------

    def __getstate__(self) -> dict:
        return {"_owner": self._owner, "_queue": self._queue}

    def __setstate__(self, state: dict) -> None:
        self._owner = state["_owner"]
        self._queue = state["_queue"]
        self.smw = None
        self._closed = False

    # -- calls -------------------------------------------------------------------------------

    def _owns(self) -> bool:
        return os.getpid() == self._owner and self.smw is not None

    def _log(self, kind: str, tag: str, value: Any, walltime: Any, extra: dict) -> None:
        if self._owns():
            self._write(kind, tag, value, walltime, extra)
        else:
            # Sent whole before put() returns: a worker that exits right after loses nothing.
            self._queue.put((kind, tag, value, walltime, extra))

    def _write(self, kind: str, tag: str, value: Any, walltime: Any, extra: dict) -> None:
        smw = self.smw
        if smw is None:
            return
        with self._lock:
            key = (kind, tag)
            step = self._steps.get(key, -1) + 1
            self._steps[key] = step
            getattr(smw, "add_" + kind)(tag, value, step, walltime=walltime, **extra)

    def _drain_loop(self) -> None:
        while True:
            try:
                item = self._queue.get()
            except (EOFError, OSError):
                return
            if item is None:
                return
            try:
                self._write(*item)
            except Exception as exc:  # noqa: BLE001 - one bad call must not stop the others
                print(f"ferroboard: GlobalSummaryWriter dropped a {item[0]} for {item[1]!r}: {exc}")

    def add_scalar(self, tag: str, scalar_value: Any, walltime: Any = None) -> None:
        """Logs a number at the next step of `tag`."""
        if self._queue is None:
            return
        check_tag(tag)
        self._log("scalar", tag, scalar_to_float(scalar_value), walltime, {})

    def add_image(
        self, tag: str, img_tensor: Any, walltime: Any = None, dataformats: str = "CHW"
    ) -> None:
        """Logs an image at the next step of `tag`."""
        if self._queue is None:
            return
        check_tag(tag)
        if not isinstance(dataformats, str):
            raise TypeError(f"dataformats must be a str such as 'CHW', got {describe(dataformats)}")
        value = img_tensor if self._owns() else to_numpy(img_tensor, "img_tensor")
        self._log("image", tag, value, walltime, {"dataformats": dataformats})

    def add_text(self, tag: str, text_string: str, walltime: Any = None) -> None:
        """Logs text at the next step of `tag`."""
        if self._queue is None:
            return
        check_tag(tag)
        if not isinstance(text_string, str):
            raise TypeError(f"text_string must be a str, got {describe(text_string)}")
        self._log("text", tag, text_string, walltime, {})

    @property
    def file_writer(self) -> Any:
        """The underlying writer's FileWriter (in the owning process)."""
        return self.smw._get_file_writer() if self.smw is not None else None

    @staticmethod
    def getSummaryWriter() -> GlobalSummaryWriter:  # noqa: N802 - tensorboardX's name
        """The process-wide instance, created on first use."""
        global _writer
        if _writer is None or _writer.smw is None:
            _writer = GlobalSummaryWriter()
        print("Using the global logger in:", _writer.smw.get_logdir())  # type: ignore[union-attr]
        return _writer

    def flush(self) -> None:
        """Writes everything logged so far in this process (the owner: by every process
        whose calls have arrived)."""
        if self._owns() and self.smw is not None:
            self.smw.flush()

    def close(self) -> None:
        """In the owner: writes what other processes sent, then closes the file."""
        if not self._owns() or self._closed:
            return
        self._closed = True
        if self._queue is None:  # a non-writing rank: nothing started
            return
        self._queue.put(None)
        self._drain.join()
        _lifecycle.unregister(self, _lifecycle.GLOBAL_WRITER)
        smw = self.smw
        if smw is not None:
            smw.flush()
            smw.close()

    def __enter__(self) -> GlobalSummaryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
