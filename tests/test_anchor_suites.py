"""What the anchors' own test suites check (torch's `test/test_tensorboard.py`,
tensorboardX's `tests/`), run against ferroboard with the same inputs and compared with
what torch and tensorboardX write: complex `tensor_proto`, one PR-curve threshold,
`mesh` without `config_dict`, `int_to_half` on the `half_val` ferroboard writes, and
unsupported URL log dirs refused before anything is created."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
import tensorboardX.summary as xs
import torch
import torch.utils.tensorboard.summary as ts
from eventfiles import diff_messages, events_of
from ferroboard import FileWriter, GlobalSummaryWriter, SummaryWriter, summary
from PIL import Image
from tensorboard.compat.proto import summary_pb2
from tensorboard.compat.proto.types_pb2 import DataType
from tensorboard.util import tensor_util


def tensor_n(shape, dtype=float) -> np.ndarray:
    """torch's and tensorboardX's `tensor_N`: 0, 1, 2, ... in `shape`."""
    return np.arange(np.prod(shape), dtype=dtype).reshape(shape)


def _same(ours, theirs) -> None:
    """Equal Summaries; tensorboardX's own Summary class is parsed into TensorBoard's."""
    if not isinstance(theirs, summary_pb2.Summary):
        theirs = summary_pb2.Summary.FromString(theirs.SerializeToString())
    diffs = diff_messages(ours, theirs)
    assert not diffs, "\n".join(diffs[:20])


# -- tensor_proto ---------------------------------------------------------------------------


def test_complex_tensor_proto_as_torch_suite():
    """torch's `test_complex_tensor_proto`."""
    t = torch.complex(torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0]))
    proto = summary.tensor_proto("dummy", t).value[0].tensor
    assert proto.scomplex_val == [1.0, 3.0, 2.0, 4.0]
    assert proto.dtype == DataType.DT_COMPLEX64


@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
def test_complex_tensor_proto_matches_torch(dtype):
    t = torch.complex(
        torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 3, dtype=torch.float64)
    )
    t = t.to(dtype)
    _same(summary.tensor_proto("c", t), ts.tensor_proto("c", t))
    # numpy complex arrays too, read back by TensorBoard's own tensor_util.
    arr = t.numpy()
    back = tensor_util.make_ndarray(summary.tensor_proto("c", arr).value[0].tensor)
    np.testing.assert_array_equal(back, arr)


def test_complex32_tensor_is_written_as_complex64():
    """torch maps chalf to DT_COMPLEX32, which TensorBoard's protos lack (torch raises
    ValueError); ferroboard writes the exact complex64 values."""
    with pytest.warns(UserWarning):  # torch: "ComplexHalf support is experimental"
        t = torch.tensor([1 + 2j, -0.5 + 4j], dtype=torch.chalf)
    with pytest.raises(ValueError, match="DT_COMPLEX32"):
        ts.tensor_proto("c", t)
    proto = summary.tensor_proto("c", t).value[0].tensor
    assert proto.dtype == DataType.DT_COMPLEX64
    assert list(proto.scomplex_val) == [1.0, 2.0, -0.5, 4.0]


def test_empty_and_scalar_tensor_proto_match_torch():
    """torch's `test_empty_tensor_proto`, `test_scalar_tensor_proto`, `test_int_...`."""
    for t in (torch.empty(0), torch.tensor(0.1), torch.tensor([1, 2, 3], dtype=torch.int32)):
        _same(summary.tensor_proto("dummy", t), ts.tensor_proto("dummy", t))
    assert summary.tensor_proto("dummy", torch.empty(0)).value[0].tensor.float_val == []


# -- int_to_half ----------------------------------------------------------------------------

HALF_VALUES = [1.0, 2.0, 3.0, -0.0, 0.0, 65504.0, -2.5, 6e-8, 1e-5, float("inf"), float("nan")]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_int_to_half_decodes_what_the_writer_wrote(tmp_path, dtype):
    """Round trip through the event file: `add_tensor` of float16/bfloat16, then
    `int_to_half` on each `half_val` entry read back from disk gives the values."""
    t = torch.tensor(HALF_VALUES, dtype=dtype)
    with SummaryWriter(tmp_path) as w:
        w.add_tensor("h", t)
    proto = events_of(tmp_path)[1].summary.value[0].tensor
    expected_dtype = DataType.DT_HALF if dtype == torch.float16 else DataType.DT_BFLOAT16
    assert proto.dtype == expected_dtype
    expected = t.float().tolist()
    # The 16-bit patterns TensorFlow defines (TensorBoard's reader views them as float16;
    # its bfloat16 dtype needs TensorFlow, so that one is checked by hand).
    if dtype == torch.float16:
        read = tensor_util.make_ndarray(proto).astype(np.float32)
    else:
        read = (np.array(proto.half_val, dtype=np.uint32) << 16).view(np.float32)
    np.testing.assert_array_equal(read, expected)
    decoded = [summary.int_to_half(x, dtype=dtype) for x in proto.half_val]
    np.testing.assert_array_equal(decoded, expected)
    # The same with the dtype by name, and from `summary.tensor_proto`.
    name = "float16" if dtype == torch.float16 else "bfloat16"
    half_val = summary.tensor_proto("h", t).value[0].tensor.half_val
    np.testing.assert_array_equal([summary.int_to_half(x, name) for x in half_val], expected)


def test_int_to_half_without_dtype_reads_float16_as_torch_suite():
    """torch's `test_half_tensor_proto[float16]`, unchanged: no dtype needed."""
    proto = summary.tensor_proto("dummy", torch.tensor([1.0, 2.0, 3.0], dtype=torch.float16))
    tensor = proto.value[0].tensor
    assert [summary.int_to_half(x) for x in tensor.half_val] == [1.0, 2.0, 3.0]
    assert tensor.dtype == DataType.DT_HALF


def test_int_to_half_decodes_every_float16_and_bfloat16_pattern():
    bits = np.arange(1 << 16, dtype=np.uint16)
    f16 = bits.view(np.float16).astype(np.float64)
    np.testing.assert_array_equal([summary.int_to_half(int(b)) for b in bits], f16)
    with np.errstate(invalid="ignore"):  # signalling NaN patterns
        bf16 = (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    np.testing.assert_array_equal(
        [summary.int_to_half(int(b), dtype="bfloat16") for b in bits], bf16
    )


def test_int_to_half_still_decodes_torch_half_val():
    """torch writes float32 bit patterns (`half_to_int`); those decode as before, for
    both 16-bit types, with or without dtype."""
    for dtype in (torch.float16, torch.bfloat16):
        t = torch.tensor(HALF_VALUES, dtype=dtype)
        half_val = ts.tensor_proto("h", t).value[0].tensor.half_val
        expected = t.float().tolist()
        np.testing.assert_array_equal([summary.int_to_half(x) for x in half_val], expected)
        np.testing.assert_array_equal(
            [summary.int_to_half(x, dtype=dtype) for x in half_val], expected
        )
        assert [summary.half_to_int(v) for v in expected] == [ts.half_to_int(v) for v in expected]
    finite = np.arange(1 << 16, dtype=np.uint16).view(np.float16)
    finite = finite[np.isfinite(finite)].astype(np.float64).tolist()
    assert [summary.int_to_half(ts.half_to_int(v)) for v in finite] == finite


def test_int_to_half_bad_input():
    with pytest.raises(TypeError, match="i must be an int"):
        summary.int_to_half(1.5)
    with pytest.raises(ValueError, match="int32"):
        summary.int_to_half(1 << 40)
    with pytest.raises(ValueError, match="dtype must be 'float16' or 'bfloat16'"):
        summary.int_to_half(15360, dtype="float32")


# -- one PR-curve threshold -----------------------------------------------------------------

#: tensorboardX's `tests/test_pr_curve.py` rows.
RAW = (
    [75, 64, 21, 5, 0],
    [150, 105, 18, 0, 0],
    [0, 45, 132, 150, 150],
    [0, 11, 54, 70, 75],
    [0.3333333, 0.3786982, 0.5384616, 1.0, 0.0],
    [1.0, 0.8533334, 0.28, 0.0666667, 0.0],
)
RNG = np.random.default_rng(5)


@pytest.mark.parametrize("anchor", [ts, xs], ids=["torch", "tensorboardX"])
@pytest.mark.parametrize(
    "predictions",
    [
        RNG.random(100).astype(np.float16),  # tensorboardX's test_pr_purve input type
        RNG.random(100),
        # One threshold counts every finite prediction, even outside [0, 1].
        np.array([np.nan, 5.0, -3.0, np.inf, 0.5, 0.5, 0.25, 1.0] * 4, dtype=np.float32),
    ],
    ids=["float16", "float64", "out_of_range"],
)
def test_pr_curve_one_threshold_matches_anchors(anchor, predictions):
    labels = RNG.integers(0, 2, predictions.size)
    with np.errstate(invalid="ignore"):  # the anchors cast NaN to int32
        theirs = anchor.pr_curve("tag", labels, predictions, 1)
        curve = ts.compute_curve(labels, predictions, 1)
    ours = summary.pr_curve("tag", labels, predictions, 1)
    _same(ours, theirs)
    assert ours.value[0].tensor.tensor_shape.dim[1].size == 1
    np.testing.assert_array_equal(summary.compute_curve(labels, predictions, 1), curve)
    weights = RNG.random(predictions.size)
    with np.errstate(invalid="ignore"):
        theirs = anchor.pr_curve("tag", labels, predictions, 1, weights=weights)
    _same(summary.pr_curve("tag", labels, predictions, 1, weights=weights), theirs)


@pytest.mark.parametrize("anchor", [ts, xs], ids=["torch", "tensorboardX"])
def test_pr_curve_raw_one_threshold_matches_anchors(anchor):
    """tensorboardX's `test_pr_purve_raw`: five columns, num_thresholds=1."""
    _same(
        summary.pr_curve_raw("prcurve with raw data", *RAW, 1),
        anchor.pr_curve_raw("prcurve with raw data", *RAW, 1),
    )


def test_writer_pr_curves_with_one_threshold_match_torch(parity):
    labels, predictions = RNG.integers(0, 2, 50), RNG.random(50)

    def calls(w):
        w.add_pr_curve("pr", labels, predictions, 3, num_thresholds=1)
        w.add_pr_curve_raw("raw", *RAW, global_step=4, num_thresholds=1)

    ferro, _ = parity.check(calls)
    events = ferro["."][0]
    pr = [e for e in events if e.HasField("summary") and e.summary.value[0].tag == "pr"][0]
    assert pr.step == 3
    assert pr.summary.value[0].tensor.tensor_shape.dim[1].size == 1


def test_zero_thresholds_is_refused_naming_the_argument(tmp_path):
    labels, predictions = np.array([0, 1]), np.array([0.2, 0.7])
    with pytest.raises(ValueError, match="num_thresholds must be at least 1, got 0"):
        summary.pr_curve("t", labels, predictions, 0)
    with pytest.raises(ValueError, match="num_thresholds must be at least 1, got -2"):
        summary.pr_curve_raw("t", *RAW, -2)
    with SummaryWriter(tmp_path) as w:
        with pytest.raises(ValueError, match="num_thresholds"):
            w.add_pr_curve("t", labels, predictions, num_thresholds=0)


# -- mesh -----------------------------------------------------------------------------------

MESH_V = np.array([[[1, 1, 1], [-1, -1, 1], [1, -1, -1], [-1, 1, -1]]], dtype=float)
MESH_C = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 0, 255]]], dtype=int)
MESH_F = np.array([[[0, 2, 3], [0, 3, 1], [0, 1, 2], [1, 3, 2]]], dtype=int)


def test_mesh_config_dict_defaults_to_none():
    """tensorboardX's `test_mesh` calls `mesh(tag, vertices=, colors=, faces=)`; the
    result is torch's `mesh(..., config_dict=None)` (torch's `test_mesh`)."""
    ours = summary.mesh("my_mesh", vertices=MESH_V, colors=MESH_C, faces=MESH_F)
    theirs = ts.mesh("my_mesh", vertices=MESH_V, colors=MESH_C, faces=MESH_F, config_dict=None)
    _same(ours, theirs)
    explicit = summary.mesh("my_mesh", MESH_V, MESH_C, MESH_F, None)
    assert explicit.SerializeToString() == ours.SerializeToString()


# -- the rest of torch's TestTensorBoardSummary, with its inputs ------------------------------

PROTO_CASES = {
    "histogram_auto": lambda m: m.histogram("dummy", tensor_n((1024,)), bins="auto", max_bins=5),
    "histogram_fd": lambda m: m.histogram("dummy", tensor_n((1024,)), bins="fd", max_bins=5),
    "histogram_doane": lambda m: m.histogram("dummy", tensor_n((1024,)), bins="doane", max_bins=5),
    "text": lambda m: m.text("dummy", "text 123"),
    "audio": lambda m: m.audio("dummy", tensor_n((42,))),
    "scalar_new_style": lambda m: m.scalar("test_scalar", 1.0, new_style=True),
}


@pytest.mark.parametrize("make", PROTO_CASES.values(), ids=PROTO_CASES.keys())
def test_torch_summary_suite_protos(make):
    _same(make(summary), make(ts))


IMAGE_CASES = {
    "image_with_boxes": lambda m: m.image_boxes(
        "dummy", tensor_n((3, 32, 32)), np.array([[10, 10, 40, 40]])
    ),
    "one_channel": lambda m: m.image("dummy", tensor_n((1, 8, 8)), dataformats="CHW"),
    "one_channel_batched": lambda m: m.image("dummy", tensor_n((2, 1, 8, 8)), dataformats="NCHW"),
    "three_channel_batched": lambda m: m.image("dummy", tensor_n((2, 3, 8, 8)), dataformats="NCHW"),
    "without_channel": lambda m: m.image("dummy", tensor_n((8, 8)), dataformats="HW"),
}


@pytest.mark.parametrize("make", IMAGE_CASES.values(), ids=IMAGE_CASES.keys())
def test_torch_summary_suite_images(make):
    """torch's `assertImageProto`: tag, size, colorspace and decoded pixels."""
    a, e = make(summary).value[0], make(ts).value[0]
    assert a.tag == e.tag
    assert (a.image.height, a.image.width, a.image.colorspace) == (
        e.image.height,
        e.image.width,
        e.image.colorspace,
    )
    np.testing.assert_array_equal(
        np.asarray(Image.open(io.BytesIO(a.image.encoded_image_string))),
        np.asarray(Image.open(io.BytesIO(e.image.encoded_image_string))),
    )


# -- URL log dirs ---------------------------------------------------------------------------

URL_CASES = {
    "SummaryWriter(hdfs)": (lambda: SummaryWriter("hdfs://nn/run"), "log_dir", "hdfs://nn/run"),
    "SummaryWriter(logdir=ftp)": (lambda: SummaryWriter(logdir="ftp://b/r"), "logdir", "ftp://b/r"),
    "SummaryWriter(bytes)": (
        lambda: SummaryWriter(b"hdfs://nn/run"),
        "log_dir",
        "hdfs://nn/run",
    ),
    "SummaryWriter(no disk)": (
        lambda: SummaryWriter("wasb://c/r", write_to_disk=False),
        "log_dir",
        "wasb://c/r",
    ),
    "FileWriter(hdfs)": (lambda: FileWriter("hdfs://x"), "log_dir", "hdfs://x"),
    "FileWriter(logdir=)": (lambda: FileWriter(logdir="file:///tmp/x"), "logdir", "file:///tmp/x"),
    "GlobalSummaryWriter": (lambda: GlobalSummaryWriter("http://b/g"), "logdir", "http://b/g"),
    "GlobalSummaryWriter(log_dir=)": (
        lambda: GlobalSummaryWriter(log_dir="gcs+x.y-z://b/g"),
        "log_dir",
        "gcs+x.y-z://b/g",
    ),
}


@pytest.mark.parametrize("case", URL_CASES.values(), ids=URL_CASES.keys())
def test_unsupported_url_log_dirs_are_refused_before_anything_is_created(
    tmp_path, monkeypatch, case
):
    # s3://, gs://, az://, ... are written through object stores (tests/test_store.py);
    # any other scheme:// must not become a local directory named "hdfs:".
    make, arg, value = case
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError) as info:
        make()
    message = str(info.value)
    assert f"{arg}={value!r}" in message
    assert "is not supported" in message and "s3://" in message and "gs://" in message
    assert "local path" in message
    assert os.listdir(tmp_path) == []  # no "hdfs:" directory, no event file


def test_windows_drive_paths_are_local(tmp_path, monkeypatch):
    """tensorboardX's `test_windowsPath`: a drive path is not a URL (on POSIX it names
    an ordinary directory)."""
    monkeypatch.chdir(tmp_path)
    for path in ("C:\\Downloads", "D:/runs", "C://x"):
        with SummaryWriter(path) as w:
            w.add_scalar("test", 1)
        assert os.path.isdir(tmp_path / path)
    # A colon later in the path, or no "//", is a local name too.
    with SummaryWriter("runs/a:b//c") as w:
        w.add_scalar("test", 1)
    assert os.path.isdir(tmp_path / "runs" / "a:b" / "c")
