"""Resolving `add_histogram`'s `bins` argument to edges the core bins with.

The default ("tensorflow") edges live in Rust. Integer counts and numpy's named
strategies need the data's range or statistics; numpy computes those edges here exactly
as `np.histogram` would, and the core then bins with them.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from . import _core

DEFAULT_BINS = "tensorflow"
_default_edges: Optional[list] = None


def default_bins() -> list:
    """torch's `SummaryWriter.default_bins` list (1,549 edges), computed once."""
    global _default_edges
    if _default_edges is None:
        _default_edges = _core.default_bucket_edges()
    return list(_default_edges)


def _as_float64(values: np.ndarray, dtype_code: str) -> np.ndarray:
    if dtype_code == "bf16":
        # Raw bfloat16 words: the top half of a float32.
        return (values.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    return values.astype(np.float64, copy=False)


def resolve_edges(bins: Any, values: np.ndarray, dtype_code: str) -> Optional[list]:
    """None for the default edges, else the explicit float64 edges torch would use."""
    if isinstance(bins, str):
        if bins == DEFAULT_BINS:
            return None
        return np.histogram_bin_edges(_as_float64(values, dtype_code), bins).tolist()
    if isinstance(bins, (int, np.integer)) and not isinstance(bins, bool):
        count = int(bins)
        if count < 1:
            raise ValueError(f"bins must be positive when an integer, got {count}")
        data = _as_float64(values, dtype_code)
        first, last = float(data.min()), float(data.max())
        if not (np.isfinite(first) and np.isfinite(last)):
            raise ValueError(
                f"values: autodetected range of [{first}, {last}] is not finite "
                f"(bins={count} needs finite values)"
            )
        if first == last:
            first, last = first - 0.5, last + 0.5
        return np.linspace(first, last, count + 1, endpoint=True).tolist()
    try:
        edges = np.asarray(bins, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"bins must be 'tensorflow', a numpy strategy, an int or edges, got {bins!r}"
        ) from exc
    if edges.ndim != 1 or edges.size < 2:
        raise ValueError(
            f"bins must be a 1-D sequence of at least 2 edges, got shape {edges.shape}"
        )
    if np.isnan(edges).any():
        raise ValueError(f"bins must not contain NaN, got {edges.tolist()}")
    if np.any(np.diff(edges) < 0):
        raise ValueError(f"bins must increase monotonically, got {edges.tolist()}")
    return edges.tolist()
