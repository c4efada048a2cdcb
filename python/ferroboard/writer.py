"""`SummaryWriter`: torch's and tensorboardX's API over the Rust core.

Each `add_*` validates its arguments, makes one contiguous array (or plain number) and
hands it to the core; binning, serialization, framing and I/O happen on the worker.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Optional

import numpy as np

from . import _capture, _device_path, _dynamo
from ._core import EventWriter, tensor_summary
from ._paths import check_no_nul, inside, one_component
from ._rank_gate import RankGate
from ._writer_base import AnyFileWriter
from .conversions import (
    array_for_core,
    as_step,
    as_walltime,
    check_tag,
    checked_walltime,
    describe,
    float_list,
    optional_step,
    optional_walltime,
    scalar_to_float,
    tensor_for_core,
)
from .file_writer import DEFAULT_MAX_PENDING_BYTES, FileWriter, PathLike
from .histogram_bins import DEFAULT_BINS, default_bins, histogram_edges
from .media import MediaMixin
from .plugins import PluginsMixin
from .remote import (
    DEFAULT_CLOSE_TIMEOUT,
    check_scheme,
    checked_close_timeout,
    checked_storage_options,
    is_remote,
)


def default_logdir(comment: str = "") -> str:
    """`runs/{%b%d_%H-%M-%S}_{host}{comment}`, as torch and tensorboardX name it."""
    current_time = datetime.now().strftime("%b%d_%H-%M-%S")
    return os.path.join("runs", current_time + "_" + socket.gethostname() + comment)


def _noop(*_args: Any, **_kwargs: Any) -> None:
    return None


def _check_max_bins(max_bins: Any) -> None:
    if max_bins is not None:
        if isinstance(max_bins, bool) or not isinstance(max_bins, int) or max_bins < 1:
            raise ValueError(f"max_bins must be a positive int or None, got {max_bins!r}")


class SummaryWriter(RankGate, MediaMixin, PluginsMixin):
    """Writes TensorBoard event files; a drop-in for torch's and tensorboardX's writer.

    Args:
        log_dir: directory of the run (tensorboardX: ``logdir``). Default
            ``runs/{date}_{host}{comment}``.
        comment: suffix of the default directory (ignored when a directory is given).
        purge_step: hide older events with steps >= this one (written once, as torch does).
        max_queue: pending events that wake the background writer at once.
        flush_secs: longest time written events stay without fsync.
        filename_suffix: appended to every event file name.
        write_to_disk: tensorboardX's switch; False makes every method a no-op.
        logdir: tensorboardX's name for ``log_dir``.
        max_pending_bytes: memory budget of accepted but unwritten work; ``add_*`` blocks
            while it is exceeded.
        ranks: which ranks of a distributed job write: "auto" (rank 0 only when a
            multi-process launch is detected, else this process), "all", "zero", a rank or
            a set of ranks. Env override: ``FERROBOARD_RANKS``.
        rank: this process's global rank; None detects it (torch.distributed if already
            initialized, then torchrun, torchelastic, Slurm, Open MPI, PMI, LSF).
        per_rank_dir: write into ``{log_dir}/rank{N}`` (one TensorBoard run per rank).
            Env override: ``FERROBOARD_PER_RANK_DIR=1``.
        on_cuda_capture: what an ``add_*`` given a CUDA tensor does while a CUDA graph is
            being captured: "raise" (a RuntimeError saying why) or "skip" (the call is
            dropped, with one warning). See docs/gpu.md.
        storage_options: for a URL log dir (``s3://bucket/run``, ``gs://``, ``az://``,
            ``abfs(s)://``, ``memory://``): object_store configuration keys, on top of
            the environment's credentials (docs/storage.md).
        close_timeout: for a URL log dir, the longest ``close()`` waits for the store
            before raising OSError (the staging files are kept).
    """

    def __init__(
        self,
        log_dir: Optional[PathLike] = None,
        comment: str = "",
        purge_step: Optional[int] = None,
        max_queue: int = 10,
        flush_secs: float = 120,
        filename_suffix: str = "",
        write_to_disk: bool = True,
        logdir: Optional[PathLike] = None,
        *,
        max_pending_bytes: int = DEFAULT_MAX_PENDING_BYTES,
        ranks: Any = "auto",
        rank: Optional[int] = None,
        per_rank_dir: bool = False,
        on_cuda_capture: str = _capture.RAISE,
        storage_options: Optional[dict] = None,
        close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
    ) -> None:
        self._on_cuda_capture = _capture.check_policy(on_cuda_capture)
        _dynamo.skip_files()
        # An unsupported URL fails here, before any directory is made (it would become
        # "hdfs:/...").
        for arg, value in (("log_dir", log_dir), ("logdir", logdir)):
            if value:
                check_scheme(value, arg)
        if log_dir and logdir and os.fspath(log_dir) != os.fspath(logdir):
            raise ValueError(f"log_dir={log_dir!r} and logdir={logdir!r} disagree; pass one")
        log_dir = log_dir or logdir
        self.log_dir = os.fsdecode(log_dir) if log_dir else default_logdir(comment)
        self.purge_step = None if purge_step is None else as_step(purge_step, "purge_step")
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self.filename_suffix = filename_suffix
        self.max_pending_bytes = max_pending_bytes
        self.storage_options = checked_storage_options(storage_options)
        if self.storage_options is not None and not is_remote(self.log_dir):
            raise ValueError(
                f"storage_options are for URL log dirs (s3://...); log_dir={self.log_dir!r} "
                "is a local path"
            )
        self.close_timeout = checked_close_timeout(close_timeout)
        self._write_to_disk = bool(write_to_disk)
        self._lock = threading.Lock()
        self._dropped_by_closed = 0  # dropped events of the files close() has closed
        self.file_writer: Optional[AnyFileWriter] = None
        self.all_writers: Optional[dict[str, AnyFileWriter]] = None
        # A non-writing rank creates nothing: no directory, no file, no thread.
        self._init_ranks(ranks, rank, per_rank_dir, log_dir_given=bool(log_dir))
        self._start()

    # -- compatibility attributes ---------------------------------------------------------

    @property
    def logdir(self) -> str:
        """tensorboardX's name for the run directory."""
        return self.log_dir

    @property
    def default_bins(self) -> list:
        """torch's default ("tensorflow") histogram edges."""
        return default_bins()

    def get_logdir(self) -> str:
        return self.log_dir

    def _disable(self) -> None:
        # A writer that writes nothing (tensorboardX's write_to_disk=False, or a
        # non-writing rank) must cost nothing: every add_* becomes a no-op that does not
        # even look at its arguments.
        for name in dir(type(self)):
            if name.startswith("add_"):
                setattr(self, name, _noop)

    def _new_file_writer(self, log_dir: str) -> FileWriter:
        return FileWriter(
            log_dir,
            self.max_queue,
            self.flush_secs,
            self.filename_suffix,
            max_pending_bytes=self.max_pending_bytes,
            storage_options=self.storage_options,
            close_timeout=self.close_timeout,
        )

    def _plain_file_writer(self, log_dir: str) -> FileWriter:
        if not is_remote(log_dir):
            return FileWriter(log_dir)
        return FileWriter(
            log_dir, storage_options=self.storage_options, close_timeout=self.close_timeout
        )

    def _get_file_writer(self) -> AnyFileWriter:
        """The default FileWriter, recreated (new file) after `close()`; a no-op one when
        this writer writes nothing (Lightning calls `add_summary` on it)."""
        if self._rank_pending:
            self._settle_rank()
        writer = self.file_writer
        if writer is not None and self.all_writers is not None:
            return writer
        if not self._is_writing:
            return self._noop_file_writer()
        return self._open_default()

    def _open_default(self) -> FileWriter:
        with self._lock:
            current = self.file_writer
            if isinstance(current, FileWriter) and self.all_writers is not None:
                return current
            writer = self._new_file_writer(self.log_dir)
            self.all_writers = {writer.get_logdir(): writer}
            if self.purge_step is not None:
                writer._writer().add_purge_markers(self.purge_step)
                self.purge_step = None
            self.file_writer = writer
            return writer

    def _core(self) -> EventWriter:
        writer = self.file_writer
        if writer is None:
            writer = self._get_file_writer()
        queue = writer._pending
        if queue is not None:
            queue.maybe_poll()  # GPU values that have arrived since the last call
        return writer._core or writer._writer()

    def poll(self) -> int:
        """Writes the events whose values, computed on a GPU, have arrived; never waits.

        Every ``add_*`` call does this too (at most once per millisecond), so a loop that
        logs each step needs no poll; call it in quiet phases. Returns how many events
        still wait for their values (docs/gpu.md).
        """
        writers = list((self.all_writers or {}).values())
        return sum(writer.poll() for writer in writers)

    # -- scalars and text -----------------------------------------------------------------

    def add_scalar(
        self,
        tag: str,
        scalar_value: Any,
        global_step: Any = None,
        walltime: Any = None,
        new_style: bool = False,
        double_precision: bool = False,
    ) -> None:
        """Logs one number. ``new_style`` writes a scalar tensor (torch's option)."""
        # The hot path of every training loop: a few identity checks, then one call into
        # Rust, which checks the tag (a TypeError there is re-raised with a clearer text).
        if type(scalar_value) is not float:
            if _device_path.wants(scalar_value):
                return self._add_device_scalar(
                    tag, scalar_value, global_step, walltime, new_style, double_precision
                )
            scalar_value = scalar_to_float(scalar_value)
        if global_step is not None and type(global_step) is not int:
            global_step = as_step(global_step)
        if walltime is not None:
            walltime = as_walltime(walltime)
        writer = self.file_writer
        core = writer._core if writer is not None else None
        if core is None:
            core = self._core()
        elif writer is not None and writer._pending is not None:
            writer._pending.maybe_poll()
        try:
            if new_style:  # double_precision only matters for new-style scalars
                core.add_scalar(
                    tag, scalar_value, global_step, walltime, True, bool(double_precision)
                )
            else:
                core.add_scalar(tag, scalar_value, global_step, walltime)
        except (TypeError, ValueError, OverflowError):
            # Name the culprit; if neither tag nor step is at fault, re-raise as is.
            check_tag(tag)
            if global_step is not None:
                as_step(global_step)
            raise

    def _add_device_scalar(
        self,
        tag: str,
        value: Any,
        global_step: Any,
        walltime: Any,
        new_style: bool,
        double_precision: bool,
    ) -> None:
        """`add_scalar` of a CUDA tensor: no host sync; written once the GPU got there."""
        step = optional_step(global_step)
        walltime = optional_walltime(walltime)
        if not _device_path.check_capture(self._on_cuda_capture, "add_scalar"):
            return
        _device_path.scalar(
            self._open_default(),  # add_* runs only on a writer that writes
            tag,
            value,
            step,
            walltime,
            bool(new_style),
            bool(double_precision),
        )

    def add_scalars(
        self,
        main_tag: str,
        tag_scalar_dict: dict,
        global_step: Any = None,
        walltime: Any = None,
    ) -> None:
        """Logs several numbers under one tag, each in its own sub-run (torch's layout)."""
        check_tag(main_tag, "main_tag")
        check_no_nul(main_tag, "main_tag")  # it names a directory
        if not isinstance(tag_scalar_dict, dict):
            raise TypeError(f"tag_scalar_dict must be a dict, got {describe(tag_scalar_dict)}")
        values = {}
        on_device = False
        for key, value in tag_scalar_dict.items():
            check_tag(key, "tag_scalar_dict key")
            check_no_nul(key, "tag_scalar_dict key")
            if _device_path.wants(value):  # read once its copy completed, no sync
                values[key] = _device_path.checked_scalar(value, f"tag_scalar_dict[{key!r}]")
                on_device = True
            else:
                values[key] = scalar_to_float(value, f"tag_scalar_dict[{key!r}]")
        global_step = optional_step(global_step)
        walltime = time.time() if walltime is None else checked_walltime(walltime)
        if on_device and not _device_path.check_capture(self._on_cuda_capture, "add_scalars"):
            values = {k: v for k, v in values.items() if type(v) is float}
        fw_logdir = self._get_file_writer().get_logdir()
        # Sub-run `{main_tag}_{key}`, one directory: torch replaces separators in
        # main_tag only, so a key from data ("../../x") could leave the log dir there.
        prefix = one_component(main_tag) + "_"
        subruns = [(prefix + one_component(key), key, value) for key, value in values.items()]
        known = self.all_writers or {}
        for run, key, _ in subruns:  # before writing any key: all or none are written
            if fw_logdir + "/" + run not in known:
                inside(fw_logdir, run, "tag_scalar_dict key", key)
        for run, _, value in subruns:
            fw_tag = fw_logdir + "/" + run
            all_writers = self.all_writers
            if all_writers is None:
                self._get_file_writer()
                all_writers = self.all_writers
            assert all_writers is not None
            writer = all_writers.get(fw_tag)
            if writer is None:
                writer = self._new_file_writer(fw_tag)
                all_writers[fw_tag] = writer
            if type(value) is not float:  # one reserved slot in this sub-run's file
                assert isinstance(writer, FileWriter)  # add_* runs only on a writer that writes
                _device_path.scalar(
                    writer,
                    main_tag,
                    value,
                    global_step,
                    walltime,
                    False,
                    False,
                    remember=self._scalar_rememberer(fw_tag, global_step, walltime),
                )
                continue
            writer._writer().add_scalar(main_tag, value, global_step, walltime)
            self._remember_scalar(fw_tag, value, global_step, walltime)  # scalar_dict

    def add_text(
        self, tag: str, text_string: str, global_step: Any = None, walltime: Any = None
    ) -> None:
        """Logs Markdown text (tag gains ``/text_summary``, as in torch)."""
        check_tag(tag)
        if not isinstance(text_string, str):
            raise TypeError(f"text_string must be a str, got {describe(text_string)}")
        self._core().add_text(
            tag, text_string, optional_step(global_step), optional_walltime(walltime)
        )

    # -- histograms and tensors -----------------------------------------------------------

    def add_histogram(
        self,
        tag: str,
        values: Any,
        global_step: Any = None,
        bins: Any = DEFAULT_BINS,
        walltime: Any = None,
        max_bins: Optional[int] = None,
    ) -> None:
        """Logs a histogram of `values`, binned on the background thread.

        ``bins``: "tensorflow" (torch's default exponential edges), an int, explicit
        edges, or a numpy strategy name ("auto", "fd", ...).
        """
        if _device_path.wants(values):
            self.add_histograms({tag: values}, global_step, bins, walltime, max_bins)
            return
        check_tag(tag)
        array, code = array_for_core(values, "values")
        if array.size and array.dtype.kind == "f" and np.isnan(array.flat[0]):
            # Only a NaN first element pays for the full check.
            if np.isnan(array).all():
                raise ValueError(f"values: all {array.size} values are NaN; nothing to bin")
        edges = histogram_edges(array, code, bins, max_bins)
        self._core().add_histogram(
            tag,
            array,
            code,
            edges,
            max_bins,
            optional_step(global_step),
            optional_walltime(walltime),
        )

    def add_histograms(
        self,
        tag_to_values: Any,
        global_step: Any = None,
        bins: Any = DEFAULT_BINS,
        walltime: Any = None,
        max_bins: Optional[int] = None,
    ) -> None:
        """Logs one histogram per entry of ``tag_to_values`` (a mapping of tag to
        tensor or array), in its order: ``{n: p for n, p in model.named_parameters()}``.

        Host values give exactly the events of a loop of `add_histogram` calls. CUDA
        tensors are reduced on their device, all at once: one grouped reduction, one copy
        of the results to host memory and one event per device, no host sync; their
        events reach the file once the GPU has computed them (docs/gpu.md).
        """
        if not isinstance(tag_to_values, Mapping):
            raise TypeError(
                f"tag_to_values must be a mapping of tag to values, got {describe(tag_to_values)}"
            )
        _check_max_bins(max_bins)
        items = list(tag_to_values.items())
        device = [_device_path.wants(values) for _, values in items]
        if not any(device):
            for tag, values in items:
                self.add_histogram(tag, values, global_step, bins, walltime, max_bins)
            return
        step = optional_step(global_step)
        walltime = optional_walltime(walltime)
        if not _device_path.check_capture(self._on_cuda_capture, "add_histogram"):
            items = [item for item, on_device in zip(items, device) if not on_device]
            device = [False] * len(items)
        fw = self._open_default()  # add_* runs only on a writer that writes
        queue = fw._pending_queue()
        queue.maybe_poll()  # earlier GPU values that have arrived
        prepared = [
            _device_path.prepare(tag, values, bins) if on_device else None
            for (tag, values), on_device in zip(items, device)
        ]
        queue.make_room(_device_path.estimate_bytes([p for p in prepared if p is not None]))
        reserved: list = []
        with queue.lock():  # a flush elsewhere sees all of these slots or none
            core = fw._writer()
            try:
                for (tag, values), item in zip(items, prepared):
                    if item is None:  # host values, in their place in the order
                        self.add_histogram(tag, values, step, bins, walltime, max_bins)
                    else:
                        item.slot = core.reserve(step, walltime)
                        reserved.append(item)
            finally:
                if reserved:
                    _device_path.enqueue(queue, core, reserved, bins, max_bins)

    def add_histogram_raw(
        self,
        tag: str,
        min: float,
        max: float,
        num: int,
        sum: float,
        sum_squares: float,
        bucket_limits: Any,
        bucket_counts: Any,
        global_step: Any = None,
        walltime: Any = None,
    ) -> None:
        """Logs a histogram whose statistics and buckets are already computed."""
        check_tag(tag)
        limits = float_list(bucket_limits, "bucket_limits")
        counts = float_list(bucket_counts, "bucket_counts")
        if len(limits) != len(counts):
            raise ValueError(
                "len(bucket_limits) != len(bucket_counts), see the document: "
                f"{len(limits)} != {len(counts)}"
            )
        stats = [
            scalar_to_float(v, n)
            for v, n in (
                (min, "min"),
                (max, "max"),
                (num, "num"),
                (sum, "sum"),
                (sum_squares, "sum_squares"),
            )
        ]
        low, high, count, total, squares = stats  # five names, so mypy checks the call
        self._core().add_histogram_raw(
            tag,
            low,
            high,
            count,
            total,
            squares,
            limits,
            counts,
            optional_step(global_step),
            optional_walltime(walltime),
        )

    def add_tensor(
        self, tag: str, tensor: Any, global_step: Any = None, walltime: Any = None
    ) -> None:
        """Logs a whole tensor (torch's ``tensor`` plugin; TensorBoard shows nothing)."""
        check_tag(tag)
        if _device_path.wants(tensor):

            def build(host: dict) -> Any:
                return tensor_summary(tag, *tensor_for_core(host["tensor"]))

            return self._defer("add_tensor", tag, {"tensor": tensor}, build, global_step, walltime)
        array, code, complex_values = tensor_for_core(tensor)
        self._core().add_tensor(
            tag,
            array,
            code,
            optional_step(global_step),
            optional_walltime(walltime),
            complex_values,
        )

    # -- lifecycle -----------------------------------------------------------------------

    def flush(self) -> None:
        """Returns once every event added so far is written and fsync'd."""
        if self._rank_pending:
            self._settle_rank()
        self._drain_gpu_values()
        self._flush_plugins()  # embeddings
        if self.all_writers is None:
            return
        for writer in list(self.all_writers.values()):
            writer.flush()

    def close(self) -> None:
        """Flushes and closes every file. Idempotent; a later ``add_*`` opens a new file."""
        if self._rank_pending:
            self._settle_rank()
        self._drain_gpu_values()
        self._close_plugins()  # embeddings
        if self.all_writers is None:
            return
        writers = list(self.all_writers.values())
        self.file_writer = self.all_writers = None
        errors = []
        for writer in writers:
            try:
                writer.close()
            except OSError as exc:
                errors.append(exc)
            self._dropped_by_closed += writer.dropped_events
        if errors:
            raise errors[0]

    def _drain_gpu_values(self) -> None:
        """Waits for the values still being computed on a GPU before the embedding
        thread is waited for: their arrival may hand it an embedding (docs/gpu.md). A
        capture in progress raises here, before anything is closed."""
        for writer in list((self.all_writers or {}).values()):
            queue = writer._pending
            if queue is not None:
                queue.drain()

    @property
    def dropped_events(self) -> int:
        """Accepted events the background writers dropped instead of writing (out of
        memory, or too large once encoded), over every file this writer has had; each was
        also reported by a `RuntimeWarning` naming its tag."""
        writers = list((self.all_writers or {}).values())
        return self._dropped_by_closed + sum(w.dropped_events for w in writers)

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_dynamo.mark(SummaryWriter)
