"""Round trip: TensorBoard's own readers load everything ferroboard writes.

Readers: the legacy `event_accumulator.EventAccumulator`, the newer
`plugin_event_accumulator.EventAccumulator` (what `tensorboard --logdir` uses: old-style
values are migrated to tensors on read), the multiplexers that turn directories into
runs, and `event_file_loader`. Values are checked against the input, and against what
the same readers return for torch's files where torch is the reference.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import ferroboard
import numpy as np
import pytest
import torch
from eventfiles import event_files
from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.backend.event_processing import event_file_loader
from tensorboard.backend.event_processing import event_multiplexer as em
from tensorboard.backend.event_processing import plugin_event_accumulator as pea
from tensorboard.backend.event_processing import plugin_event_multiplexer as pem
from tensorboard.util import tensor_util
from torch.utils.tensorboard import SummaryWriter as TorchSummaryWriter

DBL_MAX = sys.float_info.max
KEEP_ALL = {
    ea.SCALARS: 0,
    ea.HISTOGRAMS: 0,
    ea.COMPRESSED_HISTOGRAMS: 0,
    ea.TENSORS: 0,
    ea.IMAGES: 0,
    ea.AUDIO: 0,
}


def legacy(path) -> ea.EventAccumulator:
    acc = ea.EventAccumulator(str(path), size_guidance=KEEP_ALL)
    acc.Reload()
    return acc


def plugin(path) -> pea.EventAccumulator:
    acc = pea.EventAccumulator(str(path), size_guidance=KEEP_ALL)
    acc.Reload()
    return acc


def write(path: Path, calls, writer_cls=ferroboard.SummaryWriter, **kwargs) -> Path:
    with writer_cls(str(path), **kwargs) as w:
        calls(w)
    return path


def both(tmp_path: Path, calls, **kwargs) -> tuple[Path, Path]:
    """(ferroboard's logdir, torch's logdir) for the same calls."""
    return (
        write(tmp_path / "ferro", calls, **kwargs),
        write(tmp_path / "torch", calls, TorchSummaryWriter, **kwargs),
    )


# -- scalars ------------------------------------------------------------------------------

N_SCALARS = 1500
SCALAR_VALUES = (
    np.random.default_rng(0).normal(size=N_SCALARS)
    * 10.0 ** np.arange(-20, 25, 45 / N_SCALARS)[:N_SCALARS]
)


def _scalar_calls(w):
    for i, x in enumerate(SCALAR_VALUES):
        w.add_scalar("loss", float(x), i)
    w.add_scalar("new", 0.1, 3, new_style=True)
    w.add_scalar("double", 0.1, 4, new_style=True, double_precision=True)
    w.add_scalar("nan", math.nan, 5)
    w.add_scalar("inf", -math.inf, 6)


def test_scalars_legacy_accumulator(tmp_path):
    ferro, torch_dir = both(tmp_path, _scalar_calls)
    acc = legacy(ferro)
    assert acc.file_version == 2.0
    assert set(acc.Tags()[ea.SCALARS]) == {"loss", "nan", "inf"}
    loss = acc.Scalars("loss")
    assert [e.step for e in loss] == list(range(N_SCALARS))
    assert [e.value for e in loss] == SCALAR_VALUES.astype(np.float32).astype(float).tolist()
    assert math.isnan(acc.Scalars("nan")[0].value)
    assert acc.Scalars("inf")[0].value == -math.inf
    # new-style scalars are tensors for the legacy reader
    assert set(acc.Tags()[ea.TENSORS]) == {"new", "double"}
    assert tensor_util.make_ndarray(acc.Tensors("new")[0].tensor_proto) == np.float32(0.1)
    assert tensor_util.make_ndarray(acc.Tensors("double")[0].tensor_proto) == 0.1
    # ... as for torch's file
    ref = legacy(torch_dir)
    assert [(e.step, e.value) for e in ref.Scalars("loss")] == [(e.step, e.value) for e in loss]


def test_scalars_plugin_accumulator(tmp_path):
    ferro, torch_dir = both(tmp_path, _scalar_calls)
    acc, ref = plugin(ferro), plugin(torch_dir)
    tags = acc.Tags()[pea.TENSORS]
    assert set(tags) == {"loss", "new", "double", "nan", "inf"} == set(ref.Tags()[pea.TENSORS])
    for tag in tags:
        assert acc.SummaryMetadata(tag).plugin_data.plugin_name == "scalars"
        got = [(e.step, tensor_util.make_ndarray(e.tensor_proto).item()) for e in acc.Tensors(tag)]
        want = [(e.step, tensor_util.make_ndarray(e.tensor_proto).item()) for e in ref.Tensors(tag)]
        assert _nan_eq(got, want), tag
    loss = [tensor_util.make_ndarray(e.tensor_proto).item() for e in acc.Tensors("loss")]
    assert loss == SCALAR_VALUES.astype(np.float32).astype(float).tolist()
    double = acc.Tensors("double")[0].tensor_proto
    assert tensor_util.make_ndarray(double).dtype == np.float64


def _nan_eq(a, b) -> bool:
    return len(a) == len(b) and all(
        x == y or (math.isnan(x[1]) and math.isnan(y[1]) and x[0] == y[0]) for x, y in zip(a, b)
    )


# -- histograms ----------------------------------------------------------------------------

HIST_INPUTS = {
    "normal": lambda: np.random.default_rng(1).normal(size=5000),
    "int": lambda: np.random.default_rng(2).integers(-50, 50, size=999),
    "single": lambda: np.array([3.25]),
    "zeros": lambda: np.zeros(10, np.float32),
    "torch": lambda: torch.randn(300, generator=torch.Generator().manual_seed(0)),
}


@pytest.mark.parametrize("bins", ["tensorflow", 20])
@pytest.mark.parametrize("make", HIST_INPUTS.values(), ids=HIST_INPUTS.keys())
def test_histograms_read_back(tmp_path, make, bins):
    def calls(w):
        for step in range(3):
            w.add_histogram("h", make(), step, bins=bins)

    ferro, torch_dir = both(tmp_path, calls)
    values = np.asarray(make(), dtype=float).ravel()

    acc = legacy(ferro)
    events = acc.Histograms("h")
    assert [e.step for e in events] == [0, 1, 2]
    for e in events:
        h = e.histogram_value
        assert h.num == values.size and h.min == values.min() and h.max == values.max()
        assert sum(h.bucket) == values.size and len(h.bucket) == len(h.bucket_limit)
        assert math.isclose(h.sum, values.sum(), rel_tol=1e-9, abs_tol=1e-9)
    ref = legacy(torch_dir).Histograms("h")
    assert [tuple(e.histogram_value.bucket) for e in events] == [
        tuple(e.histogram_value.bucket) for e in ref
    ]
    assert [tuple(e.histogram_value.bucket_limit) for e in events] == [
        tuple(e.histogram_value.bucket_limit) for e in ref
    ]

    # The dashboard's view: [k, 3] tensors (left, right, count), migrated on read.
    acc2, ref2 = plugin(ferro), plugin(torch_dir)
    assert acc2.SummaryMetadata("h").plugin_data.plugin_name == "histograms"
    got = [tensor_util.make_ndarray(e.tensor_proto) for e in acc2.Tensors("h")]
    want = [tensor_util.make_ndarray(e.tensor_proto) for e in ref2.Tensors("h")]
    assert len(got) == 3
    for g, w_ in zip(got, want):
        assert g.shape[1] == 3 and g[:, 2].sum() == values.size
        np.testing.assert_array_equal(g, w_)
        assert g[0, 0] == np.float32(values.min()) and g[-1, 1] == np.float32(values.max())


@pytest.mark.parametrize(
    ("values", "bins"),
    [(np.array([1e21, -np.inf, 0.5]), "tensorflow"), (np.array([5.0, 6.0]), [0.0, 1.0, 2.0])],
    ids=["outer-buckets", "nothing-inside-edges"],
)
def test_deviating_histograms_are_readable(tmp_path, values, bins):
    """Outer ±DBL_MAX buckets, and the single empty DBL_MAX bucket written when no value
    falls inside explicit edges (torch raises), load in TensorBoard."""
    ferro = write(tmp_path, lambda w: w.add_histogram("h", values, 1, bins=bins))
    (e,) = legacy(ferro).Histograms("h")
    assert e.histogram_value.num == values.size
    (t,) = plugin(ferro).Tensors("h")
    arr = tensor_util.make_ndarray(t.tensor_proto)
    if bins == "tensorflow":
        assert arr.shape[1] == 3 and arr[:, 2].sum() == values.size
    else:
        assert arr.shape[1] == 3 and arr[:, 2].sum() == 0


def test_histogram_raw_reads_back(tmp_path):
    ferro = write(
        tmp_path,
        lambda w: w.add_histogram_raw("r", -1.0, 2.0, 10, 3.5, 12.25, [0, 1, 2], [2, 3, 5], 7),
    )
    (e,) = legacy(ferro).Histograms("r")
    h = e.histogram_value
    assert e.step == 7
    assert (h.min, h.max, h.num, h.sum, h.sum_squares) == (-1.0, 2.0, 10, 3.5, 12.25)
    assert list(h.bucket_limit) == [0, 1, 2] and list(h.bucket) == [2, 3, 5]


# -- text and tensors ----------------------------------------------------------------------

TEXT = ["hello", "", "ünïcödé 😀", "# md\n\n* a\n* b", "x" * 50_000]


def test_text_reads_back(tmp_path):
    def calls(w):
        for i, t in enumerate(TEXT):
            w.add_text("notes", t, i)

    ferro, torch_dir = both(tmp_path, calls)
    acc = legacy(ferro)
    assert acc.Tags()[ea.TENSORS] == ["notes/text_summary"]
    got = [e.tensor_proto.string_val[0].decode() for e in acc.Tensors("notes/text_summary")]
    assert got == TEXT
    acc2 = plugin(ferro)
    meta = acc2.SummaryMetadata("notes/text_summary")
    assert meta.plugin_data.plugin_name == "text"
    assert acc2.PluginTagToContent("text") == plugin(torch_dir).PluginTagToContent("text")
    arrays = [tensor_util.make_ndarray(e.tensor_proto) for e in acc2.Tensors("notes/text_summary")]
    assert [a.shape for a in arrays] == [(1,)] * len(TEXT)
    assert [a[0].decode() for a in arrays] == TEXT
    assert [e.step for e in acc2.Tensors("notes/text_summary")] == list(range(len(TEXT)))


TENSORS = {
    "f32": lambda: torch.randn(3, 4, generator=torch.Generator().manual_seed(0)),
    "f64": lambda: torch.arange(6, dtype=torch.float64).reshape(2, 3) / 7,
    "int32": lambda: torch.arange(-5, 5, dtype=torch.int32),
    "int16": lambda: torch.arange(-5, 5, dtype=torch.int16).reshape(2, 5),
    "int8": lambda: torch.tensor([-128, 0, 127], dtype=torch.int8),
    "int64": lambda: torch.tensor([[-(2**63), 2**63 - 1]]),
    "bool": lambda: torch.tensor([True, False, True]),
    "scalar": lambda: torch.tensor(2.5),
}


@pytest.mark.parametrize("make", TENSORS.values(), ids=TENSORS.keys())
def test_tensors_read_back(tmp_path, make):
    ferro = write(tmp_path, lambda w: w.add_tensor("x", make(), 3))
    (e,) = plugin(ferro).Tensors("x")
    assert e.step == 3
    np.testing.assert_array_equal(tensor_util.make_ndarray(e.tensor_proto), make().numpy())


def test_float16_tensor_reads_back_exactly(tmp_path):
    """The half_val deviation makes float16 round-trip through TensorBoard's reader
    (torch's float32 bit patterns do not)."""
    t = torch.tensor([0.0, -2.5, 0.1, 65504.0, 6e-8, -np.inf], dtype=torch.float16)
    ferro = write(tmp_path, lambda w: w.add_tensor("x", t, 1))
    (e,) = plugin(ferro).Tensors("x")
    got = tensor_util.make_ndarray(e.tensor_proto)
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, t.numpy())


# -- files and runs ------------------------------------------------------------------------


def test_event_file_loader_iterates_every_record(tmp_path):
    def calls(w):
        for i in range(100):
            w.add_scalar("s", float(i), i)
        w.add_histogram("h", np.arange(50.0), 1)
        w.add_text("t", "x", 1)
        w.add_tensor("x", torch.arange(3), 1)

    ferro = write(tmp_path, calls, purge_step=0)
    (path,) = event_files(ferro)["."]
    raw = list(event_file_loader.RawEventFileLoader(str(path)).Load())
    events = list(event_file_loader.LegacyEventFileLoader(str(path)).Load())
    assert len(raw) == len(events) == 1 + 2 + 103
    assert events[0].file_version == "brain.Event:2"
    migrated = list(event_file_loader.EventFileLoader(str(path)).Load())
    stamped = list(event_file_loader.TimestampedEventFileLoader(str(path)).Load())
    assert len(migrated) == len(stamped) == len(events)
    assert all(t == e.wall_time for t, e in stamped)


def test_add_scalars_runs_seen_by_tensorboard(tmp_path):
    def calls(w):
        w.add_scalar("main", 1.0, 0)
        for step in range(5):
            w.add_scalars("loss", {"train": step * 1.0, "val": step * 2.0}, step)
            w.add_scalars("a/b", {"x": -step}, step)

    ferro, torch_dir = both(tmp_path, calls)
    expected_runs = {".", "loss_train", "loss_val", "a_b_x"}

    mux = em.EventMultiplexer(size_guidance=KEEP_ALL).AddRunsFromDirectory(str(ferro))
    mux.Reload()
    ref = em.EventMultiplexer(size_guidance=KEEP_ALL).AddRunsFromDirectory(str(torch_dir))
    ref.Reload()
    assert set(mux.Runs()) == set(ref.Runs()) == expected_runs
    for run in ("loss_train", "loss_val"):
        assert mux.Runs()[run][ea.SCALARS] == ["loss"]
    assert [e.value for e in mux.Scalars("loss_val", "loss")] == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert [e.step for e in mux.Scalars("a_b_x", "a/b")] == list(range(5))

    pmux = pem.EventMultiplexer(size_guidance=KEEP_ALL).AddRunsFromDirectory(str(ferro))
    pmux.Reload()
    assert set(pmux.Runs()) == expected_runs
    tensors = pmux.Tensors("loss_train", "loss")
    assert [tensor_util.make_ndarray(t.tensor_proto).item() for t in tensors] == [0, 1, 2, 3, 4]


def test_purge_step_hides_orphaned_events(tmp_path):
    """A restarted run (purge_step) replaces the previous run's later steps for
    TensorBoard, exactly as with torch's files."""

    def run(writer_cls, logdir):
        with writer_cls(str(logdir)) as w:
            for i in range(10):
                w.add_scalar("s", float(i), i)
        with writer_cls(str(logdir), purge_step=5) as w:
            for i in range(5, 8):
                w.add_scalar("s", 100.0 + i, i)

    run(ferroboard.SummaryWriter, tmp_path / "ferro")
    run(TorchSummaryWriter, tmp_path / "torch")
    got = [(e.step, e.value) for e in legacy(tmp_path / "ferro").Scalars("s")]
    want = [(e.step, e.value) for e in legacy(tmp_path / "torch").Scalars("s")]
    assert got == want
    assert got == [(i, float(i)) for i in range(5)] + [(i, 100.0 + i) for i in range(5, 8)]


def test_explicit_walltime_reads_back(tmp_path):
    ferro = write(tmp_path, lambda w: w.add_scalar("s", 1.0, 1, walltime=1_600_000_000.5))
    (e,) = legacy(ferro).Scalars("s")
    assert e.wall_time == 1_600_000_000.5
    assert legacy(ferro).FirstEventTimestamp() > 1.6e9
