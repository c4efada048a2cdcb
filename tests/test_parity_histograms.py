"""Parity with torch.utils.tensorboard: add_histogram and add_histogram_raw.

torch is the oracle: the same call goes to both writers and the decoded HistogramProtos
must be equal: min/max/num and every bucket_limit and bucket exactly (NaN equal to
NaN), sum and sum_squares to 1e-9 relative (summation order differs).

Documented deviations, asserted against what ferroboard promises instead of torch:
- default bins: values beyond the outermost edges (±9.92e19) and ±inf are counted in
  one extra outer bucket on each side, whose outer limit is ±DBL_MAX (torch drops them
  from the buckets while still counting them in num/min/max/sum);
- bfloat16 tensors are converted exactly (torch converts them to float16 first);
- an all-NaN input writes one empty bucket at DBL_MAX (torch raises ValueError).
"""

from __future__ import annotations

import sys

import ferroboard
import numpy as np
import pytest
import torch
from eventfiles import events_of, summary_values
from torch.utils.tensorboard import SummaryWriter as TorchSummaryWriter
from torch.utils.tensorboard.summary import make_histogram

DBL_MAX = sys.float_info.max


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _torch_gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _torch_default_bins() -> list:
    # torch builds the list in SummaryWriter.__init__ without touching the disk
    # until a file writer is needed; a throwaway directory keeps it clean anyway.
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        w = TorchSummaryWriter(d)
        bins = list(w.default_bins)
        w.close()
    return bins


TORCH_DEFAULT_BINS = _torch_default_bins()


def _wide(n: int = 2000, seed: int = 3) -> np.ndarray:
    """Signed values spread over 1e-15 .. 9e19 (all inside the default edges)."""
    rng = _rng(seed)
    mags = 10.0 ** rng.uniform(-15, 19.9, size=n)
    return np.where(rng.random(n) < 0.5, -mags, mags)


def _ints(dtype, low, high, n=500, seed=1):
    return _rng(seed).integers(low, high, size=n, dtype=dtype, endpoint=True)


def _normal(n, dtype=np.float64, seed=0, scale=1.0):
    return (_rng(seed).normal(size=n) * scale).astype(dtype)


INPUTS = {
    "f32-normal": lambda: _normal(1000, np.float32),
    "f64-normal": lambda: _normal(1000, np.float64, scale=1e3),
    "f16-normal": lambda: _normal(1000, np.float16),
    "f64-uniform-pos": lambda: _rng(5).uniform(0, 1, 999),
    "int8": lambda: _ints(np.int8, -128, 127),
    "int16": lambda: _ints(np.int16, -(2**15), 2**15 - 1),
    "int32": lambda: _ints(np.int32, -(2**31), 2**31 - 1),
    "int64": lambda: _ints(np.int64, -(10**15), 10**15),
    "int64-extremes": lambda: np.array([np.iinfo(np.int64).min, np.iinfo(np.int64).max, 0, 1]),
    "uint8": lambda: _ints(np.uint8, 0, 255),
    "uint16": lambda: _ints(np.uint16, 0, 2**16 - 1),
    "uint32": lambda: _ints(np.uint32, 0, 2**32 - 1),
    "uint64": lambda: _ints(np.uint64, 0, 2**64 - 1),
    "bool": lambda: _rng(2).random(300) < 0.3,
    "bool-all-true": lambda: np.ones(7, dtype=bool),
    "torch-f32": lambda: torch.randn(1000, generator=_torch_gen()),
    "torch-f64": lambda: torch.randn(500, generator=_torch_gen(), dtype=torch.float64) * 1e-6,
    "torch-f16": lambda: torch.randn(1000, generator=_torch_gen()).half(),
    "torch-int64": lambda: torch.randint(-1000, 1000, (700,), generator=_torch_gen()),
    "torch-int32": lambda: torch.randint(0, 50, (10, 10), generator=_torch_gen()).int(),
    "torch-uint8": lambda: torch.randint(0, 256, (300,), generator=_torch_gen()).to(torch.uint8),
    "torch-bool": lambda: torch.rand(100, generator=_torch_gen()) > 0.5,
    "torch-2d-transposed": lambda: torch.randn(30, 40, generator=_torch_gen()).t(),
    "torch-requires-grad": lambda: torch.randn(50, generator=_torch_gen(), requires_grad=True),
    "list-floats": lambda: [0.5, -1.25, 3.0, 3.0, 1e-3],
    "list-ints": lambda: [1, 2, 2, 3, 3, 3],
    "list-nested": lambda: [[1.0, 2.0], [3.0, -4.0]],
    "list-bools": lambda: [True, False, True],
    "2d-f32": lambda: _normal(1000, np.float32).reshape(20, 50),
    "3d-f64": lambda: _normal(120).reshape(4, 5, 6),
    "4d-int16": lambda: _ints(np.int16, -50, 50, n=120).reshape(2, 3, 4, 5),
    "fortran-order": lambda: np.asfortranarray(_normal(600).reshape(20, 30)),
    "strided": lambda: _normal(3000)[::7],
    "transposed": lambda: _normal(600, np.float32).reshape(20, 30).T,
    "big-endian": lambda: _normal(200).astype(">f8"),
    "big-endian-int": lambda: _ints(np.int32, -9, 9, n=50).astype(">i4"),
    "py-float": lambda: 3.5,
    "py-int": lambda: 7,
    "np-float32-scalar": lambda: np.float32(2.0),
    "np-int64-scalar": lambda: np.int64(-4),
    "0d": lambda: np.array(-1.5),
    "single-element": lambda: np.array([42.0]),
    "all-zeros": lambda: np.zeros(100),
    "zeros-f32-2d": lambda: np.zeros((3, 3), np.float32),
    "signed-zeros": lambda: np.array([-0.0, 0.0, -0.0]),
    "all-equal": lambda: np.full(50, -2.5),
    "tiny": lambda: np.array([1e-13, -1e-13, 5e-13, -5e-13, 0.0, 1e-13]),
    "subnormal": lambda: np.array([5e-324, -5e-324, 1e-310, 0.0]),
    "huge": lambda: np.array([1e19, -1e19, 5e19, -9e19, 1.0]),
    "wide-magnitudes": _wide,
    "on-default-edges": lambda: np.array(TORCH_DEFAULT_BINS[::37] + TORCH_DEFAULT_BINS[-1:]),
    "between-edges": lambda: np.nextafter(np.array(TORCH_DEFAULT_BINS[1::41]), np.inf),
    "f32-large-300k": lambda: _normal(300_000, np.float32, seed=9),
    "f64-large-wide-100k": lambda: _wide(100_000, seed=10),
    "with-nan": lambda: np.concatenate([_normal(100), [np.nan], _normal(10)]),
    "with-nan-f32": lambda: np.array([1.0, np.nan, 2.0, np.nan], np.float32),
    "with-nan-large": lambda: np.where(_rng(4).random(100_000) < 0.01, np.nan, 1.0),
}


def for_torch(x):
    """torch's make_np takes ndarrays, numbers and tensors, not lists."""
    return np.asarray(x) if isinstance(x, list) else x


def _hist_calls(make, **kwargs):
    def ferro(w):
        w.add_histogram("h", make(), 1, **kwargs)

    def torch_(w):
        w.add_histogram("h", for_torch(make()), 1, **kwargs)

    return ferro, torch_


def _histos(logdirs) -> list:
    return [v.histo for v in summary_values(logdirs["."][0])]


@pytest.mark.parametrize("make", INPUTS.values(), ids=INPUTS.keys())
def test_histogram_inputs_default_bins(parity, make):
    ferro, _ = parity.check(*_hist_calls(make))
    (h,) = _histos(ferro)
    assert h.num == _size(make()) and len(h.bucket) == len(h.bucket_limit) > 0


def _size(x) -> int:
    return x.numel() if isinstance(x, torch.Tensor) else np.asarray(x).size


def test_default_bins_are_torchs(tmp_path):
    with ferroboard.SummaryWriter(str(tmp_path)) as w:
        assert list(w.default_bins) == TORCH_DEFAULT_BINS
    assert len(TORCH_DEFAULT_BINS) == 1549


BIN_SUBSET = ["f32-normal", "int16", "3d-f64", "list-floats", "torch-f16", "py-float", "all-zeros"]

BINS = {
    "int-1": 1,
    "int-10": 10,
    "int-30": 30,
    "int-1000": 1000,
    "np-int": np.int64(12),
    "edges-list": [-2.0, -1.0, 0.0, 0.5, 1.0, 2.0],
    "edges-ints": [0, 5, 10],
    "edges-array": np.linspace(-3, 3, 7),
    "edges-repeated": [-1.0, 0.0, 0.0, 1.0],
    "edges-narrow": [0.1, 0.2],
    "auto": "auto",
    "fd": "fd",
    "sturges": "sturges",
    "doane": "doane",
    "scott": "scott",
    "rice": "rice",
    "sqrt": "sqrt",
    "stone": "stone",
}


def _counted(name: str, bins) -> int:
    values = np.asarray(INPUTS[name](), dtype=float).ravel()
    return int(np.histogram(values, np.histogram_bin_edges(values, bins))[0].sum())


# Pairs where no value falls inside the edges are test_nothing_inside_explicit_edges_*.
BIN_CASES = [
    pytest.param(name, bins, id=f"{name}-{bins_id}")
    for bins_id, bins in BINS.items()
    for name in BIN_SUBSET
    if _counted(name, bins) > 0
]


@pytest.mark.parametrize("name,bins", BIN_CASES)
def test_histogram_bins(parity, name, bins):
    ferro, _ = parity.check(*_hist_calls(INPUTS[name], bins=bins))
    (h,) = _histos(ferro)
    assert sum(h.bucket) == _counted(name, bins)


@pytest.mark.parametrize(
    "values,bins",
    [
        (np.array([5.0, 6.0]), [0.0, 1.0]),
        (np.arange(10), [0.1, 0.2]),
        (np.array([3.0]), [-2.0, -1.0]),
    ],
    ids=["above", "between", "below"],
)
def test_nothing_inside_explicit_edges_single_bucket(parity, values, bins):
    """With one explicit bucket and no value inside it, torch writes that bucket's right
    edge with a zero count (valid input, so ferroboard must write the same)."""
    ferro, _ = parity.check(lambda w: w.add_histogram("h", values, 1, bins=bins))
    (h,) = _histos(ferro)
    assert list(h.bucket) == [0.0] and list(h.bucket_limit) == [bins[-1]]


@pytest.mark.parametrize(
    "values,bins",
    [(np.array([5.0, 6.0]), [0.0, 0.5, 1.0]), (np.array([1e30, 2e30]), [0.0, 1.0, 2.0])],
    ids=["above", "far-above"],
)
def test_nothing_inside_explicit_edges_several_buckets(parity, tmp_path, values, bins):
    """Same deviation as the all-NaN case: torch raises ValueError ("The histogram is
    empty, please file a bug report"); ferroboard writes the stats and one empty bucket
    at DBL_MAX."""
    with TorchSummaryWriter(str(tmp_path / "torch")) as w:
        with pytest.raises(ValueError):
            w.add_histogram("h", values, 1, bins=bins)
    (v,) = summary_values(parity.ferro_events(lambda w: w.add_histogram("h", values, 1, bins=bins)))
    h = v.histo
    assert (h.min, h.max, h.num) == (values.min(), values.max(), values.size)
    assert list(h.bucket_limit) == [DBL_MAX] and list(h.bucket) == [0.0]


def _num_bins(name: str, bins) -> int:
    if isinstance(bins, str) and bins == "tensorflow":
        return len(TORCH_DEFAULT_BINS) - 1
    values = np.asarray(INPUTS[name](), dtype=float).ravel()
    return len(np.histogram_bin_edges(values, bins)) - 1


@pytest.mark.parametrize("max_bins", [1, 5, 37, 100, 2000])
@pytest.mark.parametrize("bins", ["tensorflow", 100, 97, "auto"])
@pytest.mark.parametrize("name", ["f32-normal", "wide-magnitudes", "int8"])
def test_histogram_max_bins(parity, name, bins, max_bins):
    """torch merges groups of num_bins // max_bins buckets (the tail zero-padded)."""
    make = INPUTS[name]
    ferro, _ = parity.check(*_hist_calls(make, bins=bins, max_bins=max_bins))
    (h,) = _histos(ferro)
    num_bins = _num_bins(name, bins)
    merged = num_bins if num_bins <= max_bins else -(-num_bins // (num_bins // max_bins))
    assert len(h.bucket) <= merged + 1


def test_histogram_keyword_and_positional_arguments(parity):
    v = _normal(100)

    def calls(w):
        w.add_histogram("a", v, 1, "tensorflow", 1.5e9, 10)
        w.add_histogram(tag="b", values=v, global_step=2, bins=20, walltime=1.6e9, max_bins=3)
        w.add_histogram("c", v, bins="sturges", walltime=1.7e9)

    parity.check(calls, compare_wall_time=True)


def test_histogram_many_tags_and_steps(parity):
    """A stream of histograms on several tags keeps order, steps and values."""

    def calls(w):
        for step in range(10):
            for i in range(3):
                w.add_histogram(f"layer{i}/w", _normal(200, seed=step * 3 + i) * (i + 1), step)

    ferro, _ = parity.check(calls)
    assert len(_histos(ferro)) == 30


def test_input_is_snapshotted_at_call_time(parity):
    """Mutating the array right after the call must not change what is written."""

    def calls(w):
        a = _normal(1000)
        w.add_histogram("h", a, 1)
        a[:] = 1e6
        w.add_histogram("h", a, 2)

    parity.check(calls)


def test_large_inputs_in_recycled_buffers_stay_exact(parity):
    """Snapshots of 1 MiB and more reuse buffers the worker is done with, and those of
    4 MiB and more are copied by several threads: a stream of them, shrinking and
    mutated between calls, must still give each call's own histogram."""

    def calls(w):
        rng = _rng(7)
        big = rng.standard_normal(3_000_000).astype(np.float32)  # 12 MB
        for step in range(4):
            w.add_histogram("big", big, step)
            w.add_histogram("big/30-bins", big, step, bins=30)  # float32 table, own edges
            big *= 1.5  # mutated in place right after the call
            # Smaller arrays land in the larger recycled buffers (at most twice their size).
            n = 3_000_000 - 700_000 * step
            w.add_histogram("shrinking", rng.standard_normal(n) * (step + 1), step)
            w.flush()  # the worker finishes, so its buffers go back for the next step
            w.add_histogram("f64", rng.uniform(-5, 5, 400_000), step)

    parity.check(calls)


# -- errors where torch raises -----------------------------------------------------------


ERRORS = {
    "empty-array": (np.array([]), "tensorflow"),
    "empty-2d": (np.zeros((3, 0)), 10),
    "nan-int-bins": (np.array([1.0, np.nan]), 10),
    "nan-auto": (np.array([1.0, np.nan, 2.0]), "auto"),
    "inf-int-bins": (np.array([1.0, np.inf]), 5),
}


@pytest.mark.parametrize("values,bins", ERRORS.values(), ids=ERRORS.keys())
def test_histogram_rejects_what_torch_rejects(tmp_path, values, bins):
    with TorchSummaryWriter(str(tmp_path / "torch")) as w:
        with pytest.raises(ValueError):
            w.add_histogram("h", values, 1, bins=bins)
    with ferroboard.SummaryWriter(str(tmp_path / "ferro")) as w:
        with pytest.raises(ValueError):
            w.add_histogram("h", values, 1, bins=bins)
            w.flush()


# -- documented deviations ------------------------------------------------------------------


OUT_OF_RANGE = {
    "above": [1.0, 2.0, 1e21],
    "below": [-1e25, 3.0],
    "both": [1e21, -1e21, 0.5, -0.5],
    "inf": [np.inf, 1.0],
    "neg-inf": [-np.inf, -1.0],
    "both-inf": [np.inf, -np.inf, 0.0, 7.0],
    "f32-max": list(np.array([np.finfo(np.float32).max, 1.0], np.float32).astype(float)),
    "dbl-max": [DBL_MAX, -DBL_MAX, 1.0],
    "only-out": [1e30, 2e30],
    "mixed-normal": list(np.concatenate([_normal(500), [1e22, -np.inf, 3e20]])),
}


@pytest.mark.parametrize("values", OUT_OF_RANGE.values(), ids=OUT_OF_RANGE.keys())
def test_default_bins_count_values_beyond_the_edges(parity, values):
    """Deviation: with default bins, values beyond ±9.92e19 and ±inf fall in an outer
    bucket whose outer limit is ±DBL_MAX, so every non-NaN value is counted (torch
    drops them from the buckets). min/max/num/sum/sum_squares are torch's.

    Oracle for the buckets: torch's own make_histogram over the default edges extended
    by ±DBL_MAX, with ±inf clipped to ±DBL_MAX.
    """
    arr = np.asarray(values, dtype=float)
    (v,) = summary_values(parity.ferro_events(lambda w: w.add_histogram("h", arr, 1)))
    h = v.histo

    # torch's statistics (make_histogram's own expressions).
    from eventfiles import diff_messages

    with np.errstate(over="ignore", invalid="ignore"):
        stats = type(h)(
            min=arr.min(), max=arr.max(), num=arr.size, sum=arr.sum(), sum_squares=arr.dot(arr)
        )
    got = type(h)(min=h.min, max=h.max, num=h.num, sum=h.sum, sum_squares=h.sum_squares)
    assert not diff_messages(got, stats), diff_messages(got, stats)

    edges = [-DBL_MAX] + TORCH_DEFAULT_BINS + [DBL_MAX]
    oracle = make_histogram(np.clip(arr, -DBL_MAX, DBL_MAX), edges)
    assert list(h.bucket_limit) == list(oracle.bucket_limit)
    assert list(h.bucket) == list(oracle.bucket)
    assert sum(h.bucket) == arr.size
    above, below = (arr > TORCH_DEFAULT_BINS[-1]).sum(), (arr < TORCH_DEFAULT_BINS[0]).sum()
    assert above or below
    if above:
        assert h.bucket_limit[-1] == DBL_MAX and h.bucket[-1] == above
    if below:
        assert h.bucket_limit[0] == -DBL_MAX and h.bucket[0] == 0
        assert h.bucket_limit[1] == TORCH_DEFAULT_BINS[0] and h.bucket[1] == below


@pytest.mark.parametrize(
    "values",
    [np.full(5, np.nan), np.array([np.nan], np.float32), np.full((2, 2), np.nan, np.float16)],
    ids=["f64", "f32", "f16-2d"],
)
def test_all_nan_histogram_raises_like_torch(tmp_path, values):
    """Like torch, an all-NaN histogram is a ValueError (naming ``values``), raised on
    the caller's thread; nothing is written for it."""
    with TorchSummaryWriter(str(tmp_path / "torch")) as w:
        with pytest.raises(ValueError):
            w.add_histogram("h", values, 1)
    with ferroboard.SummaryWriter(str(tmp_path / "ferro")) as w:
        with pytest.raises(ValueError, match="values"):
            w.add_histogram("h", values, 1)
        w.add_scalar("after", 1.0, 1)
    events = events_of(tmp_path / "ferro")
    kinds = [v.WhichOneof("value") for e in events for v in e.summary.value]
    assert kinds == ["simple_value"]


BF16 = {
    "normal": lambda: torch.randn(1000, generator=_torch_gen()),
    "beyond-f16-range": lambda: torch.randn(500, generator=_torch_gen()) * 1e6,
    "below-f16-precision": lambda: torch.randn(500, generator=_torch_gen()) * 1e-7,
    "huge": lambda: torch.tensor([1e30, -3e38, 1.0]),
    "2d": lambda: torch.randn(8, 9, generator=_torch_gen()) * 100,
}


# "huge" holds values beyond the default edges: that is the other deviation.
BF16_CASES = [
    pytest.param(make, bins, id=f"{name}-{bins}")
    for name, make in BF16.items()
    for bins in ["tensorflow", 10, "auto"]
    if not (name == "huge" and bins == "tensorflow")
]


@pytest.mark.parametrize("make,bins", BF16_CASES)
def test_bfloat16_histogram_is_exact(parity, make, bins):
    """Deviation: torch converts bfloat16 to float16 (overflow to inf, precision loss);
    ferroboard bins the exact values, i.e. writes what torch writes for the same tensor
    converted to float32 (which is exact)."""
    t = make().to(torch.bfloat16)
    parity.check(
        lambda w: w.add_histogram("h", t, 1, bins=bins),
        lambda w: w.add_histogram("h", t.float(), 1, bins=bins),
    )


# -- the distributions training logs, large enough for the parallel table path ------------


def _heavy_tailed(n: int, seed: int = 12) -> np.ndarray:
    """Mostly small gradients, some exact zeros, a few large values (normal / uniform)."""
    rng = _rng(seed)
    kind = rng.random(n)
    small = rng.normal(size=n) * 1e-3
    large = rng.normal(size=n) / (rng.random(n) + 1e-6)
    return np.where(kind < 0.8, small, np.where(kind < 0.95, 0.0, large))


N_LARGE = 300_000  # several parallel ranges, and above the size that builds explicit tables

DISTRIBUTIONS = {
    "weights-N(0,0.02)": lambda: _rng(13).normal(size=N_LARGE) * 0.02,
    "gradients-N(0,1e-4)": lambda: _rng(14).normal(size=N_LARGE) * 1e-4,
    "uniform": lambda: _rng(15).uniform(-1, 1, N_LARGE),
    "heavy-tailed": lambda: _heavy_tailed(N_LARGE),
}

DISTRIBUTION_BINS = {
    "tensorflow": "tensorflow",
    "64-edges": list(np.linspace(-1, 1, 65)),
    "int-30": 30,
}


@pytest.mark.parametrize("bins", DISTRIBUTION_BINS.values(), ids=DISTRIBUTION_BINS.keys())
@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
@pytest.mark.parametrize("make", DISTRIBUTIONS.values(), ids=DISTRIBUTIONS.keys())
def test_training_distributions(parity, make, dtype, bins):
    values = make().astype(dtype)
    ferro, _ = parity.check(*_hist_calls(lambda: values, bins=bins))
    (h,) = _histos(ferro)
    assert h.num == N_LARGE


@pytest.mark.parametrize("bins", DISTRIBUTION_BINS.values(), ids=DISTRIBUTION_BINS.keys())
@pytest.mark.parametrize("make", DISTRIBUTIONS.values(), ids=DISTRIBUTIONS.keys())
def test_training_distributions_bfloat16(parity, make, bins):
    """bfloat16 is binned exactly: as torch bins the same tensor converted to float32."""
    t = torch.from_numpy(make().astype(np.float32)).to(torch.bfloat16)
    parity.check(
        lambda w: w.add_histogram("h", t, 1, bins=bins),
        lambda w: w.add_histogram("h", t.float(), 1, bins=bins),
    )


# -- add_histogram_raw ----------------------------------------------------------------------

RAW = {
    "floats": (-1.0, 2.0, 10, 3.5, 12.25, [-1, 0, 1, 2], [1, 3, 4, 2]),
    "numpy": (
        np.float32(-1),
        np.float64(2),
        np.int64(10),
        np.float32(3.5),
        12,
        np.array([-1.0, 0, 1, 2]),
        np.array([1, 3, 4, 2]),
    ),
    "torch-tensors": (-1, 2, 10, 3, 12, torch.tensor([-1.0, 0, 1, 2]), torch.tensor([1, 3, 4, 2])),
    "torch-stats": (
        torch.tensor(-1.0),
        torch.tensor(2.0),
        torch.tensor(10),
        3,
        12,
        [-1.0, 0, 1, 2],
        [1, 3, 4, 2],
    ),
    "empty-buckets": (0, 0, 0, 0, 0, [], []),
    "nan-inf-stats": (float("nan"), float("inf"), 3, float("nan"), float("inf"), [1.0], [3]),
    "fractional-counts": (-1, 2, 10.5, 3, 12, [0.5], [10.5]),
    "dbl-max-limit": (0.0, 1e300, 3, 1e300, 1e308, [1.0, DBL_MAX], [1, 2]),
    "float32-limits": (0, 1, 2, 1, 1, np.array([0.1, 1.0], np.float32), np.array([1, 1], np.int8)),
    "many-buckets": (
        0.0,
        1.0,
        5000,
        2500.0,
        1666.0,
        list(np.linspace(0, 1, 1001)),
        list(range(1001)),
    ),
}


@pytest.mark.parametrize("args", RAW.values(), ids=RAW.keys())
def test_add_histogram_raw(parity, args):
    def calls(w):
        w.add_histogram_raw("r", *args, global_step=3)
        w.add_histogram_raw("r2", *args, 4, 1.5e9)

    ferro, _ = parity.check(calls)
    assert len(_histos(ferro)) == 2


def test_add_histogram_raw_keywords(parity):
    def calls(w):
        w.add_histogram_raw(
            tag="k",
            min=0.0,
            max=4.0,
            num=3,
            sum=6.0,
            sum_squares=20.0,
            bucket_limits=[1.0, 4.0],
            bucket_counts=[1, 2],
            global_step=7,
            walltime=1.7e9,
        )

    parity.check(calls, compare_wall_time=True)


def test_add_histogram_raw_length_mismatch_raises_like_torch(tmp_path):
    args = ("r", 0, 1, 2, 1, 1, [0.5, 1.0], [2])
    with TorchSummaryWriter(str(tmp_path / "torch")) as w:
        with pytest.raises(ValueError):
            w.add_histogram_raw(*args)
    with ferroboard.SummaryWriter(str(tmp_path / "ferro")) as w:
        with pytest.raises(ValueError):
            w.add_histogram_raw(*args)
