"""Exact DataFrame comparison for the reader tests.

`assert_frame_equal` compares object columns (arrays of image pixels, audio samples,
histogram counts) with a relative tolerance of 1e-5 by default; with `check_exact=True` it
ignores the dtype of an array inside a cell and cannot compare cells that hold lists of
arrays (what `pivot=True` makes of several values at one step). The reader promises
tbparse's frames exactly, so the tests compare exactly: plain columns with
`check_exact=True`, object columns cell by cell, including the dtype and shape of every
array.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from pandas.testing import assert_frame_equal, assert_series_equal


def assert_frames_identical(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    assert_frame_equal(ours, theirs)  # index, columns, dtypes, and the values roughly
    for column in theirs.columns:
        if theirs[column].dtype != object:
            assert_series_equal(ours[column], theirs[column], check_exact=True)
            continue
        for row, (mine, expected) in enumerate(zip(ours[column], theirs[column])):
            _assert_cells_identical(mine, expected, f"{column!r} row {row}")


def _assert_cells_identical(mine: Any, expected: Any, where: str) -> None:
    assert type(mine) is type(expected), f"{where}: {type(mine)} != {type(expected)}"
    if isinstance(expected, np.ndarray):
        assert mine.dtype == expected.dtype, f"{where}: dtype {mine.dtype} != {expected.dtype}"
        assert mine.shape == expected.shape, f"{where}: shape {mine.shape} != {expected.shape}"
        np.testing.assert_array_equal(mine, expected, err_msg=where, strict=True)
    elif isinstance(expected, (list, tuple)):  # pivot=True: several values of one step
        assert len(mine) == len(expected), f"{where}: {len(mine)} != {len(expected)} values"
        for i, (a, b) in enumerate(zip(mine, expected)):
            _assert_cells_identical(a, b, f"{where}[{i}]")
    elif isinstance(expected, float) and math.isnan(expected):
        assert math.isnan(mine), f"{where}: {mine!r} != nan"
    else:
        assert mine == expected, f"{where}: {mine!r} != {expected!r}"
