"""What `SummaryWriter`'s mixins use from the writer, with its real types.

`MediaMixin` and `PluginsMixin` derive from `WriterBase`, so mypy checks their calls into
the core writer against `_core.pyi` and checks that `SummaryWriter`'s own definitions
(which override these) agree with what the mixins expect.
"""

from __future__ import annotations

from typing import Any, Optional, Union

from . import _device_copy, _device_path
from ._core import EventWriter
from ._noop_writer import NoopFileWriter
from .conversions import optional_step, optional_walltime
from .file_writer import FileWriter

#: What `file_writer` holds: the real one, or the no-op one of a writer that writes nothing.
AnyFileWriter = Union[FileWriter, NoopFileWriter]


class WriterBase:
    """State and methods of `SummaryWriter` that its mixins rely on."""

    log_dir: str
    #: For a URL log dir: the store's configuration, and how long close() waits for it.
    storage_options: Optional[dict]
    close_timeout: float
    #: The default run's file writer; None before the first use and after `close()`.
    file_writer: Optional[AnyFileWriter]
    #: Every open file writer (the default one and `add_scalars` sub-runs) by directory.
    all_writers: Optional[dict[str, AnyFileWriter]]
    #: What an ``add_*`` given a CUDA tensor does during a CUDA graph capture.
    _on_cuda_capture: str

    def _core(self) -> EventWriter:  # pragma: no cover - SummaryWriter's
        """The default run's core writer, opening a new file after close or fork."""
        raise NotImplementedError

    def _get_file_writer(self) -> AnyFileWriter:  # pragma: no cover - SummaryWriter's
        """The default run's `FileWriter`, recreated after `close()` (a no-op one when the
        writer writes nothing)."""
        raise NotImplementedError

    def _open_default(self) -> FileWriter:  # pragma: no cover - SummaryWriter's
        """The default run's `FileWriter` of a writer that writes, opened if closed."""
        raise NotImplementedError

    def _plain_file_writer(self, log_dir: str) -> FileWriter:  # pragma: no cover
        """A `FileWriter` with default settings in `log_dir`, reaching the same store as
        this writer when the log dir is a URL (SummaryWriter's)."""
        raise NotImplementedError

    def _defer(
        self,
        what: str,
        tag: str,
        values: dict,
        build: _device_copy.Build,
        global_step: Any,
        walltime: Any,
    ) -> None:
        """Logs what `build` makes of `values`, some of them CUDA tensors, without a
        host sync: their copies to host memory complete later (docs/gpu.md)."""
        if not _device_path.check_capture(self._on_cuda_capture, what):
            return
        step, wall = optional_step(global_step), optional_walltime(walltime)
        _device_copy.defer(self._open_default(), what, tag, values, build, step, wall)
