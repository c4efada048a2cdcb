"""`FileWriter`: one event file in one directory, written by a Rust background thread."""

from __future__ import annotations

import os
import threading
from typing import Any, Optional, Union

from . import _core, _dynamo, _lifecycle
from ._pending import PendingQueue
from .conversions import as_step, describe, optional_step, optional_walltime
from .remote import (
    DEFAULT_CLOSE_TIMEOUT,
    check_scheme,
    checked_close_timeout,
    checked_storage_options,
    is_remote,
    url_scheme,
)

PathLike = Union[str, "os.PathLike[str]"]

#: Byte budget of accepted but unwritten work before `add_*` blocks (the core's default).
DEFAULT_MAX_PENDING_BYTES: int = _core.DEFAULT_MAX_PENDING_BYTES


def serialized(message: Any, name: str) -> bytes:
    """Protocol-buffer bytes of `message` (a proto from any library, or bytes)."""
    if isinstance(message, (bytes, bytearray, memoryview)):
        return bytes(message)
    serialize = getattr(message, "SerializeToString", None)
    if serialize is None:
        raise TypeError(f"{name} must be a protobuf message or bytes, got {describe(message)}")
    return serialize()


def reject_remote(log_dir: Any, arg: str = "log_dir") -> None:
    """Raises ValueError for a URL (``s3://``, ``gs://``, ``hdfs://``, any ``scheme://``)
    where only a local path will do (Lightning's ``save_dir``), before anything is
    created: written as a local path it would become a directory named ``s3:``."""
    scheme = url_scheme(log_dir)
    if scheme is not None:
        raise ValueError(
            f"{arg}={os.fsdecode(log_dir)!r}: remote log directories ({scheme}://...) are "
            "not supported here; pass a local path (a directory on this machine or on a "
            "mounted file system)"
        )


def checked_log_dir(log_dir: Any, arg: str = "log_dir") -> str:
    """`log_dir` as a str: a str, a path object, or bytes (decoded as the OS does); a
    local path or a URL of a supported object store (``s3://bucket/run``, ...)."""
    try:
        path = os.fsdecode(log_dir)
    except TypeError:
        raise TypeError(
            f"{arg} must be a str, bytes or os.PathLike, got {describe(log_dir)}"
        ) from None
    if "\0" in path:
        raise ValueError(f"{arg} cannot contain NUL: {path!r}")
    check_scheme(path, arg)
    return path


def checked_suffix(suffix: Any) -> str:
    """`filename_suffix`: a str that keeps the event file in the log directory."""
    if not isinstance(suffix, str):
        raise TypeError(f"filename_suffix must be a str, got {describe(suffix)}")
    bad = [c for c in ("/", os.sep, os.altsep, "\0") if c and c in suffix]
    if bad:
        raise ValueError(
            f"filename_suffix cannot contain {bad[0]!r} (it would leave the log directory): "
            f"{suffix!r}"
        )
    return suffix


class FileWriter:
    """Writes events to a new event file in `log_dir` (torch's and tensorboardX's API).

    The file is created at construction. After `close()` (or in a forked child), the next
    `add_*` opens a new file in the same directory instead of failing.

    A URL `log_dir` (``s3://bucket/run``, ``gs://``, ``az://``, ``abfs(s)://``,
    ``memory://``) is staged locally and uploaded in the background (docs/storage.md);
    `storage_options` configures the store, `close_timeout` bounds how long `close()`
    waits for it.
    """

    def __init__(
        self,
        log_dir: Optional[PathLike] = None,
        max_queue: int = 10,
        flush_secs: float = 120,
        filename_suffix: str = "",
        *,
        logdir: Optional[PathLike] = None,
        max_pending_bytes: int = DEFAULT_MAX_PENDING_BYTES,
        storage_options: Optional[dict] = None,
        close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
    ) -> None:
        arg = "log_dir"
        if log_dir is None:
            log_dir, arg = logdir, "logdir"
        if log_dir is None:
            raise TypeError("FileWriter needs log_dir (or logdir)")
        self._log_dir = checked_log_dir(log_dir, arg)
        self._max_queue = int(max_queue)
        self._flush_secs = float(flush_secs)
        self._filename_suffix = checked_suffix(filename_suffix)
        self._max_pending_bytes = int(max_pending_bytes)
        self._storage_options = checked_storage_options(storage_options)
        if self._storage_options is not None and not is_remote(self._log_dir):
            raise ValueError(
                f"storage_options are for URL log dirs (s3://...); {arg}={self._log_dir!r} "
                "is a local path"
            )
        self._close_timeout = checked_close_timeout(close_timeout)
        self._open_lock = threading.Lock()
        self._core: Optional[_core.EventWriter] = None
        # Events whose values are still being computed on a GPU (docs/gpu.md).
        self._pending: Optional[PendingQueue] = None
        self._dropped_by_closed = 0  # dropped events of the files this writer has closed
        self._open()
        _lifecycle.register(self)

    def _open(self) -> _core.EventWriter:
        with self._open_lock:
            if self._core is None:
                try:
                    self._core = _core.EventWriter(
                        self._log_dir,
                        self._filename_suffix,
                        self._max_queue,
                        self._flush_secs,
                        self._max_pending_bytes,
                        list((self._storage_options or {}).items()),
                        self._close_timeout,
                    )
                except OSError as exc:  # same type and errno, with the argument's name
                    if exc.errno is None:
                        raise
                    raise type(exc)(
                        exc.errno, f"log_dir {self._log_dir!r}: {exc.strerror}", exc.filename
                    ) from None
                _lifecycle.register(self)
            return self._core

    def _forget_after_fork(self) -> Optional[_core.EventWriter]:
        # The parent writes its pending GPU values; their events and buffers belong to a
        # CUDA context the child cannot use, so they are dropped untouched.
        self._pending = None
        core, self._core = self._core, None
        self._open_lock = threading.Lock()
        return core

    def _writer(self) -> _core.EventWriter:
        """The open core writer, opening a new file after close or fork."""
        return self._core or self._open()

    def _pending_queue(self) -> PendingQueue:
        """The queue of events waiting for GPU values, made on first use."""
        with self._open_lock:
            queue = self._pending
        if queue is None:
            core = self._writer()
            with self._open_lock:
                if self._pending is None:
                    self._pending = PendingQueue(core)
                queue = self._pending
        return queue

    def poll(self) -> int:
        """Writes the events whose GPU values have arrived; never waits. Returns how
        many events still wait for theirs."""
        queue = self._pending
        return 0 if queue is None else queue.poll()

    @property
    def event_file_path(self) -> Optional[str]:
        """Path of the current event file (None while closed); for a URL log dir, the
        local staging segment being written."""
        return self._core.path if self._core is not None else None

    @property
    def storage_options(self) -> Optional[dict]:
        return None if self._storage_options is None else dict(self._storage_options)

    @property
    def close_timeout(self) -> float:
        return self._close_timeout

    @property
    def dropped_events(self) -> int:
        """Accepted events the background writer dropped instead of writing (out of memory,
        or too large once encoded); each was also reported by a `RuntimeWarning`."""
        core = self._core
        return self._dropped_by_closed + (core.dropped if core is not None else 0)

    def get_logdir(self) -> str:
        return self._log_dir

    def add_event(self, event: Any, step: Any = None, walltime: Any = None) -> None:
        """Adds an `Event` proto (torch's, tensorboardX's, or serialized bytes).

        Its wall time becomes `walltime` (default: now) and its step `step` when given.
        """
        data = serialized(event, "event")
        step = None if step is None else as_step(step, "step")
        self._writer().add_event_bytes(data, step, optional_walltime(walltime))

    def add_summary(self, summary: Any, global_step: Any = None, walltime: Any = None) -> None:
        """Adds a `Summary` proto (torch's, tensorboardX's, or serialized bytes)."""
        data = serialized(summary, "summary")
        step = optional_step(global_step)
        self._writer().add_summary_bytes(data, step, optional_walltime(walltime))

    def add_graph(self, graph_profile: Any, walltime: Any = None) -> None:
        """torch's `(GraphDef, RunMetadata)` pair: a `graph_def` event, then the run
        metadata tagged "step1" (protos of any package, or their serialized bytes)."""
        if not isinstance(graph_profile, (tuple, list)) or len(graph_profile) != 2:
            raise TypeError(
                "graph_profile must be a (GraphDef, RunMetadata) pair, "
                f"got {describe(graph_profile)}"
            )
        graph = serialized(graph_profile[0], "graph_profile[0]")
        run_metadata = serialized(graph_profile[1], "graph_profile[1]")
        self._writer().add_graph_bytes(graph, run_metadata, optional_walltime(walltime))

    def add_onnx_graph(self, graph: Any, walltime: Any = None) -> None:
        """A `GraphDef` (as torch's ONNX loader returns) as a `graph_def` event."""
        graph_def = serialized(graph, "graph")
        self._writer().add_graph_bytes(graph_def, None, optional_walltime(walltime))

    def flush(self) -> None:
        """Returns once every event added so far is written and fsync'd (for a URL log
        dir: to the local staging segment, and a publish is requested; it does not wait
        for the network)."""
        queue = self._pending
        if queue is not None:
            queue.drain()  # waits for GPU values (docs/gpu.md), then the usual barrier
        if self._core is not None:
            self._core.flush()

    def close(self) -> None:
        """Flushes and closes the file. Idempotent; a later `add_*` opens a new file.

        If events could not be saved, raises the writer's `OSError` (naming the file and
        how many events were lost) and still closes: the thread and the file are released,
        and the next `add_*` starts a new file. This is how to carry on after, say, a full
        disk: until `close()`, every call raises the same error.

        For a URL log dir, returns once the store holds every accepted event; after
        `close_timeout` seconds raises `OSError` naming the URL, the staging directory
        (kept) and the number of events not stored.
        """
        core = self._core
        if core is None:
            return
        queue = self._pending
        if queue is not None:
            # A capture in progress raises here, before anything is closed. Slots whose
            # values cannot come (a device error) are cancelled and reported.
            queue.drain()
        try:
            core.close()
        finally:
            self._pending = None
            self._core = None
            self._dropped_by_closed += core.dropped
            _lifecycle.unregister(self)

    def reopen(self) -> None:
        """Opens a new event file if this writer was closed (broken in torch and tensorboardX)."""
        self._writer()

    def __enter__(self) -> FileWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_dynamo.mark(FileWriter)
