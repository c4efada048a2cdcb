"""Process-level care of everything that owns a background thread: close it at exit,
forget it after fork. The one exit registry of the Python package (the core has its own
hook for writers opened after this one ran).

G4 (docs/architecture.md): writers still open when the interpreter exits are flushed and
closed, in the process that created them. G9: a forked child never touches its parent's
file or background thread (which does not exist in the child); it opens its own file on
first use.

The core enforces the fork rule too: a core writer inherited through fork refuses every
call with a RuntimeError and never takes its lock (which the parent's worker may have held
at the instant of the fork), so even a stray reference cannot hang the child.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import weakref
from typing import Any

#: What is closed at exit, in this order: a `GlobalSummaryWriter` first (it writes what
#: other processes sent through its `SummaryWriter`), then the queues of values still
#: being computed on a GPU (finishing an entry may hand an embedding to its thread or
#: write an `add_hparams` sub-run), then embedding threads, then the event files.
GLOBAL_WRITER, GPU_QUEUE, EMBEDDINGS, FILE_WRITER = (
    "global writer",
    "queue of GPU values",
    "embeddings",
    "file writer",
)
_ORDER = (GLOBAL_WRITER, GPU_QUEUE, EMBEDDINGS, FILE_WRITER)

_live: dict[str, weakref.WeakSet[Any]] = {kind: weakref.WeakSet() for kind in _ORDER}
_lock = threading.Lock()
# Core writers inherited through fork. Their worker thread does not exist in the child;
# they are kept here, untouched, until the child exits.
_inherited: list = []


def register(owner: Any, kind: str = FILE_WRITER) -> None:
    """Closes `owner` (anything with `close()`) at exit unless it is closed before."""
    with _lock:
        _live[kind].add(owner)


def unregister(owner: Any, kind: str = FILE_WRITER) -> None:
    with _lock:
        _live[kind].discard(owner)


def _describe(owner: Any, kind: str) -> str:
    get_logdir = getattr(owner, "get_logdir", None) if kind == FILE_WRITER else None
    return f"closing {get_logdir()}" if get_logdir is not None else f"closing a {kind}"


def _close_all() -> None:
    for kind in _ORDER:
        with _lock:
            owners = list(_live[kind])
        for owner in owners:
            try:
                owner.close()
            except Exception as exc:  # noqa: BLE001 - report and go on closing the others
                print(
                    f"ferroboard: {_describe(owner, kind)} at exit failed: {exc}", file=sys.stderr
                )


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # the parent's lock may have been held at fork time
    for writer in list(_live[FILE_WRITER]):
        core = writer._forget_after_fork()
        if core is not None:
            _inherited.append(core)
    for owners in _live.values():
        owners.clear()  # the parent's threads do not exist here


atexit.register(_close_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
