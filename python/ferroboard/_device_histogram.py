"""Histogram statistics of a torch tensor computed with torch ops on the tensor's device.

Used for CUDA tensors (docs/gpu.md): nothing here reads a value back to the host, so the
work is only enqueued on the tensor's current stream. The same ops run on CPU tensors,
which is how the tests check them against torch's writer.

One tensor becomes one float64 row: ``[min, max, sum, sum_squares, nan_count]`` followed
by ``len(edges) + 1`` slot counts, where slot ``j`` counts the values with exactly ``j``
edges at or below them (so slot 0 is below the first edge, slot ``j`` is bucket ``j - 1``
and the last slot is above the last edge; numpy's closed last bucket is folded in by
moving the last bound one step up). The core finishes the histogram from the row with
the same code as for host arrays.

Exactness against numpy's float64 binning: a float32 value ``x`` and a float64 edge
``e`` satisfy ``e <= x`` exactly when ``ceil32(e) <= x``, where ``ceil32(e)`` is the
smallest float32 at or above ``e``. So float16, bfloat16 and float32 values are compared
in float32 against the edges rounded up to float32, and float64 and integer values in
float64 against the edges themselves: every value lands in numpy's bucket.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

#: Leading statistics of a row: min, max, sum, sum of squares, NaN count.
STATS = 5

_FLOAT_SMALL = ("torch.float16", "torch.bfloat16", "torch.float32")
_INTEGER = (
    "torch.int8",
    "torch.int16",
    "torch.int32",
    "torch.int64",
    "torch.uint8",
)


def supported(t: Any) -> bool:
    """Whether the device reduction handles this tensor's dtype (the others, such as
    bool, complex and the wide unsigned types, take the copy-out path)."""
    name = str(t.dtype)
    return name in _FLOAT_SMALL or name == "torch.float64" or name in _INTEGER


def ceil32(edges: np.ndarray) -> np.ndarray:
    """Each float64 edge rounded up to the nearest float32 (overflow: ±inf, -FLT_MAX)."""
    with np.errstate(over="ignore"):
        rounded = edges.astype(np.float32)
    below = rounded.astype(np.float64) < edges
    rounded[below] = np.nextafter(rounded[below], np.float32(np.inf))
    return rounded


def host_bounds(edges: np.ndarray, float32: bool) -> np.ndarray:
    """The bounds to bucketize against: ``e <= x`` iff ``bound <= x`` for every edge but
    the last, whose bound is the smallest value strictly above it (numpy's last bucket
    is closed on the right, so a value equal to the last edge stays inside)."""
    if float32:
        bounds = ceil32(edges)
        last = np.float64(edges[-1])
        if np.float64(bounds[-1]) <= last:  # the last edge is a float32 itself
            bounds[-1] = np.nextafter(bounds[-1], np.float32(np.inf))
        return bounds
    bounds = edges.astype(np.float64, copy=True)
    bounds[-1] = np.nextafter(bounds[-1], np.inf)
    return bounds


def edges_supported(edges: np.ndarray) -> bool:
    """A last edge of +inf has no bound above it; such histograms take the copy-out path."""
    return bool(np.isfinite(edges[-1]))


class BoundsCache:
    """Bounds tensors by (device, edges, precision), sent to each device once: creating
    a device tensor from host data is a host-to-device copy, cheap but not free."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[tuple, Any] = {}

    def get(self, torch: Any, device: Any, key: Any, edges: np.ndarray, float32: bool) -> Any:
        cache_key = (str(device), key, float32)
        with self._lock:
            found = self._cache.get(cache_key)
        if found is not None:
            return found
        bounds = torch.from_numpy(host_bounds(edges, float32))
        if device.type == "cuda":
            bounds = bounds.pin_memory().to(device, non_blocking=True)
        with self._lock:
            return self._cache.setdefault(cache_key, bounds)


def row_length(edge_count: int) -> int:
    return STATS + edge_count + 1


def compares_in_float32(t: Any) -> bool:
    """float16, bfloat16 and float32 values are compared in float32 (ceil32 bounds)."""
    return str(t.dtype) in _FLOAT_SMALL


def reduce_into(torch: Any, t: Any, bounds: Any, row: Any, count_nan: bool) -> None:
    """Enqueues the reduction of `t` into `row` (a float64 tensor of `row_length`
    elements on `t`'s device), against `bounds` (float32 ones where
    `compares_in_float32(t)`, else float64). Never reads anything back to the host."""
    x = t.detach().reshape(-1)
    name = str(x.dtype)
    if name in _FLOAT_SMALL:
        if name != "torch.float32":
            x = x.float()  # exact: float16 and bfloat16 are subsets of float32
    elif name != "torch.float64":
        x = x.double()  # as numpy sees integers (int64 beyond 2**53 rounds alike)
    low, high = torch.aminmax(x)
    total = x.sum(dtype=torch.float64)
    squares = torch.linalg.vector_norm(x, 2, dtype=torch.float64).square()
    stats = [low.double(), high.double(), total, squares]
    if count_nan and x.is_floating_point():
        stats.append(torch.isnan(x).sum(dtype=torch.float64))
    else:
        stats.append(total.new_zeros(()))
    row[:STATS].copy_(torch.stack(stats))
    slots = torch.bucketize(x, bounds, right=True, out_int32=True)
    counts = row[STATS:]
    counts.zero_()
    counts.index_add_(0, slots, _ones(torch, x.device, x.numel()))


_ones_lock = threading.Lock()
_ones_cache: dict[str, Any] = {}


def _ones(torch: Any, device: Any, n: int) -> Any:
    """A float64 vector of `n` ones (an expanded view of one cached element)."""
    key = str(device)
    with _ones_lock:
        one = _ones_cache.get(key)
        if one is None:
            one = _ones_cache[key] = torch.ones(1, dtype=torch.float64, device=device)
    return one.expand(n)


def finish_arguments(row: np.ndarray, numel: int) -> tuple[list, np.ndarray]:
    """The core's `fill_histogram_counts` arguments from a row read back on the host:
    the statistics ``[min, max, num, sum, sum_squares, nan_count]`` and the slots."""
    low, high, total, squares, nans = (float(v) for v in row[:STATS])
    return [low, high, float(numel), total, squares, nans], row[STATS:]
