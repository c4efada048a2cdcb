"""The first histogram of a large array in a process is binned where it lies.

With no recycled buffer for its snapshot (the first step of a process, or one after a
long pause), ``add_histogram`` bins the caller's array in place while the call blocks,
instead of copying it into fresh memory (docs/performance.md, "The first step of a
process"). The events must be exactly those of the copy path, in the same order, and
the array may change as soon as the call returns.

Each scenario runs in a fresh child process, whose snapshot pool is empty. The copy
path is forced by handing over arrays whose data is not 8-byte aligned (they are always
copied); references are computed in this process that way.
"""

from __future__ import annotations

import numpy as np
import pytest
from eventfiles import events_of
from ferroboard.summary import make_histogram
from procs import describe_run, result, run_child

torch = pytest.importorskip("torch")

#: name -> (dtype, number of values). Sizes grow more than 2x from one to the next, so
#: that no buffer the writer keeps for one array fits another: the first call of each
#: is binned in place, whatever the writer has mapped since.
ARRAYS = {
    "float16": ("float16", 140_000),
    "float32": ("float32", 160_000),
    "int32": ("int32", 400_000),
    "float64": ("float64", 500_000),
    "bfloat16": ("bfloat16", 6_000_000),
}
#: (label, bins, max_bins): every kind of bins on every array.
BINS = [("default", "tensorflow", None), ("edges", [-3.0, -0.5, 0.0, 1e-3, 0.5, 40.0], None)]
BINS += [("max_bins", "tensorflow", 25)]


def values_of(name: str) -> np.ndarray:
    """The array `name`: normal values with a heavy tail, as numpy's dtype (bfloat16 as
    float32 values exactly representable in bfloat16)."""
    dtype, n = ARRAYS[name]
    rng = np.random.default_rng(len(name) * 1000 + n)
    x = rng.standard_normal(n) * 0.05
    x[::101] *= 600.0
    if dtype == "int32":
        return (x * 1000).astype(np.int32)
    if dtype == "bfloat16":
        return torch.from_numpy(x.astype(np.float32)).bfloat16().float().numpy()
    return x.astype(dtype)


def unaligned(array: np.ndarray) -> np.ndarray:
    """The same values at an address 4 bytes past a multiple of 8: always copied."""
    raw = np.empty(array.nbytes + 12, np.uint8)
    start = (-raw.ctypes.data) % 8 + 4
    out = raw[start : start + array.nbytes].view(array.dtype)
    out[:] = array
    assert out.ctypes.data % 8 == 4
    return out


CHILD = """
import sys
import numpy as np
import torch
from ferroboard import SummaryWriter
from test_cold_binning import ARRAYS, BINS, values_of

w = SummaryWriter(sys.argv[1])
for name, (dtype, _) in ARRAYS.items():
    array = values_of(name)
    assert array.ctypes.data % 8 == 0
    values = torch.from_numpy(array).bfloat16() if dtype == "bfloat16" else array
    for label, bins, max_bins in BINS:
        w.add_histogram(f"{name}/{label}", values, 0, bins=bins, max_bins=max_bins)
w.close()
report(ok=True)
"""


def test_first_step_histograms_are_those_of_the_copy_path(tmp_path):
    proc = run_child(CHILD, str(tmp_path))
    assert proc.returncode == 0 and result(proc)["ok"], describe_run(proc)
    logged = {v.tag: v.histo for e in events_of(tmp_path) for v in e.summary.value}
    expected_tags = [f"{name}/{label}" for name in ARRAYS for label, _, _ in BINS]
    assert sorted(logged) == sorted(expected_tags)
    for name, (dtype, n) in ARRAYS.items():
        array = values_of(name)
        copied = unaligned(array)
        if dtype == "bfloat16":  # its 16-bit words, copied unaligned, viewed as bfloat16
            words = torch.from_numpy(array).bfloat16().view(torch.int16).numpy()
            copied = torch.from_numpy(unaligned(words)).view(torch.bfloat16)
            assert copied.data_ptr() % 8 == 4
        for label, bins, max_bins in BINS:
            reference = make_histogram(copied, bins, max_bins)
            histo = logged[f"{name}/{label}"]
            assert histo.num == n
            assert histo.min == array.min() and histo.max == array.max()
            assert histo.SerializeToString() == reference.SerializeToString(), (name, label)


MUTATED_CHILD = """
import sys
import numpy as np
from ferroboard import SummaryWriter

w = SummaryWriter(sys.argv[1])
a = np.random.default_rng(5).standard_normal(2_000_000).astype(np.float32)  # 8 MB
for step in range(3):
    w.add_scalar("before", float(step), step)
    w.add_histogram("a", a, step)
    a *= -3.0  # right after the call
    w.add_scalar("after", float(step), step)
    w.flush()
w.close()
report(ok=True)
"""


def test_an_array_changed_right_after_the_call_is_logged_as_it_was_in_order(tmp_path):
    """Step 0 is binned in place (no buffer yet), later steps may be copied: each event
    holds the array as it was during its call, between the scalars logged around it."""
    proc = run_child(MUTATED_CHILD, str(tmp_path))
    assert proc.returncode == 0 and result(proc)["ok"], describe_run(proc)
    events = [(v.tag, e.step, v) for e in events_of(tmp_path) for v in e.summary.value]
    assert [(tag, step) for tag, step, _ in events] == [
        (tag, step) for step in range(3) for tag in ("before", "a", "after")
    ]
    a = np.random.default_rng(5).standard_normal(2_000_000).astype(np.float32)
    for step, value in ((s, v) for tag, s, v in events if tag == "a"):
        reference = make_histogram(unaligned(a), "tensorflow")
        assert value.histo.SerializeToString() == reference.SerializeToString(), step
        a *= -3.0
