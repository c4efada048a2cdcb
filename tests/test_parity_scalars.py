"""Parity with torch.utils.tensorboard: add_scalar, add_scalars, steps and wall times.

Each test runs the same calls through torch's SummaryWriter and ferroboard's and
requires the decoded event files to be equal field by field (wall_time aside, unless
the test passes an explicit walltime, in which case it must be equal too).
"""

from __future__ import annotations

import math

import ferroboard
import numpy as np
import pytest
import torch
from eventfiles import events_of, summary_values

# -- add_scalar values ----------------------------------------------------------------------

_NUMPY_DTYPES = [
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.uint8,
    np.uint16,
    np.uint32,
    np.uint64,
    np.float16,
    np.float32,
    np.float64,
    np.longdouble,
]

SCALARS = {
    "int-0": lambda: 0,
    "int-3": lambda: 3,
    "int-neg": lambda: -7,
    "int-2**53+1": lambda: 2**53 + 1,
    "int-2**70": lambda: 2**70,
    "float-0.1": lambda: 0.1,
    "float-neg": lambda: -2.5,
    "float-third": lambda: 1 / 3,
    "float-subnormal32": lambda: 1e-40,
    "float-below-f32": lambda: 1e-50,
    "float-above-f32": lambda: 1e39,
    "float-f32-max": lambda: float(np.finfo(np.float32).max),
    "float-neg-zero": lambda: -0.0,
    "float-nan": lambda: math.nan,
    "float-inf": lambda: math.inf,
    "float-neg-inf": lambda: -math.inf,
    "bool-true": lambda: True,
    "bool-false": lambda: False,
    "np-bool-true": lambda: np.bool_(True),
    "np-float64-0.1": lambda: np.float64(0.1),
    "np-float32-0.1": lambda: np.float32(0.1),
    "np-float16-0.1": lambda: np.float16(0.1),
    "np-float16-max": lambda: np.float16(65504),
    "np-int64-max": lambda: np.int64(np.iinfo(np.int64).max),
    "np-int64-min": lambda: np.int64(np.iinfo(np.int64).min),
    "np-uint64-max": lambda: np.uint64(np.iinfo(np.uint64).max),
    "np-float32-nan": lambda: np.float32("nan"),
    "np-float64-neg-inf": lambda: np.float64("-inf"),
    **{f"np-{np.dtype(t).name}-7": (lambda t=t: t(7)) for t in _NUMPY_DTYPES},
    "np-0d-float32": lambda: np.array(0.1, dtype=np.float32),
    "np-0d-int64": lambda: np.array(-12, dtype=np.int64),
    "np-0d-bool": lambda: np.array(True),
    "np-1elem-float64": lambda: np.array([2.75]),
    "np-1x1-int32": lambda: np.array([[5]], dtype=np.int32),
    "np-1x1x1-float16": lambda: np.full((1, 1, 1), 0.3, dtype=np.float16),
    "np-1elem-uint8": lambda: np.array([255], dtype=np.uint8),
    "np-noncontig": lambda: np.arange(10.0)[3:4],
    "torch-f32": lambda: torch.tensor(0.1, dtype=torch.float32),
    "torch-f64": lambda: torch.tensor(0.1, dtype=torch.float64),
    "torch-f16": lambda: torch.tensor(0.1, dtype=torch.float16),
    "torch-bf16-exact": lambda: torch.tensor(1.5, dtype=torch.bfloat16),
    "torch-int32": lambda: torch.tensor(-3, dtype=torch.int32),
    "torch-int64": lambda: torch.tensor(2**40, dtype=torch.int64),
    "torch-uint8": lambda: torch.tensor(200, dtype=torch.uint8),
    "torch-bool": lambda: torch.tensor(True),
    "torch-1elem": lambda: torch.tensor([4.5]),
    "torch-1x1": lambda: torch.tensor([[4.5]], dtype=torch.float64),
    "torch-requires-grad": lambda: torch.tensor(1.25, requires_grad=True) * 2,
    "torch-nan": lambda: torch.tensor(float("nan")),
}


@pytest.mark.parametrize("make", SCALARS.values(), ids=SCALARS.keys())
def test_add_scalar_values_match_torch(parity, make):
    """Old style (simple_value), new style (float tensor) and double precision."""

    def calls(w):
        w.add_scalar("old", make(), 0)
        w.add_scalar("new", make(), 1, new_style=True)
        w.add_scalar("new_double", make(), 2, new_style=True, double_precision=True)
        w.add_scalar("kw", scalar_value=make(), global_step=3, new_style=True)

    ferro, _ = parity.check(calls)
    values = summary_values(ferro["."][0])
    assert [v.tag for v in values] == ["old", "new", "new_double", "kw"]


@pytest.mark.parametrize("value", [0.1, 3, np.float64(1 / 3), torch.tensor(2.5)], ids=str)
def test_double_precision_without_new_style_is_ignored(parity, value):
    """torch: double_precision only matters with new_style; alone it is a simple_value."""

    def calls(w):
        w.add_scalar("old_double", value, 1, double_precision=True)
        w.add_scalar("old_double_pos", value, 2, None, False, True)

    ferro, _ = parity.check(calls)
    assert all(v.HasField("simple_value") for v in summary_values(ferro["."][0]))


def test_add_scalar_many_values_in_one_file(parity):
    """A longer stream: order, steps and values of 300 scalars on 3 tags."""
    rng = np.random.default_rng(0)
    data = rng.normal(size=300) * 10.0 ** rng.integers(-20, 20, size=300)

    def calls(w):
        for i, x in enumerate(data):
            w.add_scalar(f"tag{i % 3}", float(x), i // 3)

    ferro, _ = parity.check(calls)
    assert len(summary_values(ferro["."][0])) == 300


@pytest.mark.parametrize(
    "tag",
    ["loss", "a/b/c", "with space", "ünïcödé/标签", "😀 emoji", "", "x" * 2000, "/lead", "tr/"],
    ids=["plain", "slashes", "space", "unicode", "emoji", "empty", "long", "lead", "trail"],
)
def test_tags_are_kept_verbatim(parity, tag):
    """torch writes tags verbatim (no tensorboardX-style cleaning)."""
    ferro, _ = parity.check(lambda w: w.add_scalar(tag, 1.0, 1))
    assert summary_values(ferro["."][0])[0].tag == tag


# -- steps and wall times -------------------------------------------------------------------

STEPS = {
    "none": lambda: None,
    "zero": lambda: 0,
    "int": lambda: 5,
    "negative": lambda: -3,
    "big": lambda: 2**62,
    "int64-min": lambda: -(2**63),
    "np-int32": lambda: np.int32(7),
    "np-int64": lambda: np.int64(2**40),
    "np-uint8": lambda: np.uint8(200),
    "np-uint64": lambda: np.uint64(123),
    "np-0d": lambda: np.array(11),
    "float-integral": lambda: 3.0,
    "float-fraction": lambda: 3.7,
    "np-float64": lambda: np.float64(4.0),
    "torch-int64": lambda: torch.tensor(9),
    "bool": lambda: True,
}


@pytest.mark.parametrize("make_step", STEPS.values(), ids=STEPS.keys())
def test_global_step_conversion_matches_torch(parity, make_step):
    def calls(w):
        w.add_scalar("s", 1.5, make_step())
        w.add_scalar("t", 2.5, global_step=make_step(), new_style=True)
        w.add_text("x", "hello", make_step())
        w.add_histogram("h", np.arange(5.0), make_step())
        w.add_scalars("m", {"a": 1.0}, make_step())
        w._get_file_writer().add_summary(
            torch.utils.tensorboard.summary.scalar("raw", 3.0), make_step()
        )

    ferro, _ = parity.check(calls)
    expected_step = 0 if make_step() is None else int(make_step())
    assert all(e.step == expected_step for e in ferro["."][0][1:])


WALLTIMES = {
    "float": lambda: 1_600_000_000.123456,
    "int": lambda: 1_700_000_000,
    "zero": lambda: 0.0,
    "small": lambda: 1.5,
    "np-float64": lambda: np.float64(1_650_000_000.987654321),
    "np-float32": lambda: np.float32(1.6e9),
    "np-int64": lambda: np.int64(1_234_567_890),
}


@pytest.mark.parametrize("make_walltime", WALLTIMES.values(), ids=WALLTIMES.keys())
def test_explicit_walltime_is_written_exactly(parity, make_walltime):
    def calls(w):
        w.add_scalar("s", 1.0, 1, walltime=make_walltime())
        w.add_scalar("n", 1.0, 1, make_walltime(), True)
        w.add_text("t", "x", 2, walltime=make_walltime())
        w.add_histogram("h", np.arange(4.0), 3, walltime=make_walltime())
        w.add_histogram_raw("r", 0, 1, 2, 1, 1, [0.5, 1.0], [1, 1], 4, walltime=make_walltime())
        w.add_tensor("x", torch.arange(3), 5, walltime=make_walltime())
        w.add_scalars("m", {"a": 1, "b": 2}, 6, walltime=make_walltime())

    ferro, _ = parity.check(calls, compare_wall_time=True)
    expected = float(make_walltime())
    for run in (".", "m_a", "m_b"):
        events = ferro[run][0][1:]
        assert events and all(e.wall_time == expected for e in events), run


def test_default_walltime_is_the_call_time(tmp_path):
    """Without walltime, each event carries time.time() at the call (as torch does)."""
    import time

    before = time.time()
    with ferroboard.SummaryWriter(str(tmp_path)) as w:
        w.add_scalar("s", 1.0, 1)
        mid = time.time()
        w.add_scalars("m", {"a": 1.0, "b": 2.0}, 1)
    after = time.time()
    (event,) = events_of(tmp_path)[1:]
    assert before <= event.wall_time <= mid
    sub = [events_of(tmp_path, run)[1] for run in ("m_a", "m_b")]
    # add_scalars computes one wall time for every key.
    assert sub[0].wall_time == sub[1].wall_time
    assert mid <= sub[0].wall_time <= after


# -- add_scalars ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "main_tag,keys",
    [
        ("loss", ["train", "val"]),
        ("a/b", ["x", "y", "z"]),
        ("ünï", ["标签", "😀"]),
        ("m", ["only"]),
    ],
    ids=["plain", "slash-main", "unicode", "single"],
)
# A "/" in a key is a documented deviation (the sub-run stays one folder): see
# test_paths_contained.py::test_add_scalars_key_separator_deviation_against_torch.
def test_add_scalars_layout_and_contents(parity, main_tag, keys):
    """One sub-run per key named {main_tag with '/'->'_'}_{key}, tag = main_tag."""

    def calls(w):
        for step in range(3):
            w.add_scalars(main_tag, {k: step * 10 + i for i, k in enumerate(keys)}, step)
        w.add_scalar("main", 1.0, 0)

    ferro, torch_runs = parity.check(calls)
    prefix = main_tag.replace("/", "_") + "_"
    assert sorted(ferro) == sorted(["."] + [prefix + k for k in keys])
    for i, k in enumerate(keys):
        values = summary_values(ferro[prefix + k][0])
        assert [v.tag for v in values] == [main_tag] * 3
        assert [v.simple_value for v in values] == [i, 10 + i, 20 + i]


def test_add_scalars_value_types_and_growing_keys(parity):
    """Keys added in later calls get their own new sub-run; any scalar type works."""

    def calls(w):
        w.add_scalars("g", {"a": 1, "b": np.float32(0.1)}, 0)
        w.add_scalars("g", {"b": torch.tensor(2.5), "c": np.int64(3)}, 1)
        w.add_scalars("g", {"a": True, "c": np.array([0.25])}, 2)
        w.add_scalars("h", {"a": -1.0}, 3)

    ferro, _ = parity.check(calls)
    assert sorted(ferro) == [".", "g_a", "g_b", "g_c", "h_a"]


@pytest.mark.parametrize("suffix", ["", ".v2", "_abc.x"])
def test_add_scalars_honours_filename_suffix(parity, suffix):
    def calls(w):
        w.add_scalars("m", {"a": 1, "b": 2}, 1)

    parity.check(calls, filename_suffix=suffix)
    names = [p.name for p in _files(parity.root, "ferro")]
    assert len(names) == 3 and all(n.endswith(suffix) for n in names)


def _files(root, prefix):
    from eventfiles import event_files

    dirs = sorted(root.glob(prefix + "*"))
    return [p for paths in event_files(dirs[-1]).values() for p in paths]


def test_add_scalars_after_close_opens_new_files(parity):
    """After close(), the next call recreates the default and sub-run writers (new files)."""

    def calls(w):
        w.add_scalars("m", {"a": 1.0, "b": 2.0}, 0)
        w.close()
        w.add_scalars("m", {"a": 3.0}, 1)
        w.add_scalar("s", 4.0, 1)

    ferro, _ = parity.check(calls)
    assert len(ferro["."]) == 2 and len(ferro["m_a"]) == 2 and len(ferro["m_b"]) == 1


@pytest.mark.parametrize("value", [1.5, 1e5, -3.0e38, 1.0e-30], ids=str)
def test_bfloat16_scalar_is_converted_exactly(parity, value):
    """Documented deviation: torch casts bfloat16 to float16 first (1e5 becomes inf,
    1e-30 becomes 0); ferroboard converts exactly, i.e. as torch does for the same
    tensor in float32."""
    t = torch.tensor(value, dtype=torch.bfloat16)
    ferro, _ = parity.check(
        lambda w: w.add_scalar("b", t, 1, new_style=True, double_precision=True),
        lambda w: w.add_scalar("b", t.float(), 1, new_style=True, double_precision=True),
    )
    (v,) = summary_values(ferro["."][0])
    assert v.tensor.double_val[0] == float(t.float()) and math.isfinite(v.tensor.double_val[0])
