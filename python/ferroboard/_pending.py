"""Events whose values are still being computed on a GPU, in the order they were logged.

Each entry is one reserved slot (or several, for `add_histograms`) of a core writer, a
completion event (a `torch.cuda.Event` recorded after the work and the copy to host
memory) and a `finish` callable that reads the host buffer and fills the slots. The core
keeps file order: it writes everything up to the first slot still unfilled
(docs/gpu.md). Some entries write outside the queue's file instead (an embedding's
files, an `add_hparams` sub-run): they hold no slot, and are finished in the same order.

Only the thread that logs touches CUDA here, and only through the event: a poll runs
from the writer's own calls (at most once per `POLL_INTERVAL`), from `poll()`, and from
`flush()`/`close()`, which wait for the events with the GIL released. Nothing is queried
while the current stream is capturing a CUDA graph, nor in a forked child (which forgets
its parent's entries: CUDA cannot be used there, and the parent writes them).
"""

from __future__ import annotations

import collections
import os
import threading
import time
import warnings
from typing import Any, Callable, Optional

from . import _capture, _lifecycle

#: Least time between two polls made by ordinary `add_*` calls.
POLL_INTERVAL = 0.001
#: Host bytes the entries may hold before a new one waits for the oldest.
MAX_PENDING_HOST_BYTES = 256 << 20
#: Entries that may wait before a new one waits for the oldest.
MAX_PENDING_ENTRIES = 65536


class Entry:
    """Reserved `slots`, filled by `finish` once `event` completed; `release` returns
    the host buffer and the event for reuse; `tags` name the events in reports.

    `outside` counts, by kind ("event", "embedding"), what `finish` writes elsewhere
    than in the slots (an `add_hparams` sub-run's events, an embedding's files): what
    a cancelled entry reports as lost besides its slots.
    """

    __slots__ = ("slots", "event", "finish", "nbytes", "release", "tags", "outside")

    def __init__(
        self,
        slots: list[int],
        event: Any,
        finish: Callable[[], None],
        nbytes: int,
        release: Optional[Callable[[], None]],
        tags: list[str],
        outside: Optional[dict[str, int]] = None,
    ) -> None:
        self.slots = slots
        self.event = event
        self.finish = finish
        self.nbytes = nbytes
        self.release = release
        self.tags = tags
        self.outside = outside


class PendingQueue:
    """The pending entries of one core writer (one event file)."""

    def __init__(self, core: Any) -> None:
        self._core = core
        self._entries: collections.deque[Entry] = collections.deque()
        # Held while an entry is finished, so a flush that finds the queue empty knows
        # every earlier slot is filled (another thread may be finishing the head).
        self._lock = threading.RLock()
        self._bytes = 0
        self._next_poll = 0.0
        self._pid = os.getpid()
        #: Events (slots and those written elsewhere) and embeddings given up (CUDA
        #: error, failed finishing, close without a device).
        self.cancelled = 0
        _lifecycle.register(self, _lifecycle.GPU_QUEUE)

    def __len__(self) -> int:
        return len(self._entries)

    # -- adding -----------------------------------------------------------------------

    def add(self, entry: Entry) -> None:
        """Queues `entry` (its slots are already reserved, in order, by the caller,
        which holds `lock()` across the reservation and this call)."""
        self._entries.append(entry)
        self._bytes += entry.nbytes

    def holds(self, kind: str) -> bool:
        """Whether a pending entry writes `kind` ("embedding") outside the file."""
        with self._lock:
            return any(e.outside is not None and kind in e.outside for e in self._entries)

    def lock(self) -> Any:
        return self._lock

    def make_room(self, nbytes: int) -> None:
        """Waits for the oldest entries while the budget would be exceeded."""
        while self._entries and (
            self._bytes + nbytes > MAX_PENDING_HOST_BYTES
            or len(self._entries) >= MAX_PENDING_ENTRIES
        ):
            if not self._wait_head():
                return

    # -- completing ---------------------------------------------------------------------

    def maybe_poll(self) -> None:
        """The writer's own calls: finish what is done, at most once per interval."""
        now = time.perf_counter()
        if now < self._next_poll or not self._entries:
            return
        self._next_poll = now + POLL_INTERVAL
        self.poll()

    def poll(self) -> int:
        """Finishes every leading entry whose event has completed; never waits. Returns
        how many entries are still pending."""
        if self._forked() or not self._entries or _capture.capturing():
            return len(self._entries)
        with self._lock:
            while self._entries:
                head = self._entries[0]
                try:
                    done = head.event.query()
                except Exception as exc:  # noqa: BLE001 - a CUDA error: give up all
                    self._cancel_all(f"the device reported an error: {exc}")
                    break
                if not done:
                    break
                self._finish_head(head)
        return len(self._entries)

    def drain(self) -> None:
        """Waits for every entry (GIL released while waiting) and finishes it."""
        if self._forked() or not self._entries:
            return
        if _capture.capturing():
            raise RuntimeError(
                "ferroboard: flush()/close() wait for values still being computed on "
                "the GPU, which is not allowed while a CUDA graph is being captured; "
                "flush after the capture"
            )
        while self._entries:
            if not self._wait_head():
                return

    def close(self) -> None:
        """At exit (`_lifecycle`): waits for every entry before the embedding threads
        and the event files are closed, which its entries may still write to."""
        self.drain()

    def _wait_head(self) -> bool:
        """Waits for the oldest entry and finishes it; False when the queue was given
        up instead (a device error)."""
        with self._lock:
            if not self._entries:
                return True
            head = self._entries[0]
        try:
            head.event.synchronize()  # releases the GIL while it waits
        except Exception as exc:  # noqa: BLE001 - a CUDA error: give up all
            with self._lock:
                self._cancel_all(f"the device reported an error: {exc}")
            return False
        with self._lock:
            if self._entries and self._entries[0] is head:
                self._finish_head(head)
        return True

    def _finish_head(self, head: Entry) -> None:
        self._entries.popleft()
        self._bytes -= head.nbytes
        try:
            head.finish()
        except Exception as exc:  # noqa: BLE001 - the slot is cancelled, the caller warned
            self._cancel(head, f"{type(exc).__name__}: {exc}")
        finally:
            if head.release is not None:
                head.release()

    # -- giving up ------------------------------------------------------------------------

    def cancel_all(self, why: str) -> None:
        with self._lock:
            self._cancel_all(why)

    def _cancel_all(self, why: str) -> None:
        entries = list(self._entries)
        self._entries.clear()
        self._bytes = 0
        lost: collections.Counter[str] = collections.Counter()
        for entry in entries:
            lost += self._cancel_slots(entry)
            if entry.release is not None:
                entry.release()
        if lost:
            self.cancelled += sum(lost.values())
            warnings.warn(
                f"ferroboard: {_counted(lost)} with values computed on the GPU were not "
                f"written: {why}",
                RuntimeWarning,
                stacklevel=4,
            )

    def _cancel(self, entry: Entry, why: str) -> None:
        lost = self._cancel_slots(entry)
        self.cancelled += sum(lost.values())
        tags = ", ".join(repr(t) for t in entry.tags[:5])
        more = f" and {len(entry.tags) - 5} more" if len(entry.tags) > 5 else ""
        warnings.warn(
            f"ferroboard: {_counted(lost)} with values computed on the GPU were not "
            f"written (tag {tags}{more}): {why}",
            RuntimeWarning,
            stacklevel=5,
        )

    def _cancel_slots(self, entry: Entry) -> collections.Counter[str]:
        """Cancels the entry's slots; what it loses, by kind."""
        lost: collections.Counter[str] = collections.Counter(entry.outside or {})
        for slot in entry.slots:
            try:
                if self._core.cancel(slot):
                    lost["event"] += 1
            except Exception:  # noqa: BLE001 - the writer is closed or failed: nothing to do
                lost["event"] += 1
        return lost

    def _forked(self) -> bool:
        if os.getpid() == self._pid:
            return False
        # A child of fork(): the entries are the parent's, which writes them; their
        # events and buffers belong to a CUDA context this process cannot use.
        self._entries.clear()
        self._bytes = 0
        self._lock = threading.RLock()
        self._pid = os.getpid()
        return True


def _counted(lost: collections.Counter[str]) -> str:
    """'3 event(s)', '3 event(s) and 1 embedding(s)'."""
    return " and ".join(f"{n} {kind}(s)" for kind, n in sorted(lost.items()) if n)
