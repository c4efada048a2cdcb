"""CUDA tensors logged without a host sync (docs/gpu.md).

A call reserves its event's place in the file at once (step and wall time are taken
then, as torch does), enqueues its work on the tensor's current stream (a reduction for
histograms, a copy into reused host buffers, a completion event) and returns. The slot
is filled later on the caller's thread, when the event has completed (`_pending`).

Nothing here reads a device value on the host before its event completed, and nothing
here initializes CUDA: this module only runs for tensors that already live on a GPU.
"""

from __future__ import annotations

import sys
import threading
import warnings
from typing import Any, Callable, Optional

import numpy as np

from . import _capture, _device_histogram, _fused_histogram
from ._pending import Entry, PendingQueue
from .conversions import array_for_core, check_tag
from .file_writer import FileWriter
from .histogram_bins import (
    DEFAULT_BINS,
    check_bucket_count,
    default_bins,
    explicit_edges,
    resolve_edges,
)

#: Tests only: route CPU tensors through this path too (the reductions are plain torch
#: ops and CPU work is complete when it returns, so an always-complete event stands in).
_route_cpu = False


def wants(x: Any) -> bool:
    """Whether `x` is a torch tensor this path takes (one on a GPU)."""
    if not type(x).__module__.startswith("torch") or not hasattr(x, "is_cuda"):
        return False
    return bool(x.is_cuda) or _route_cpu


class _DoneEvent:
    """The completion event of CPU work: torch's CPU ops finish before they return."""

    __slots__ = ()

    def query(self) -> bool:
        return True

    def synchronize(self) -> None:
        return None


_DONE = _DoneEvent()


class HostBuffers:
    """Host buffers for copies from the device, reused by (dtype, size); pinned for
    CUDA sources, since a copy into pageable memory would block the caller."""

    #: Bytes of free buffers kept for reuse; beyond that, freed ones are dropped.
    KEEP_BYTES = 64 << 20

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._free: dict[tuple, list] = {}
        self._free_bytes = 0
        #: Bytes of every buffer made so far and still alive (for the device check).
        self.allocated_bytes = 0

    def take(self, torch: Any, dtype: Any, numel: int, pinned: bool) -> Any:
        key = (dtype, numel, pinned)
        with self._lock:
            free = self._free.get(key)
            if free:
                buf = free.pop()
                self._free_bytes -= buf.numel() * buf.element_size()
                return buf
        buf = torch.empty(numel, dtype=dtype, pin_memory=pinned)
        with self._lock:
            self.allocated_bytes += buf.numel() * buf.element_size()
        return buf

    def give(self, buf: Any) -> None:
        size = buf.numel() * buf.element_size()
        with self._lock:
            if self._free_bytes + size > self.KEEP_BYTES:
                self.allocated_bytes -= size
                return
            key = (buf.dtype, buf.numel(), buf.is_pinned())
            self._free.setdefault(key, []).append(buf)
            self._free_bytes += size


BUFFERS = HostBuffers()
_BOUNDS = _device_histogram.BoundsCache()


class _Events:
    """Completion events, reused once completed (their CUDA event is created once)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._free: list = []

    def record(self, torch: Any, device: Any) -> Any:
        if device.type != "cuda":
            return _DONE
        with self._lock:
            event = self._free.pop() if self._free else None
        if event is None:
            event = torch.cuda.Event()
        event.record(torch.cuda.current_stream(device))
        return event

    def give(self, event: Any) -> None:
        if event is not _DONE:
            with self._lock:
                if len(self._free) < 4096:
                    self._free.append(event)


_EVENTS = _Events()


def check_capture(policy: str, what: str) -> bool:
    """True when the call should go on; raises or warns (once) during a capture."""
    if not _capture.capturing():
        return True
    if policy == _capture.SKIP:
        _warn_skip_once()
        return False
    raise RuntimeError(
        f"ferroboard: {what} with a CUDA tensor while a CUDA graph is being captured: "
        "its value only exists when the graph is replayed, and reading it back is not "
        "allowed during a capture. Log outside the captured region (for example the "
        "graph's static output after replay), or pass on_cuda_capture='skip' to "
        "SummaryWriter to drop such calls with one warning."
    )


_skip_warned = False


def _warn_skip_once() -> None:
    global _skip_warned
    if not _skip_warned:
        _skip_warned = True
        warnings.warn(
            "ferroboard: calls with CUDA tensors during a CUDA graph capture are skipped "
            "(on_cuda_capture='skip'); this warning is shown once",
            RuntimeWarning,
            stacklevel=4,
        )


def _torch() -> Any:
    return sys.modules["torch"]


# -- scalars -----------------------------------------------------------------------------


def checked_scalar(value: Any, name: str = "scalar_value") -> Any:
    """`value` (a device tensor) if it is one real number; else the host path's error."""
    if value.numel() != 1:
        raise ValueError(
            f"{name} must hold exactly one element, got a tensor of shape {tuple(value.shape)}"
        )
    if value.dtype.is_complex:
        raise TypeError(f"{name} must be a real number, got a {value.dtype} tensor")
    return value


def scalar(
    fw: FileWriter,
    tag: str,
    value: Any,
    step: Optional[int],
    walltime: Optional[float],
    new_style: bool,
    double_precision: bool,
    remember: Optional[Callable[[float], None]] = None,
) -> None:
    """`add_scalar` of a one-element device tensor: a copy of its element into a reused
    host buffer and an event; the value reaches the core when the event completed (and
    `remember`, if given, then sees it too)."""
    checked_scalar(value)
    torch = _torch()
    check_tag(tag)
    queue = fw._pending_queue()
    queue.maybe_poll()  # earlier GPU values that have arrived
    core = fw._writer()
    source = value.detach().reshape(1)
    device = source.device

    def enqueue(slot: int) -> Entry:
        host = BUFFERS.take(torch, source.dtype, 1, device.type == "cuda")
        host.copy_(source, non_blocking=True)
        event = _EVENTS.record(torch, device)

        def finish() -> None:
            number = float(host[0])
            core.fill_scalar(slot, tag, number, new_style, double_precision)
            if remember is not None:
                remember(number)

        def release() -> None:
            BUFFERS.give(host)
            _EVENTS.give(event)

        return Entry([slot], event, finish, 8, release, [tag])

    queue.make_room(8)
    with queue.lock():
        slot = core.reserve(step, walltime)
        try:
            entry = enqueue(slot)
        except BaseException:
            core.cancel(slot)
            raise
        queue.add(entry)


# -- histograms --------------------------------------------------------------------------


class _Plan:
    """How one histogram is computed: reduced on the device against `edges` (None: the
    default edges), or copied out whole and binned on the host."""

    __slots__ = ("reduce", "edges", "key")

    def __init__(self, reduce: bool, edges: Optional[np.ndarray], key: Any) -> None:
        self.reduce = reduce
        self.edges = edges
        self.key = key


_default_edges: Optional[np.ndarray] = None
_ONE_VALUE = np.zeros(1)


def _default_edge_array() -> np.ndarray:
    global _default_edges
    if _default_edges is None:
        _default_edges = np.asarray(default_bins(), dtype=np.float64)
    return _default_edges


def plan(values: Any, bins: Any) -> _Plan:
    """Checks `bins` (as the host path does) and picks the device reduction where it
    can reproduce numpy's buckets exactly."""
    if isinstance(bins, str) and bins == DEFAULT_BINS:
        edges: Optional[np.ndarray] = None
        key: Any = DEFAULT_BINS
    elif isinstance(bins, (str, int, np.integer)) and not isinstance(bins, bool):
        # Integer counts and numpy's strategies need the data's range: host binning,
        # after the copy completed. What can be checked without the data is checked now.
        if isinstance(bins, str):
            np.histogram_bin_edges(_ONE_VALUE, bins)  # numpy's error for an unknown name
        else:
            if int(bins) < 1:
                raise ValueError(f"bins must be positive when an integer, got {int(bins)}")
            check_bucket_count(int(bins))
        return _Plan(False, None, None)
    else:
        edges = explicit_edges(bins)
        if not _device_histogram.edges_supported(edges):
            return _Plan(False, edges, None)
        key = edges.tobytes()
    if not _device_histogram.supported(values):
        return _Plan(False, edges, None)
    return _Plan(True, edges, key)


class Item:
    """One histogram of a device tensor, checked, with its reserved slot."""

    __slots__ = ("tag", "values", "plan", "slot")

    def __init__(self, tag: str, values: Any, plan: _Plan) -> None:
        self.tag = tag
        self.values = values
        self.plan = plan
        self.slot = -1


def prepare(tag: str, values: Any, bins: Any) -> Item:
    """Checks what `add_histogram` checks before anything is reserved or enqueued."""
    check_tag(tag)
    if values.numel() == 0:
        raise ValueError(f"values: the input has no element (shape {tuple(values.shape)})")
    if values.dtype.is_complex:
        raise TypeError(
            f"values: unsupported dtype {values.dtype} (expected bool, integer or float)"
        )
    return Item(tag, values, plan(values, bins))


def estimate_bytes(items: list[Item]) -> int:
    """Host bytes the entries of `items` will hold."""
    total = 0
    for item in items:
        if item.plan.reduce:
            edges = item.plan.edges
            total += 8 * _device_histogram.row_length(1549 if edges is None else len(edges))
        else:
            total += item.values.numel() * item.values.element_size()
    return total


def enqueue(
    queue: PendingQueue,
    core: Any,
    items: list[Item],
    bins: Any,
    max_bins: Optional[int],
) -> None:
    """Enqueues the histograms of `items` (their slots reserved, in call order, by the
    caller, who holds `queue.lock()`): for each device one reduction output, one copy to
    the host and one event for all the reduced ones; one copy-out entry for each other.
    If anything fails, every slot of `items` not yet handed to an entry is cancelled."""
    torch = _torch()
    groups: dict[Any, list[Item]] = {}
    copied = []
    for item in items:
        if item.plan.reduce:
            key = (str(item.values.device), item.plan.key)
            groups.setdefault(key, []).append(item)
        else:
            copied.append(item)
    queued: set[int] = set()
    try:
        with torch.no_grad():
            for group in groups.values():
                entry = _reduce_group(torch, core, group, max_bins)
                queue.add(entry)
                queued.update(entry.slots)
            for item in copied:
                entry = _copy_out(torch, core, item, bins, max_bins)
                queue.add(entry)
                queued.update(entry.slots)
    except BaseException:
        for item in items:
            if item.slot not in queued:
                core.cancel(item.slot)
        raise


def _reduce_group(torch: Any, core: Any, group: list[Item], max_bins: Optional[int]) -> Entry:
    device = group[0].values.device
    if _fused_histogram.usable(device) and all(
        _fused_histogram.supported(item.values) for item in group
    ):
        try:
            return _fused_group(torch, core, group, max_bins)
        except Exception as exc:  # noqa: BLE001 - e.g. no kernel for this GPU: eager path
            _fused_histogram.enabled = False
            warnings.warn(
                "ferroboard: the fused histogram kernel failed "
                f"({type(exc).__name__}: {exc}); using the eager reduction from now on",
                RuntimeWarning,
                stacklevel=5,
            )
    edges = group[0].plan.edges
    edge_array = _default_edge_array() if edges is None else edges
    length = _device_histogram.row_length(len(edge_array))
    rows = torch.empty(len(group) * length, dtype=torch.float64, device=device)
    bounds: dict[bool, Any] = {}

    def bound(float32: bool) -> Any:
        if float32 not in bounds:
            bounds[float32] = _BOUNDS.get(torch, device, group[0].plan.key, edge_array, float32)
        return bounds[float32]

    for n, item in enumerate(group):
        float32 = _device_histogram.compares_in_float32(item.values)
        _device_histogram.reduce_into(
            torch,
            item.values,
            bound(float32),
            rows[n * length : (n + 1) * length],
            count_nan=edges is None,
        )
    host = BUFFERS.take(torch, torch.float64, rows.numel(), device.type == "cuda")
    host.copy_(rows, non_blocking=True)
    event = _EVENTS.record(torch, device)
    meta = [(item.slot, item.tag, item.values.numel()) for item in group]

    def finish() -> None:
        data = host.numpy()
        for n, (slot, tag, numel) in enumerate(meta):
            stats, counts = _device_histogram.finish_arguments(
                data[n * length : (n + 1) * length], numel
            )
            core.fill_histogram_counts(slot, tag, counts, stats, edges, max_bins)

    def release() -> None:
        BUFFERS.give(host)
        _EVENTS.give(event)

    nbytes = host.numel() * 8
    return Entry([m[0] for m in meta], event, finish, nbytes, release, [m[1] for m in meta])


def _copy_out(torch: Any, core: Any, item: Item, bins: Any, max_bins: Optional[int]) -> Entry:
    """The whole tensor copied to host memory, binned there once the copy completed."""
    source = item.values.detach()
    device = source.device
    host = BUFFERS.take(torch, source.dtype, source.numel(), device.type == "cuda")
    host.copy_(source.reshape(-1), non_blocking=True)
    event = _EVENTS.record(torch, device)
    tag, slot = item.tag, item.slot

    def finish() -> None:
        array, code = array_for_core(host, "values")
        if array.dtype.kind == "f" and np.isnan(array).all():
            raise ValueError(f"values: all {array.size} values are NaN; nothing to bin")
        edges = resolve_edges(bins, array, code)
        core.fill_histogram(slot, tag, array, code, edges, max_bins)

    def release() -> None:
        BUFFERS.give(host)
        _EVENTS.give(event)

    nbytes = host.numel() * host.element_size()
    return Entry([slot], event, finish, nbytes, release, [tag])


def _fused_group(torch: Any, core: Any, group: list[Item], max_bins: Optional[int]) -> Entry:
    """The group's histograms with one kernel launch per dtype (`_fused_histogram`),
    one copy of the counts and one of the chunk statistics per launch, one event."""
    device = group[0].values.device
    edges = group[0].plan.edges
    edge_array = _default_edge_array() if edges is None else edges
    edge_count = len(edge_array)
    pinned = device.type == "cuda"
    by_dtype: dict[str, list[int]] = {}
    for n, item in enumerate(group):
        by_dtype.setdefault(str(item.values.dtype), []).append(n)
    parts = []
    held: list = []
    for indices in by_dtype.values():
        values = [group[n].values for n in indices]
        float32 = _device_histogram.compares_in_float32(values[0])
        bounds = _BOUNDS.get(torch, device, group[0].plan.key, edge_array, float32)
        pointers = BUFFERS.take(torch, torch.int64, len(values), pinned)
        held.append(pointers)
        counts, partials, layout = _fused_histogram.launch(
            torch, values, bounds, edge_count, pointers
        )
        host_counts = BUFFERS.take(torch, torch.float64, counts.numel(), pinned)
        host_partials = BUFFERS.take(torch, torch.float64, partials.numel(), pinned)
        held += [host_counts, host_partials]
        host_counts.copy_(counts.reshape(-1), non_blocking=True)
        host_partials.copy_(partials.reshape(-1), non_blocking=True)
        parts.append((indices, host_counts, host_partials, layout, counts.shape[1]))
    event = _EVENTS.record(torch, device)
    meta = [(item.slot, item.tag, item.values.numel()) for item in group]

    def finish() -> None:
        for indices, counts, partials, layout, nbins in parts:
            rows = _fused_histogram.finish_rows(
                counts.numpy().reshape(-1, nbins),
                partials.numpy().reshape(-1, 5),
                layout,
                edge_count,
                count_nan=edges is None,
            )
            for row, n in zip(rows, indices):
                slot, tag, numel = meta[n]
                stats, slot_counts = _device_histogram.finish_arguments(row, numel)
                core.fill_histogram_counts(slot, tag, slot_counts, stats, edges, max_bins)

    def release() -> None:
        for buffer in held:
            BUFFERS.give(buffer)
        _EVENTS.give(event)

    nbytes = sum(b.numel() * b.element_size() for b in held)
    return Entry([m[0] for m in meta], event, finish, nbytes, release, [m[1] for m in meta])
