"""Process-level care of live writers: close them at exit, forget them after fork.

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

_live: weakref.WeakSet[Any] = weakref.WeakSet()
_lock = threading.Lock()
# Core writers inherited through fork. Their worker thread does not exist in the child;
# they are kept here, untouched, until the child exits.
_inherited: list = []


def register(file_writer: Any) -> None:
    with _lock:
        _live.add(file_writer)


def unregister(file_writer: Any) -> None:
    with _lock:
        _live.discard(file_writer)


def _close_all() -> None:
    with _lock:
        writers = list(_live)
    for writer in writers:
        try:
            writer.close()
        except Exception as exc:  # noqa: BLE001 - report and go on closing the others
            message = f"ferroboard: closing {writer.get_logdir()} at exit failed: {exc}"
            print(message, file=sys.stderr)


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # the parent's lock may have been held at fork time
    for writer in list(_live):
        core = writer._forget_after_fork()
        if core is not None:
            _inherited.append(core)
    _live.clear()


atexit.register(_close_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
