"""add_histogram of float32 arrays of 1e4, 1e6 and 1e7 elements, default ("tensorflow") bins.

* caller: the time of one call on a fresh, idle writer (close() is not timed);
* end to end: the call plus close(), which waits for the binning and the write;
* baseline: ``arr.copy()`` of the same array (a memcpy into a fresh allocation).

Targets (docs/architecture.md), for 1e7: caller <= 2x memcpy; end to end >= 10x faster than torch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from benchlib import record, rounds

SIZES = {"1e4": 10**4, "1e6": 10**6, "1e7": 10**7}
# (ferroboard, anchors) rounds per size: the anchors take ~1 / 20 / 190 ms per call.
ROUNDS = {"1e4": (50, 20), "1e6": (20, 10), "1e7": (10, 7)}

_arrays: dict[str, np.ndarray] = {}


def values(size: str) -> np.ndarray:
    """Standard-normal float32 values, made once per size and shared by all writers."""
    if size not in _arrays:
        rng = np.random.default_rng(0)
        _arrays[size] = rng.standard_normal(SIZES[size], dtype=np.float32)
    return _arrays[size]


def _histogram(writer: Any, arr: np.ndarray) -> None:
    writer.add_histogram("weights", arr, 1)


def _histogram_and_close(writer: Any, arr: np.ndarray) -> None:
    writer.add_histogram("weights", arr, 1)
    writer.close()


@pytest.mark.parametrize("size", SIZES)
def test_memcpy_baseline(benchmark: Any, size: str) -> None:
    arr = values(size)
    record(benchmark, f"baseline: memcpy (arr.copy()) {size} f32", "numpy", 1, "copy")
    benchmark.pedantic(arr.copy, rounds=ROUNDS[size][0] * 2, warmup_rounds=2)


@pytest.mark.parametrize("size", SIZES)
def test_add_histogram_caller(benchmark: Any, writers: Any, size: str) -> None:
    arr = values(size)
    record(benchmark, f"add_histogram {size} f32, caller", writers.name, 1, "call")
    ferroboard_rounds, anchor_rounds = ROUNDS[size]
    benchmark.pedantic(
        _histogram,
        setup=writers.setup(arr),
        teardown=writers.teardown,
        rounds=rounds(writers.name, ferroboard_rounds, anchor_rounds),
        warmup_rounds=1,
    )


@pytest.mark.parametrize("size", SIZES)
def test_add_histogram_end_to_end(benchmark: Any, writers: Any, size: str) -> None:
    arr = values(size)
    case = f"add_histogram {size} f32, end to end (call + close)"
    record(benchmark, case, writers.name, 1, "call")
    ferroboard_rounds, anchor_rounds = ROUNDS[size]
    benchmark.pedantic(
        _histogram_and_close,
        setup=writers.setup(arr),
        teardown=writers.teardown,
        rounds=rounds(writers.name, ferroboard_rounds, anchor_rounds),
        warmup_rounds=1,
    )
