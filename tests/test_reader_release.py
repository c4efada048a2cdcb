"""The scalar table frees the per-file scalar columns of a long-format reader (one copy of
the scalars at a time, docs/reader.md "Memory"): everything a reader offers afterwards
still gives tbparse's answers, and the core refuses to read released columns."""

from __future__ import annotations

from pathlib import Path

import ferroboard
import numpy as np
import pytest
import tbparse
from ferroboard.reader._load import load
from frames import assert_frames_identical
from reader_logs import write_runs

EXTRA = {"dir_name", "file_name", "wall_time"}


@pytest.fixture(scope="module")
def logdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_runs(tmp_path_factory.mktemp("torch"), "torch")


def test_frame_arrays_and_tags_after_release(logdir: Path) -> None:
    r = ferroboard.SummaryReader(logdir, extra_columns=EXTRA)
    theirs = tbparse.SummaryReader(str(logdir), extra_columns=EXTRA)
    expected = theirs.scalars
    assert_frames_identical(r.scalars, expected)
    # The table now holds the only copy; the codes of the name columns come back from
    # the frame's string columns.
    fresh = ferroboard.SummaryReader(logdir, extra_columns=EXTRA).scalars_arrays()
    again = r.scalars_arrays()
    assert again.keys() == fresh.keys()
    for key, value in fresh.items():
        if isinstance(value, np.ndarray):
            assert again[key].dtype == value.dtype, key
            np.testing.assert_array_equal(again[key], value, err_msg=key)
        else:
            assert again[key] == value, key
    assert_frames_identical(r.scalars, expected)
    assert r.get_tags("scalars") == theirs.get_tags("scalars")


def test_pivot_reader_keeps_the_file_columns(logdir: Path) -> None:
    r = ferroboard.SummaryReader(logdir, pivot=True, extra_columns={"dir_name"})
    assert len(r.scalars_arrays()["step"]) > 100
    expected = tbparse.SummaryReader(str(logdir), pivot=True, extra_columns={"dir_name"})
    assert_frames_identical(r.scalars, expected.scalars)


def test_core_refuses_released_columns(logdir: Path) -> None:
    data, reports = load(logdir, ["scalars"])
    files = list(range(len(reports)))
    orders = [data.scalar_order(i) for i in files]
    kept = data.scalar_table(files, True, False)
    with pytest.raises(ValueError, match="indices: file index 0 given twice"):
        data.scalar_table([0, 0], True, False, release=True)
    released = data.scalar_table(files, True, False, release=True)
    for a, b in zip(kept[:6], released[:6]):
        assert bytes(memoryview(a)) == bytes(memoryview(b))
    assert [data.scalar_order(i) for i in files] == orders
    with pytest.raises(ValueError, match="scalars of file index 0 were released"):
        data.scalars(0)
    with pytest.raises(ValueError, match="were released"):
        data.scalar_table([len(files) - 1], True, False)
