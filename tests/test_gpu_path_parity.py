"""The GPU path's histograms, run on CPU tensors, against torch's writer bucket for bucket.

The device reduction is plain torch ops, so it runs on CPU tensors too; the tests route
CPU tensors through the whole GPU path (reserve, reduce, copy, event, fill) with an
always-complete event, which is what CPU work is. Every case of the histogram parity
suite goes through it, plus adversarial values: the float32 roundings of every default
edge and their neighbours, NaN, ±inf, zeros, int64, float16 and bfloat16.

Oracles: torch's writer (on the same values; bfloat16 converted to float32 exactly, the
documented deviation) and, for values where ferroboard deviates from torch on purpose
(±inf and beyond the default edges), ferroboard's own host path, which the parity suite
checks against torch. Sums agree to the parity tolerance (summation order differs).
"""

from __future__ import annotations

import sys
from typing import Any

import ferroboard
import numpy as np
import pytest
import torch
from eventfiles import diff_messages, events_of, summary_values
from ferroboard import _device_histogram, _device_path
from test_parity_histograms import BF16_CASES, BIN_CASES, INPUTS, TORCH_DEFAULT_BINS, for_torch

DBL_MAX = sys.float_info.max


@pytest.fixture
def device_path(monkeypatch: pytest.MonkeyPatch) -> dict:
    """Routes CPU tensors through the GPU path and counts which branch each call took
    (the real functions run; the counts prove the path was not bypassed)."""
    monkeypatch.setattr(_device_path, "_route_cpu", True)
    taken = {"reduced": 0, "copied": 0}
    reduce_into, copy_out = _device_histogram.reduce_into, _device_path._copy_out

    def counting_reduce(*args: Any, **kwargs: Any) -> None:
        taken["reduced"] += 1
        reduce_into(*args, **kwargs)

    def counting_copy(*args: Any, **kwargs: Any) -> Any:
        taken["copied"] += 1
        return copy_out(*args, **kwargs)

    monkeypatch.setattr(_device_histogram, "reduce_into", counting_reduce)
    monkeypatch.setattr(_device_path, "_copy_out", counting_copy)
    return taken


def as_tensor(x: Any) -> torch.Tensor:
    """The suite's input as a CPU tensor with the same values."""
    if isinstance(x, torch.Tensor):
        return x
    a = np.asarray(x)
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    return torch.from_numpy(np.ascontiguousarray(a))


def _path(t: torch.Tensor, bins: Any = "tensorflow") -> str:
    plan = _device_path.plan(t, bins)
    return "reduced" if plan.reduce else "copied"


@pytest.mark.parametrize("make", INPUTS.values(), ids=INPUTS.keys())
def test_every_suite_input_with_default_bins(parity, device_path, make):
    t = as_tensor(make())
    parity.check(
        lambda w: w.add_histogram("h", t, 1),
        lambda w: w.add_histogram("h", for_torch(make()), 1),
    )
    assert device_path[_path(t)] == 1, device_path


@pytest.mark.parametrize("name,bins", BIN_CASES)
def test_every_suite_input_with_every_bins_argument(parity, device_path, name, bins):
    t = as_tensor(INPUTS[name]())
    parity.check(
        lambda w: w.add_histogram("h", t, 1, bins=bins),
        lambda w: w.add_histogram("h", for_torch(INPUTS[name]()), 1, bins=bins),
    )
    assert device_path[_path(t, bins)] == 1, device_path


@pytest.mark.parametrize("max_bins", [1, 5, 37, 100, 2000])
@pytest.mark.parametrize("bins", ["tensorflow", 97, [-3.0, -1.0, 0.0, 0.25, 1.0, 2.5]])
@pytest.mark.parametrize("name", ["f32-normal", "wide-magnitudes", "int8"])
def test_max_bins(parity, device_path, name, bins, max_bins):
    t = as_tensor(INPUTS[name]())
    parity.check(
        lambda w: w.add_histogram("h", t, 1, bins=bins, max_bins=max_bins),
        lambda w: w.add_histogram("h", INPUTS[name](), 1, bins=bins, max_bins=max_bins),
    )


@pytest.mark.parametrize("make,bins", BF16_CASES)
def test_bfloat16_is_binned_exactly(parity, device_path, make, bins):
    """The documented deviation, as on the host path: torch's writer on the float32
    copy (exact) is the oracle, not torch's float16 conversion."""
    t = make().to(torch.bfloat16)
    parity.check(
        lambda w: w.add_histogram("h", t, 1, bins=bins),
        lambda w: w.add_histogram("h", t.float(), 1, bins=bins),
    )
    assert device_path[_path(t, bins)] == 1


# -- adversarial values ------------------------------------------------------------------

_EDGES = np.array(TORCH_DEFAULT_BINS)
_E32 = _EDGES.astype(np.float32)
#: The float32 rounding of every default edge, its neighbours, and the edge rounded up.
EDGE_VALUES = np.concatenate(
    [
        _E32,
        np.nextafter(_E32, np.float32(np.inf)),
        np.nextafter(_E32, np.float32(-np.inf)),
        _device_histogram.ceil32(_EDGES),
    ]
)
SPECIALS = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1e30, -1e30, 3e38], np.float32)

ADVERSARIAL = {
    "edges-f32": lambda: torch.from_numpy(EDGE_VALUES),
    "edges-f32-specials": lambda: torch.from_numpy(np.concatenate([EDGE_VALUES, SPECIALS])),
    "edges-f64": lambda: torch.from_numpy(EDGE_VALUES.astype(np.float64)),
    "edges-exact-f64": lambda: torch.from_numpy(_EDGES.copy()),
    "edges-f64-neighbours": lambda: torch.from_numpy(
        np.concatenate([np.nextafter(_EDGES, np.inf), np.nextafter(_EDGES, -np.inf), [np.nan]])
    ),
    "edges-f16": lambda: torch.from_numpy(EDGE_VALUES).half(),
    "edges-bf16": lambda: torch.from_numpy(EDGE_VALUES).bfloat16(),
    "zeros": lambda: torch.zeros(1000),
    "signed-zeros-f16": lambda: torch.tensor([0.0, -0.0] * 50).half(),
    "nan-inf-f16": lambda: torch.tensor([np.nan, np.inf, -np.inf, 1.0, 65504.0]).half(),
    "int64-extremes": lambda: torch.tensor([-(2**63), 2**63 - 1, 0, 1, -1, 2**53 + 1]),
    "int64-random": lambda: torch.randint(-(2**62), 2**62, (5000,), generator=_gen()),
    "uint8": lambda: torch.arange(256, dtype=torch.uint8),
}

#: Explicit edges whose float32 roundings fall on both sides of them, repeated edges,
#: a last edge that is a float32 and one that is not.
EXPLICIT = {
    "thirds": [-1.0, 0.1, 0.1, 0.3, 1 / 3],
    "f32-last": [-2.0, -0.5, 0.0, 0.5, 1.0],
    "tiny": [1e-40, 1e-39, 1.1e-38, 2e-38],
    "huge": [-1e39, -3e38, 0.0, 3.4028234663852886e38, 1e39],
}


def _gen() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def _histo(tmp_path, name: str, write) -> Any:
    logdir = tmp_path / name
    with ferroboard.SummaryWriter(str(logdir)) as w:
        write(w)
    (value,) = summary_values(events_of(logdir))
    return value.histo


def _host_array(t: torch.Tensor) -> np.ndarray:
    """The same values as a host numpy array (bfloat16 as its exact float32)."""
    return (t.float() if t.dtype == torch.bfloat16 else t).numpy()


def _edges(bins: Any) -> np.ndarray:
    return _EDGES if bins == "tensorflow" else np.asarray(bins, dtype=np.float64)


def _counted(name: str, bins: Any) -> int:
    values = _host_array(ADVERSARIAL[name]()).astype(np.float64)
    return int(np.histogram(values[~np.isnan(values)], _edges(bins))[0].sum())


def _adversarial_cases() -> list:
    """Every input with the default edges, and with each explicit edge list that holds
    at least one of its values (none inside: test_all_nan_is_the_nothing_counted...)."""
    cases = []
    for name in ADVERSARIAL:
        cases.append(pytest.param(name, "tensorflow", id=f"{name}-default"))
        for edges_name, edges in EXPLICIT.items():
            if _counted(name, edges):
                cases.append(pytest.param(name, edges, id=f"{name}-{edges_name}"))
    return cases


@pytest.mark.parametrize("name,bins", _adversarial_cases())
def test_adversarial_values_bucket_for_bucket(tmp_path, monkeypatch, name, bins):
    """Against ferroboard's host path (torch's buckets, plus the documented outer
    buckets for values beyond the default edges)."""
    t = ADVERSARIAL[name]()
    array = _host_array(t)
    host = _histo(tmp_path, "host", lambda w: w.add_histogram("h", array, 1, bins=bins))
    monkeypatch.setattr(_device_path, "_route_cpu", True)
    assert _device_path.plan(t, bins).reduce
    device = _histo(tmp_path, "device", lambda w: w.add_histogram("h", t, 1, bins=bins))
    assert list(device.bucket_limit) == list(host.bucket_limit)
    assert list(device.bucket) == list(host.bucket)
    assert not diff_messages(device, host), diff_messages(device, host)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.int64])
def test_adversarial_values_against_torch(parity, device_path, dtype):
    """Values inside the default edges, where torch's writer itself is the oracle."""
    finite = EDGE_VALUES[np.abs(EDGE_VALUES) <= _EDGES[-1]]
    if dtype == torch.int64:
        t = torch.from_numpy(np.round(finite[np.abs(finite) < 2**62]).astype(np.int64))
    else:
        t = torch.from_numpy(finite).to(dtype)
        t = t[torch.isfinite(t)]
    parity.check(
        lambda w: w.add_histogram("h", t, 1),
        lambda w: w.add_histogram("h", t.numpy().copy(), 1),
    )
    assert device_path["reduced"] == 1


def test_ceil32_is_the_smallest_float32_at_or_above(tmp_path):
    rounded = _device_histogram.ceil32(_EDGES).astype(np.float64)
    assert (rounded >= _EDGES).all()
    below = np.nextafter(rounded.astype(np.float32), np.float32(-np.inf)).astype(np.float64)
    assert (below < _EDGES).all()
    flt_max = np.finfo(np.float32).max
    assert list(_device_histogram.ceil32(np.array([1e39, -1e39]))) == [np.inf, -flt_max]


def test_rounding_edges_to_nearest_would_misplace_values():
    """Why ceil32: the same bucketing against edges rounded to nearest float32 puts
    hundreds of these values in the wrong bucket (so the test above has teeth)."""
    x = torch.from_numpy(EDGE_VALUES)
    nearest = torch.from_numpy(_EDGES.astype(np.float32))
    exact = np.searchsorted(_EDGES, EDGE_VALUES.astype(np.float64), side="right")
    wrong = torch.bucketize(x, nearest, right=True).numpy() != exact
    bounds = torch.from_numpy(_device_histogram.host_bounds(_EDGES, True))
    right = torch.bucketize(x, bounds, right=True).numpy()
    last = len(_EDGES)
    exact_closed = np.where(EDGE_VALUES.astype(np.float64) == _EDGES[-1], last - 1, exact)
    assert wrong.sum() > 100
    assert (right == exact_closed).all()


def test_all_nan_is_the_nothing_counted_deviation(tmp_path, device_path):
    """On the host path an all-NaN histogram raises (the values are checked at the
    call); on the GPU path the values are not known at the call, so the event is
    written as ferroboard writes histograms where nothing was counted: the statistics
    and one empty bucket at DBL_MAX (docs/gpu.md)."""
    h = _histo(tmp_path, "nan", lambda w: w.add_histogram("h", torch.full((5,), np.nan), 1))
    assert np.isnan(h.min) and np.isnan(h.max) and h.num == 5
    assert list(h.bucket_limit) == [DBL_MAX] and list(h.bucket) == [0.0]


# -- add_histograms ----------------------------------------------------------------------

GROUP = {
    "w": lambda: torch.randn(300, 40, generator=_gen()),
    "b": lambda: torch.zeros(40),
    "i": lambda: np.arange(-50, 70),
    "h": lambda: torch.randn(500, generator=_gen()).half(),
    "ints": lambda: torch.randint(-5, 5, (99,), generator=_gen()),
    "list": lambda: [1.0, 2.0, 2.5],
}


@pytest.mark.parametrize("bins", ["tensorflow", 30, "auto", [-2.0, 0.0, 2.0]])
def test_add_histograms_of_host_values_is_a_loop_of_add_histogram(parity, bins):
    """Host inputs: event for event what torch's writer writes for the loop."""

    def ferro(w):
        w.add_histograms({k: make() for k, make in GROUP.items()}, 3, bins=bins, max_bins=20)
        w.add_histograms({"late": GROUP["w"]()}, 4, bins=bins)

    def torch_loop(w):
        for k, make in GROUP.items():
            w.add_histogram(k, for_torch(make()), 3, bins=bins, max_bins=20)
        w.add_histogram("late", GROUP["w"](), 4, bins=bins)

    parity.check(ferro, torch_loop)


@pytest.mark.parametrize("bins", ["tensorflow", 30, [-2.0, 0.0, 2.0]])
def test_add_histograms_on_the_device_path_keeps_call_order(parity, device_path, bins):
    """Device tensors (grouped into one reduction) mixed with host arrays (written at
    once): the file holds them in the mapping's order, equal to torch's loop."""

    def ferro(w):
        w.add_scalar("before", 1.0, 3)
        w.add_histograms({k: make() for k, make in GROUP.items()}, 3, bins=bins)
        w.add_scalar("after", 2.0, 3)

    def torch_loop(w):
        w.add_scalar("before", 1.0, 3)
        for k, make in GROUP.items():
            w.add_histogram(k, for_torch(make()), 3, bins=bins)
        w.add_scalar("after", 2.0, 3)

    parity.check(ferro, torch_loop)
    tensors = [make() for make in GROUP.values()]
    device = [t for t in tensors if isinstance(t, torch.Tensor)]
    reduced = sum(_device_path.plan(t, bins).reduce for t in device)
    assert device_path["reduced"] == reduced and device_path["copied"] == len(device) - reduced


def test_add_histograms_checks_its_arguments(tmp_path, device_path):
    with ferroboard.SummaryWriter(str(tmp_path)) as w:
        with pytest.raises(TypeError, match="tag_to_values must be a mapping"):
            w.add_histograms([("a", torch.ones(3))])
        with pytest.raises(ValueError, match="max_bins"):
            w.add_histograms({"a": torch.ones(3)}, max_bins=0)
        with pytest.raises(ValueError, match="values: the input has no element"):
            w.add_histograms({"a": torch.ones(3), "b": torch.ones(0)})
        with pytest.raises(ValueError, match="bins must be positive"):
            w.add_histograms({"a": torch.ones(3)}, bins=0)
        with pytest.raises(ValueError, match="not a valid estimator"):
            w.add_histogram("a", torch.ones(3), bins="nonsense")
        with pytest.raises(TypeError, match="tag must be a str"):
            w.add_histograms({1: torch.ones(3)})
        w.add_histograms({"ok": torch.ones(3)}, 1)
    (v,) = summary_values(events_of(tmp_path))
    assert v.tag == "ok" and v.histo.num == 3
