"""`SummaryWriter`'s rank gate: whether this process writes, and where.

Decided at construction from what `ranks.detect` finds. When nothing is found but the
process may still join a group (`ranks.may_join_later`: an `mp.spawn` worker whose
`init_process_group` has not run yet), the decision is provisional: the first `add_*` (or
`flush`, `close`, `is_writing`, `_get_file_writer`) asks `torch.distributed` once more.
Until then every `add_*` is an instance attribute that settles the question and then
calls the real method; afterwards the instance holds no `add_*` attribute (or the no-ops
of a non-writing rank). Those attributes materialize the instance dict, which makes every
later attribute load a little slower (about 40 ns per `add_scalar` on CPython 3.11), so a
plain script's writer, settled at construction, never gets them.
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections.abc import Iterator
from typing import Any, Optional

from . import ranks as _ranks
from ._noop_writer import NoopFileWriter
from ._writer_base import AnyFileWriter
from .file_writer import FileWriter
from .ranks import Placement, RankSpec


class _FirstCall:
    """Stands in for `add_*` until the rank is settled (a weak reference: no cycle)."""

    __slots__ = ("_owner", "_name")

    def __init__(self, owner: Any, name: str) -> None:
        self._owner = weakref.ref(owner)
        self._name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        owner = self._owner()
        if owner is None:  # pragma: no cover - a bound attribute keeps its owner alive
            return None
        owner._settle_rank()
        return getattr(owner, self._name)(*args, **kwargs)


def _missing_dirs(path: str) -> list[str]:
    """The directories that creating `path` would make, deepest first."""
    missing = []
    path = os.path.abspath(path)
    while not os.path.exists(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return missing


class RankGate:
    """Mixed into `SummaryWriter`, which provides the attributes declared here."""

    log_dir: str
    file_writer: Optional[AnyFileWriter]
    all_writers: Optional[dict[str, AnyFileWriter]]
    purge_step: Optional[int]
    _write_to_disk: bool

    def _disable(self) -> None:  # pragma: no cover - SummaryWriter's
        raise NotImplementedError

    # -- construction -----------------------------------------------------------------------

    def _init_ranks(self, ranks: Any, rank: Any, per_rank_dir: Any, log_dir_given: bool) -> None:
        """Settles the arguments and environment, detects the placement, sets `log_dir`."""
        spec, per_rank_dir, rank = _ranks.settle_arguments(ranks, per_rank_dir, rank)
        self._rank_spec: RankSpec = spec
        self._per_rank_dir: bool = per_rank_dir
        self._explicit_rank: Optional[int] = rank
        self._base_log_dir = self.log_dir
        self._rank_lock = threading.Lock()
        self._created_dirs: list[str] = []
        self._header_events = 0
        self._purge_at_open = self.purge_step
        placement = self._detect()
        if per_rank_dir and not log_dir_given and placement is not None:
            if placement.multi_process:
                raise ValueError(
                    "per_rank_dir=True needs an explicit log_dir in a distributed run "
                    "(the default runs/<time>_<host> differs between ranks and nodes)"
                )
        self._apply_placement(placement)
        self._rank_pending = self._pending_after(placement)

    def _pending_after(self, placement: Optional[Placement]) -> bool:
        """Whether the first `add_*` must ask `torch.distributed` again."""
        return (
            self._write_to_disk
            and self._explicit_rank is None
            and placement is None
            and _ranks.may_join_later()
        )

    def _detect(self) -> Optional[Placement]:
        found = _ranks.detect()
        if self._explicit_rank is None:
            return found
        world_size = found.world_size if found is not None else None
        if world_size is not None and self._explicit_rank >= world_size:
            raise ValueError(f"rank={self._explicit_rank} is not below the world size {world_size}")
        return Placement(self._explicit_rank, world_size, "rank=")

    def _apply_placement(self, placement: Optional[Placement]) -> None:
        self._placement = placement
        self._is_writing = self._write_to_disk and _ranks.writes(self._rank_spec, placement)
        if self._per_rank_dir:
            self.log_dir = _ranks.rank_dir(self._base_log_dir, placement)
        if self._write_to_disk:
            _ranks.announce(self._rank_spec, self._per_rank_dir, placement)

    def _start(self) -> None:
        """After `__init__` set everything up: open the file, or become a no-op."""
        if self._is_writing:
            self._created_dirs = _missing_dirs(self.log_dir)
            core = self._open_default()._writer()
            self._header_events = core.accepted  # the purge markers, if any
        else:
            self._disable()
            self._noop_file_writer()
        if self._rank_pending:
            self._install_first_calls()

    @property
    def is_writing(self) -> bool:
        """Whether this writer writes: False on a non-writing rank or with
        ``write_to_disk=False`` (skip expensive preparation then)."""
        if self._rank_pending:
            self._settle_rank()
        return self._is_writing

    def _open_default(self) -> FileWriter:  # pragma: no cover - SummaryWriter's
        raise NotImplementedError

    def _noop_file_writer(self) -> NoopFileWriter:
        """tensorboardX's dummy file writer for a writer that writes nothing."""
        writer = self.file_writer
        if not isinstance(writer, NoopFileWriter) or writer.get_logdir() != self.log_dir:
            writer = NoopFileWriter(self.log_dir)
            self.file_writer = writer
            self.all_writers = {self.log_dir: writer}
        return writer

    # -- the lazy re-check -------------------------------------------------------------------

    def _install_first_calls(self) -> None:
        for name in dir(type(self)):
            if name.startswith("add_"):
                self.__dict__[name] = _FirstCall(self, name)

    def _settle_rank(self) -> None:
        """Asks `torch.distributed` once; if it now names another rank, moves or stops."""
        with self._rank_lock:
            if not self._rank_pending:
                return
            self._rank_pending = False
            placement = _ranks.torch_placement()
            was_writing, old_dir = self._is_writing, self.log_dir
            if placement is not None:
                self._apply_placement(placement)
            if was_writing and (not self._is_writing or self.log_dir != old_dir):
                self._withdraw()
            if self._is_writing:
                if isinstance(self.file_writer, NoopFileWriter):
                    self.file_writer = self.all_writers = None  # opened on first use
            else:
                self._disable()
                self._noop_file_writer()
            # Last: a call racing in on another thread waits on the lock in _FirstCall
            # until the writer is in its final state.
            for name in [k for k, v in self.__dict__.items() if isinstance(v, _FirstCall)]:
                del self.__dict__[name]

    def _withdraw(self) -> None:
        """Closes the file this writer opened for a placement that turned out wrong, and
        removes it if it holds nothing but its header (never anything else): an extra
        empty file in a run is what stalls TensorBoard's Python loader."""
        writers = list((self.all_writers or {}).values())
        self.file_writer = self.all_writers = None
        self.purge_step = self._purge_at_open  # for the file of the right placement
        for writer in writers:
            core = writer._core
            path = core.path if core is not None else None
            header_only = (
                len(writers) == 1 and core is not None and core.accepted == self._header_events
            )
            writer.close()
            if header_only and path is not None:
                with contextlib.suppress(OSError):
                    os.unlink(path)
                for directory in self._created_dirs:  # deepest first; only if empty
                    try:
                        os.rmdir(directory)
                    except OSError:
                        break
        self._created_dirs = []

    # -- tensorboardX's use_metadata wraps the add_* methods: settle them first ---------------

    @contextlib.contextmanager
    def use_metadata(self, *, global_step: Any = None, walltime: Any = None) -> Iterator[Any]:
        if self._rank_pending:
            self._settle_rank()
        with super().use_metadata(global_step=global_step, walltime=walltime) as writer:  # type: ignore[misc]
            yield writer

    # -- pickling: a writer sent to another process belongs to that process's rank ----------

    def __getstate__(self) -> dict:
        state = super().__getstate__()  # type: ignore[misc]
        for key in ("_rank_lock", "_created_dirs", "_placement", "_header_events"):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)  # type: ignore[misc]
        self._rank_lock = threading.Lock()
        self._created_dirs = []
        self._header_events = 0
        if "_rank_spec" not in state:  # pragma: no cover - pickled by an older version
            return
        self.log_dir = self._base_log_dir
        placement = self._detect()
        self._apply_placement(placement)
        self._rank_pending = self._pending_after(placement)
        if not self._is_writing:
            self._disable()
            self._noop_file_writer()
        if self._rank_pending:
            self._install_first_calls()
