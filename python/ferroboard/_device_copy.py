"""Media, tensors, PR curves and meshes of CUDA tensors, logged without a host sync
(docs/gpu.md).

The call checks its arguments, reserves the event's place in file order (step and wall
time taken then, as torch does), enqueues a copy of each CUDA tensor into host memory
(pinned, reused by dtype and size) on the tensor's current stream, records a completion
event and returns. When the event has completed, the same summary builder as the host
path runs on the host copies and fills the slot (`_pending`), so the event is the one
the host path writes, byte for byte. `defer_elsewhere` does the same for what is written
outside the event file (`_device_plugins`: embeddings, `add_hparams` sub-runs).

Nothing here reads a CUDA tensor on the host (`.cpu()`, `.item()`, `.numpy()`) before
its event completed: the builder only ever sees the host copies.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Optional

import numpy as np

from . import _device_path
from ._pending import Entry
from .file_writer import FileWriter

#: Builds the summary (a `_core.SummaryEncoder`) from the host values, by argument name.
Build = Callable[[dict], Any]


def any_on_device(*values: Any) -> bool:
    """Whether one of `values` is a tensor the device path takes (one on a GPU)."""
    return any(_device_path.wants(v) for v in values if v is not None)


def stacked_on_device(images: Any) -> Optional[Any]:
    """A list of 3-D CUDA tensors (tensorboardX's `add_images` input) stacked on their
    device, or None when the list is not made only of tensors of one device."""
    if not isinstance(images, (list, tuple)) or not images:
        return None
    if not all(_device_path.wants(x) for x in images):
        return None
    if len({str(x.device) for x in images}) != 1:
        return None
    if len({tuple(x.shape) for x in images}) != 1:
        return None  # the host path names the shapes in its error
    return sys.modules["torch"].stack([x.detach() for x in images])


class _AllEvents:
    """The completion of copies from several devices: done when each one is."""

    __slots__ = ("events",)

    def __init__(self, events: list) -> None:
        self.events = events

    def query(self) -> bool:
        return all(event.query() for event in self.events)

    def synchronize(self) -> None:
        for event in self.events:
            event.synchronize()


class _Copy:
    """One CUDA tensor argument: its (contiguous) source and its host buffer."""

    __slots__ = ("source", "buffer", "view")

    def __init__(self, torch: Any, value: Any) -> None:
        source = value.detach()
        if not source.is_contiguous():
            source = source.contiguous()  # a device op on the current stream, no sync
        self.source = source
        pinned = source.device.type == "cuda"
        self.buffer = _device_path.BUFFERS.take(torch, source.dtype, source.numel(), pinned)
        self.view = self.buffer.view(source.shape)

    @property
    def nbytes(self) -> int:
        return int(self.buffer.numel() * self.buffer.element_size())


def _host_snapshot(value: Any) -> Any:
    """A host argument copied at the call, as the host path copies it then: the caller
    may change it before the values of the CUDA arguments arrive."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        return value.detach().clone()
    return value


def defer(
    fw: FileWriter,
    what: str,
    tag: str,
    values: dict,
    build: Build,
    step: Optional[int],
    walltime: Optional[float],
) -> None:
    """Logs the summary `build` makes from `values` (argument name to value; the CUDA
    tensors among them arrive later) in the file of `fw`, without a sync.

    `build` runs twice: at the call on the host buffers before anything is copied into
    them (it checks every argument's shape and dtype, so bad input raises here, naming
    it; the summary it makes is dropped), and once the copies completed (the summary
    that is written). Builders only look at shapes and dtypes to reject input.
    """

    def start(core: Any) -> tuple[list[int], Callable[[dict], None]]:
        slot = core.reserve(step, walltime)
        return [slot], lambda host: core.fill_encoder(slot, build(host))

    _queue(fw, [tag], values, build, start, None)


def defer_elsewhere(
    fw: FileWriter,
    tags: list[str],
    values: dict,
    check: Callable[[dict], None],
    deliver: Callable[[dict], None],
    outside: dict[str, int],
) -> None:
    """Runs `deliver(host)` once the CUDA tensors among `values` arrived in host memory,
    in order with the other pending entries of `fw`'s file, but holding no slot in it:
    for what is written elsewhere (an embedding's files, an `add_hparams` sub-run).

    `check(host)` runs at the call on the host buffers before anything is copied into
    them (bad input raises there) and may replace host arguments in `host` by what the
    host path takes from them at the call. `outside` counts what `deliver` writes, by
    kind, for the report if it is cancelled. Without CUDA tensors in `values`, the entry
    waits only for those before it (an embedding given host arrays behind one given a
    CUDA tensor keeps its place in the projector config).
    """
    _queue(fw, tags, values, check, lambda core: ([], deliver), outside)


def _queue(
    fw: FileWriter,
    tags: list[str],
    values: dict,
    check: Callable[[dict], Any],
    start: Callable[[Any], tuple[list[int], Callable[[dict], None]]],
    outside: Optional[dict[str, int]],
) -> None:
    """Copies the CUDA tensors of `values` to host buffers, runs `check` on the host
    values, then (holding the queue's lock) `start(core)`, which reserves the entry's
    slots and returns them with what fills them from the host values."""
    torch = sys.modules["torch"]
    copies: dict[str, _Copy] = {}
    enqueued = False
    try:
        host: dict[str, Any] = {}
        for name, value in values.items():
            if _device_path.wants(value):
                copies[name] = _Copy(torch, value)
                host[name] = copies[name].view
            else:
                host[name] = _host_snapshot(value)
        check(host)  # the arguments' checks; the buffers hold no values yet
        queue = fw._pending_queue()
        queue.maybe_poll()  # earlier GPU values that have arrived
        nbytes = sum(copy.nbytes for copy in copies.values())
        queue.make_room(nbytes)
        with queue.lock():  # a flush elsewhere sees this slot filled or waited for
            core = fw._writer()
            slots, fill = start(core)
            enqueued = True
            try:
                event = _enqueue(torch, copies)
            except BaseException:
                for slot in slots:
                    core.cancel(slot)
                raise
            queue.add(_entry(slots, tags, host, fill, copies, event, nbytes, outside))
    except BaseException:
        if not enqueued:  # else a copy may still be writing into them: dropped
            for copy in copies.values():
                _device_path.BUFFERS.give(copy.buffer)
        copies.clear()
        raise


def _enqueue(torch: Any, copies: dict[str, _Copy]) -> Any:
    """Copies every source into its buffer and records one event per device (none
    without copies: the entry is complete at once)."""
    devices: dict[str, Any] = {}
    with torch.no_grad():
        for copy in copies.values():
            copy.buffer.copy_(copy.source.reshape(-1), non_blocking=True)
            devices.setdefault(str(copy.source.device), copy.source.device)
    if not devices:
        return _device_path._DONE
    events = [_device_path._EVENTS.record(torch, device) for device in devices.values()]
    return events[0] if len(events) == 1 else _AllEvents(events)


def _entry(
    slots: list[int],
    tags: list[str],
    host: dict,
    fill: Callable[[dict], None],
    copies: dict[str, _Copy],
    event: Any,
    nbytes: int,
    outside: Optional[dict[str, int]],
) -> Entry:
    buffers = [copy.buffer for copy in copies.values()]
    copies.clear()  # the entry owns the buffers from here on

    def finish() -> None:
        fill(host)

    def release() -> None:
        for buffer in buffers:
            _device_path.BUFFERS.give(buffer)
        events = event.events if isinstance(event, _AllEvents) else [event]
        for one in events:
            _device_path._EVENTS.give(one)

    return Entry(slots, event, finish, nbytes, release, tags, outside)
