"""`add_histograms` of many CUDA tensors in one Triton kernel launch per dtype
(docs/gpu.md, "The fused kernel").

The eager reduction (`_device_histogram.reduce_into`) runs several torch ops per tensor
(min/max, sum, norm, bucketize, index_add), each a pass over the tensor and a launch.
This kernel reads every tensor of a group once: each program takes a chunk of one tensor
(a table built on the host from the shapes says which), and computes the chunk's min,
max, sum, sum of squares and NaN count, and its bucket counts with the same comparisons
as the eager path (the same bounds: float32 values against the edges rounded up to
float32, float64 values against the edges; "number of bounds at or below the value",
NaN in the last slot). Chunk statistics go to a partials table and the counts are added
into one row per tensor; both are copied to the host, where the chunks' statistics are
combined per tensor (`finish_rows`), in the eager path's row layout.

Off unless `FERROBOARD_FUSED_HISTOGRAMS=1` (or `enabled = True`): it is checked bucket
for bucket against the eager path in Triton's interpreter on CPU, and on a GPU by
`benches/gpu_check.py`. Missing Triton or an unsupported dtype (integers, bool) take the
eager path.
"""

from __future__ import annotations

import functools
import os
import threading
from typing import Any, Optional

import numpy as np

from . import _device_histogram

#: Whether `add_histograms` uses the kernel for CUDA tensors (CPU tensors too when the
#: Triton interpreter is on, which is how the tests run it).
enabled = os.environ.get("FERROBOARD_FUSED_HISTOGRAMS", "") == "1"

#: Elements each program reads (in steps of `BLOCK`), and the step.
CHUNK = 1 << 16
BLOCK = 1024

_DTYPES = ("torch.float16", "torch.bfloat16", "torch.float32", "torch.float64")


@functools.lru_cache(maxsize=1)
def _kernel() -> Optional[Any]:
    """The jitted kernel, or None without Triton."""
    try:
        import triton
        import triton.language as tl
    except ImportError:
        return None

    # Triton reads the parameters' annotations (tl.constexpr), so the others have none.
    @triton.jit  # type: ignore[untyped-decorator]
    def histogram_chunks(  # type: ignore[no-untyped-def]
        ptrs,  # int64[T]: data pointer of each tensor
        numels,  # int64[T]
        owners,  # int32[P]: the tensor of each program
        starts,  # int64[P]: its first element
        bounds,  # float32 or float64 [E]
        counts,  # float64 [T, NBINS]: slot counts, added to
        partials,  # float64 [P, 5]: min, max, sum, sum of squares, NaN count
        n_bounds,
        DTYPE: tl.constexpr,
        WIDE: tl.constexpr,  # compare in float64 (float64 input)
        CHUNK: tl.constexpr,
        BLOCK: tl.constexpr,
        NBINS: tl.constexpr,
        STEPS: tl.constexpr,
    ):
        pid = tl.program_id(0)
        t = tl.load(owners + pid)
        start = tl.load(starts + pid)
        n = tl.load(numels + t)
        base = tl.load(ptrs + t).to(tl.pointer_type(DTYPE))
        lows = tl.full([BLOCK], float("inf"), tl.float64)
        highs = tl.full([BLOCK], float("-inf"), tl.float64)
        sums = tl.zeros([BLOCK], tl.float64)
        squares = tl.zeros([BLOCK], tl.float64)
        nans = tl.zeros([BLOCK], tl.int32)
        hist = tl.zeros([NBINS], tl.int32)
        for step in range(0, tl.minimum(n - start, CHUNK), BLOCK):  # a tensor's last chunk is short
            index = start + step + tl.arange(0, BLOCK)
            inside = index < n
            if WIDE:
                x = tl.load(base + index, mask=inside, other=0.0).to(tl.float64)
            else:
                x = tl.load(base + index, mask=inside, other=0.0).to(tl.float32)
            is_nan = x != x
            valid = inside & (x == x)
            wide = x.to(tl.float64)
            lows = tl.minimum(lows, tl.where(valid, wide, float("inf")))
            highs = tl.maximum(highs, tl.where(valid, wide, float("-inf")))
            sums += tl.where(inside, wide, 0.0)
            squares += tl.where(inside, wide * wide, 0.0)
            nans += (inside & is_nan).to(tl.int32)
            # Number of bounds at or below x (torch.bucketize(right=True)), by binary
            # search over the sorted bounds.
            lo = tl.zeros([BLOCK], tl.int32)
            hi = tl.full([BLOCK], 0, tl.int32) + n_bounds
            for _ in tl.static_range(STEPS):
                active = lo < hi
                mid = (lo + hi) // 2
                bound = tl.load(bounds + mid, mask=active, other=0.0)
                right = active & (bound <= x)
                lo = tl.where(right, mid + 1, lo)
                hi = tl.where(active & (bound > x), mid, hi)
            slot = tl.where(is_nan, n_bounds, lo)
            hist += tl.histogram(slot, NBINS, mask=inside)
        count_nan = tl.sum(nans, axis=0)
        low = tl.min(lows, axis=0)
        high = tl.max(highs, axis=0)
        row = partials + pid * 5
        tl.store(row, tl.where(count_nan > 0, float("nan"), low))
        tl.store(row + 1, tl.where(count_nan > 0, float("nan"), high))
        tl.store(row + 2, tl.sum(sums, axis=0))
        tl.store(row + 3, tl.sum(squares, axis=0))
        tl.store(row + 4, count_nan.to(tl.float64))
        bins = tl.arange(0, NBINS)
        tl.atomic_add(counts + t * NBINS + bins, hist.to(tl.float64), mask=bins <= n_bounds)

    return histogram_chunks


def usable(device: Any) -> bool:
    """Whether the kernel runs for tensors on `device` (CPU only in Triton's
    interpreter, for the tests)."""
    if not enabled or _kernel() is None:
        return False
    return device.type == "cuda" or os.environ.get("TRITON_INTERPRET") == "1"


def supported(t: Any) -> bool:
    return str(t.dtype) in _DTYPES


class Layout:
    """Which chunk of which tensor each program reads; built on the host from the
    shapes alone and sent to the device once per distinct list of sizes."""

    def __init__(self, numels: list[int]) -> None:
        owners: list[int] = []
        starts: list[int] = []
        for t, numel in enumerate(numels):
            chunks = -(-numel // CHUNK)
            owners.extend([t] * chunks)
            starts.extend(range(0, chunks * CHUNK, CHUNK))
        self.numels = np.asarray(numels, dtype=np.int64)
        self.owners = np.asarray(owners, dtype=np.int32)
        self.starts = np.asarray(starts, dtype=np.int64)
        # The first program of each tensor, for combining its chunks on the host.
        self.first = np.searchsorted(self.owners, np.arange(len(numels))).astype(np.int64)


class _Layouts:
    """Device copies of layouts by (device, sizes); a few kept (one per logging site)."""

    KEEP = 16

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[tuple, tuple] = {}

    def get(self, torch: Any, device: Any, numels: list[int]) -> tuple:
        key = (str(device), CHUNK, tuple(numels))
        with self._lock:
            found = self._cache.get(key)
        if found is not None:
            return found
        layout = Layout(numels)
        tensors = tuple(
            _to_device(torch, array, device)
            for array in (layout.numels, layout.owners, layout.starts)
        )
        entry = (layout, *tensors)
        with self._lock:
            if len(self._cache) >= self.KEEP:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = entry
        return entry


_LAYOUTS = _Layouts()


def _to_device(torch: Any, array: np.ndarray, device: Any) -> Any:
    host = torch.from_numpy(array)
    if device.type == "cuda":
        return host.pin_memory().to(device, non_blocking=True)
    return host


def _bins(edge_count: int) -> int:
    """Power of two holding the edge_count + 1 slots (tl.histogram's size)."""
    return 1 << int(edge_count).bit_length()


def launch(torch: Any, values: list, bounds: Any, edge_count: int, pointers: Any) -> tuple:
    """Enqueues the kernel for `values` (tensors of one dtype on one device) against
    `bounds`. `pointers` is a host int64 buffer (pinned for CUDA) of `len(values)`
    elements that must live until the work completed. Returns (counts, partials, layout),
    device tensors to copy to the host and the layout to finish with."""
    kernel = _kernel()
    if kernel is None:
        raise RuntimeError("the fused histogram kernel needs Triton")
    import triton.language as tl

    device = values[0].device
    sources = [v.detach() for v in values]
    sources = [s if s.is_contiguous() else s.contiguous() for s in sources]
    layout, numels, owners, starts = _LAYOUTS.get(torch, device, [s.numel() for s in sources])
    pointers.numpy()[:] = [s.data_ptr() for s in sources]
    ptrs = pointers.to(device, non_blocking=True) if device.type == "cuda" else pointers
    nbins = _bins(edge_count)
    counts = torch.zeros((len(sources), nbins), dtype=torch.float64, device=device)
    partials = torch.empty((len(layout.owners), 5), dtype=torch.float64, device=device)
    name = str(sources[0].dtype).split(".")[-1]
    dtype = {"float16": tl.float16, "bfloat16": tl.bfloat16}.get(name)
    if dtype is None:
        dtype = tl.float64 if name == "float64" else tl.float32
    steps = max(1, int(edge_count).bit_length())
    kernel[(len(layout.owners),)](
        ptrs,
        numels,
        owners,
        starts,
        bounds,
        counts,
        partials,
        edge_count,
        DTYPE=dtype,
        WIDE=name == "float64",
        CHUNK=CHUNK,
        BLOCK=BLOCK,
        NBINS=nbins,
        STEPS=steps,
    )
    # The sources must outlive the launch: they are referenced until it is enqueued,
    # and the caching allocator orders any reuse of their memory after it.
    return counts, partials, layout


def finish_rows(
    counts: np.ndarray, partials: np.ndarray, layout: Layout, edge_count: int, count_nan: bool
) -> np.ndarray:
    """The eager path's rows (`_device_histogram` layout) from the kernel's output."""
    first = layout.first
    low = np.minimum.reduceat(partials[:, 0], first)
    high = np.maximum.reduceat(partials[:, 1], first)
    total = np.add.reduceat(partials[:, 2], first)
    squares = np.add.reduceat(partials[:, 3], first)
    nans = np.add.reduceat(partials[:, 4], first) if count_nan else np.zeros(len(first))
    rows = np.empty((len(first), _device_histogram.row_length(edge_count)))
    rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3], rows[:, 4] = low, high, total, squares, nans
    rows[:, _device_histogram.STATS :] = counts[:, : edge_count + 1]
    return rows
