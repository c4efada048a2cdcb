"""Resolving `add_histogram`'s `bins` argument to edges the core bins with.

The default ("tensorflow") edges live in Rust. Integer counts and numpy's named
strategies need the data's range or statistics; numpy computes those edges here exactly
as `np.histogram` would, and the core then bins with them.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any, Optional

import numpy as np

from . import _core
from .conversions import bf16_to_float32

DEFAULT_BINS = "tensorflow"
#: Stands in for bin counts beyond any limit (the core takes at most 128-bit counts).
_BIG = 2**127
_default_edges: Optional[list] = None


def default_bins() -> list:
    """torch's `SummaryWriter.default_bins` list (1,549 edges), computed once."""
    global _default_edges
    if _default_edges is None:
        _default_edges = _core.default_bucket_edges()
    return list(_default_edges)


def _as_float64(values: np.ndarray, dtype: _core.DType) -> np.ndarray:
    if dtype == _core.DType.BFloat16:
        return bf16_to_float32(values).astype(np.float64)
    return values.astype(np.float64, copy=False)


@functools.lru_cache(maxsize=1)
def _numpy_selectors() -> Optional[tuple]:
    """numpy's own bin-width estimators and helpers (private API: None if moved); looked
    up once, not on every strategy histogram."""
    for module in ("numpy.lib._histograms_impl", "numpy.lib.histograms"):
        try:
            impl = importlib.import_module(module)
            return impl._hist_bin_selectors, impl._get_outer_edges, impl._unsigned_subtract
        except (ImportError, AttributeError):
            continue
    return None


def check_bucket_count(count: int, name: str = "bins") -> None:
    """Raises ValueError naming `name` when `count` buckets could not fit in one event.

    Called before any edge exists: `bins=10**9` would otherwise make numpy allocate
    8 GB of edges (and the list of them far more) before anything is checked.
    """
    _core.check_histogram_buckets(name, min(count, _BIG))


def _strategy_edges(data: np.ndarray, name: str) -> np.ndarray:
    """`np.histogram_bin_edges(data, name)`, with the bin count checked before the edges
    are made: a strategy such as 'fd' on data with a tiny spread and a wide range asks
    for billions of bins."""
    numpy_parts = _numpy_selectors()
    if numpy_parts is None:
        return np.histogram_bin_edges(data, name)
    selectors, outer_edges, unsigned_subtract = numpy_parts
    if name not in selectors:
        return np.histogram_bin_edges(data, name)  # numpy's own ValueError
    # numpy's _get_bin_edges, step by step (data is float64, never empty here).
    first_edge, last_edge = outer_edges(data, None)
    width = selectors[name](data, (first_edge, last_edge))
    if width:
        ratio = np.ceil(unsigned_subtract(last_edge, first_edge) / width)
        count = int(ratio) if np.isfinite(ratio) else _BIG
    else:
        count = 1  # e.g. 'fd' when the IQR is zero
    check_bucket_count(count, f"bins={name!r}")
    bin_type = np.result_type(first_edge, last_edge, data)
    return _linspace(first_edge, last_edge, count, f"bins={name!r}", dtype=bin_type)


def _linspace(first: Any, last: Any, count: int, name: str, **kwargs: Any) -> np.ndarray:
    """numpy's `count + 1` equal edges; a MemoryError names the argument and the size."""
    try:
        return np.linspace(first, last, count + 1, endpoint=True, **kwargs)
    except MemoryError as exc:
        raise MemoryError(
            f"{name}: out of memory for the {count + 1} edges of {count} buckets "
            f"({8 * (count + 1)} bytes): {exc}"
        ) from None


def histogram_edges(
    array: np.ndarray, dtype: _core.DType, bins: Any, max_bins: Any
) -> Optional[np.ndarray]:
    """The edges of `add_histogram`'s and `summary.histogram`'s `bins` for `array` (None
    for torch's default), `max_bins` checked. An empty array goes to the core as it is:
    the core's histogram constructor is where "no element" is checked."""
    edges = resolve_edges(bins, array, dtype) if array.size else None
    if max_bins is not None and (
        isinstance(max_bins, bool) or not isinstance(max_bins, int) or max_bins < 1
    ):
        raise ValueError(f"max_bins must be a positive int or None, got {max_bins!r}")
    return edges


def resolve_edges(bins: Any, values: np.ndarray, dtype: _core.DType) -> Optional[np.ndarray]:
    """None for the default edges, else the explicit float64 edges torch would use (a
    contiguous array: the core copies it without building a list of floats)."""
    if isinstance(bins, str):
        if bins == DEFAULT_BINS:
            return None
        return _contiguous(_strategy_edges(_as_float64(values, dtype), bins))
    if isinstance(bins, (int, np.integer)) and not isinstance(bins, bool):
        count = int(bins)
        if count < 1:
            raise ValueError(f"bins must be positive when an integer, got {count}")
        check_bucket_count(count)
        data = _as_float64(values, dtype)
        first, last = float(data.min()), float(data.max())
        if not (np.isfinite(first) and np.isfinite(last)):
            raise ValueError(
                f"values: autodetected range of [{first}, {last}] is not finite "
                f"(bins={count} needs finite values)"
            )
        if first == last:
            first, last = first - 0.5, last + 0.5
        return _linspace(first, last, count, "bins")
    return explicit_edges(bins)


def explicit_edges(bins: Any) -> np.ndarray:
    """`bins` given as edges: a contiguous float64 array, checked as numpy would."""
    try:
        edges = np.asarray(bins, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"bins must be 'tensorflow', a numpy strategy, an int or edges, got {bins!r}"
        ) from exc
    if edges.ndim != 1:
        raise ValueError(f"bins must be a 1-D sequence of edges, got shape {edges.shape}")
    # Their values (at least 2, no NaN, never decreasing) are checked by the core.
    return _contiguous(edges)


def _contiguous(edges: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(edges, dtype=np.float64)
