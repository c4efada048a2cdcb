"""`ferroboard.summary`: the functions of torch's `torch.utils.tensorboard.summary`,
returning Summary protos equal to torch's, accepted by `FileWriter.add_summary` (the
path PyTorch Lightning's hparams logging takes)."""

from __future__ import annotations

import io

import ferroboard
import numpy as np
import pytest
import torch
import torch.utils.tensorboard.summary as ts
from eventfiles import diff_messages, events_of
from ferroboard import summary
from PIL import Image
from tensorboard.compat.proto import summary_pb2
from tensorboard.plugins.hparams import plugin_data_pb2

RNG = np.random.default_rng(11)
#: torch's "tensorflow" edges (its summary function takes edges, the writer the name).
TORCH_DEFAULT_BINS = ferroboard.SummaryWriter(write_to_disk=False).default_bins


def _same(ours, theirs) -> None:
    assert isinstance(ours, summary_pb2.Summary)
    diffs = diff_messages(ours, theirs)
    assert not diffs, "\n".join(diffs[:20])


CASES = {
    "scalar": lambda m: m.scalar("loss", 0.25),
    "scalar_tensor": lambda m: m.scalar("loss", torch.tensor(1.5)),
    "scalar_new_style": lambda m: m.scalar("s", 2.0, new_style=True, double_precision=True),
    "text": lambda m: m.text("notes", "hello ✓"),
    "histogram": lambda m: m.histogram("h", RNG.standard_normal(1000), TORCH_DEFAULT_BINS),
    "histogram_int_bins": lambda m: m.histogram("h", np.arange(100.0), 10, max_bins=5),
    "histogram_raw": lambda m: m.histogram_raw("h", 0.0, 1.0, 3, 1.5, 1.25, [0.5, 1.0], [1, 2]),
    "pr_curve": lambda m: m.pr_curve("pr", RNG.integers(0, 2, 300), RNG.random(300), 50),
    "pr_curve_raw": lambda m: m.pr_curve_raw(
        "pr", *(np.arange(5.0) for _ in range(6)), num_thresholds=5
    ),
    "custom_scalars": lambda m: m.custom_scalars(
        {"c": {"a": ["Multiline", ["x", "y"]], "b": ["Margin", ["v", "l", "u"]]}}
    ),
    "mesh": lambda m: m.mesh(
        "m", torch.rand(1, 5, 3), torch.randint(0, 255, (1, 5, 3)), None, {"camera": {"fov": 1}}
    ),
    "tensor_proto": lambda m: m.tensor_proto("t", torch.arange(6.0).reshape(2, 3)),
}


@pytest.mark.parametrize("make", CASES.values(), ids=CASES.keys())
def test_summary_matches_torch(make):
    state = RNG.bit_generator.state
    torch.manual_seed(0)
    ours = make(summary)
    RNG.bit_generator.state = state
    torch.manual_seed(0)
    theirs = make(ts)
    _same(ours, theirs)


def test_make_histogram_and_compute_curve():
    values = RNG.standard_normal(500)
    ours = summary.make_histogram(values, "tensorflow")
    assert not diff_messages(ours, ts.make_histogram(values, TORCH_DEFAULT_BINS))
    labels, predictions = RNG.integers(0, 2, 100), RNG.random(100)
    np.testing.assert_array_equal(
        summary.compute_curve(labels, predictions, 127), ts.compute_curve(labels, predictions, 127)
    )


def test_hparams_matches_torch_except_bools():
    hp = {"lr": 0.1, "bs": 32, "opt": "adam", "flag": True}
    ours = summary.hparams(hp, {"hp/acc": 0.0}, {"opt": ["adam", "sgd"]})
    theirs = ts.hparams(hp, {"hp/acc": 0.0}, {"opt": ["adam", "sgd"]})
    for a, e in zip(ours, theirs):
        ac = plugin_data_pb2.HParamsPluginData.FromString(a.value[0].metadata.plugin_data.content)
        ec = plugin_data_pb2.HParamsPluginData.FromString(e.value[0].metadata.plugin_data.content)
        assert a.value[0].tag == e.value[0].tag
        if ac.HasField("session_start_info"):
            # Documented deviation: True is a bool, torch writes 1.0.
            assert ac.session_start_info.hparams["flag"].bool_value is True
            assert ec.session_start_info.hparams["flag"].number_value == 1.0
            del ac.session_start_info.hparams["flag"]
            del ec.session_start_info.hparams["flag"]
        if ac.HasField("experiment"):
            flag = [h for h in ac.experiment.hparam_infos if h.name == "flag"]
            assert flag[0].type == 2  # DATA_TYPE_BOOL (torch: 3, FLOAT64)
            flag[0].type = 3
        assert not diff_messages(ac, ec), diff_messages(ac, ec)


def test_media_summaries():
    img = RNG.random((3, 8, 10)).astype(np.float32)
    ours = summary.image("img", img, dataformats="CHW")
    theirs = ts.image("img", img, dataformats="CHW")
    a, e = ours.value[0].image, theirs.value[0].image
    assert (a.height, a.width, a.colorspace) == (e.height, e.width, e.colorspace)
    np.testing.assert_array_equal(
        np.asarray(Image.open(io.BytesIO(a.encoded_image_string))),
        np.asarray(Image.open(io.BytesIO(e.encoded_image_string))),
    )
    # torch's convention: height/width are the size before `rescale`; the PNG is scaled.
    scaled = summary.image("i", img, rescale=2, dataformats="CHW").value[0].image
    assert (scaled.height, scaled.width) == (8, 10)
    assert Image.open(io.BytesIO(scaled.encoded_image_string)).size == (20, 16)
    made = summary.make_image((img.transpose(1, 2, 0) * 255).astype(np.uint8))
    assert (made.height, made.width) == (8, 10)
    boxes = summary.image_boxes("b", img, np.array([[1, 1, 5, 5]]))
    assert boxes.value[0].image.width == 10
    snd = np.sin(np.linspace(0, 100, 4000)).astype(np.float32)
    audio = summary.audio("a", snd, sample_rate=8000).value[0].audio
    assert (audio.sample_rate, audio.length_frames) == (8000, 4000)
    video = summary.video("v", RNG.random((1, 4, 3, 6, 6)).astype(np.float32), fps=2)
    assert video.value[0].image.encoded_image_string[:6] == b"GIF89a"


def test_file_writer_accepts_them(tmp_path):
    """Lightning's pattern: `_get_file_writer().add_summary(proto)`."""
    exp, ssi, sei = summary.hparams({"lr": 0.1}, {"hp_metric": -1})
    with ferroboard.SummaryWriter(tmp_path) as w:
        fw = w._get_file_writer()
        for s in (exp, ssi, sei):
            fw.add_summary(s)
        fw.add_summary(summary.scalar("hp_metric", 0.5), global_step=3)
    events = events_of(tmp_path)
    assert [e.summary.value[0].tag for e in events[1:]] == [
        "_hparams_/experiment",
        "_hparams_/session_start_info",
        "_hparams_/session_end_info",
        "hp_metric",
    ]
    assert events[-1].step == 3


def test_without_tensorboard_protos(monkeypatch, tmp_path):
    """Without the `tensorboard` package the functions return stand-ins with the same
    bytes, which `add_summary` accepts."""
    import builtins

    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name.startswith("tensorboard"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    expected = ts.scalar("x", 2.0).SerializeToString()
    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    proto = summary.scalar("x", 2.0)
    assert isinstance(proto, summary.SerializedProto)
    assert proto.SerializeToString() == expected
    hist = summary.make_histogram(np.arange(10.0), "tensorflow")
    assert isinstance(hist, summary.SerializedProto)
    monkeypatch.setattr(builtins, "__import__", real_import)
    assert summary_pb2.HistogramProto.FromString(hist.SerializeToString()).num == 10
    with ferroboard.SummaryWriter(tmp_path) as w:
        w._get_file_writer().add_summary(proto)
    assert events_of(tmp_path)[1].summary.value[0].simple_value == 2.0


def test_half_helpers_match_torch():
    for v in (0.5, -3.25, 1e-3):
        assert summary.half_to_int(v) == ts.half_to_int(v)
        assert summary.int_to_half(summary.half_to_int(v)) == ts.int_to_half(ts.half_to_int(v))


def test_module_is_exported():
    assert ferroboard.summary is summary
    assert hasattr(ferroboard, "GlobalSummaryWriter")


# -- draw_boxes ----------------------------------------------------------------------------

BOXES = np.array([[4.7, 3.2, 40.9, 30.0], [20, 25, 60, 44], [0, 0, 63, 47], [10, 10, 10, 10]])


def _noise_image(mode: str) -> Image.Image:
    rng = np.random.default_rng(3)
    shape = {"RGB": (48, 64, 3), "RGBA": (48, 64, 4), "L": (48, 64)}[mode]
    return Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode=mode)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L"])
def test_draw_boxes_matches_torch_pixel_for_pixel(mode):
    theirs = ts.draw_boxes(_noise_image(mode), BOXES)
    ours = summary.draw_boxes(_noise_image(mode), BOXES)
    assert isinstance(ours, Image.Image) and ours.mode == mode
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


def test_draw_boxes_on_arrays_and_tensors_returns_a_new_array():
    pixels = np.asarray(_noise_image("RGB")).copy()
    before = pixels.copy()
    expected = np.asarray(ts.draw_boxes(_noise_image("RGB"), BOXES))
    np.testing.assert_array_equal(summary.draw_boxes(pixels, BOXES), expected)
    np.testing.assert_array_equal(summary.draw_boxes(pixels, torch.tensor(BOXES)), expected)
    np.testing.assert_array_equal(pixels, before)  # the input is left alone


def test_draw_boxes_labels():
    plain = np.asarray(summary.draw_boxes(_noise_image("RGB"), BOXES[:2]))
    labelled = np.asarray(
        summary.draw_boxes(_noise_image("RGB"), BOXES[:2], labels=["cat", "dog", "extra"])
    )
    changed = np.any(plain != labelled, axis=2)
    assert changed.any()
    # Labels sit on a red box whose bottom-left corner is the box's bottom-left corner.
    rows, cols = np.nonzero(changed)
    assert rows.max() <= 44 and cols.min() >= 4
    with pytest.raises(ValueError, match="labels: 1 labels for 2 boxes"):
        summary.draw_boxes(_noise_image("RGB"), BOXES[:2], labels=["cat"])


@pytest.mark.parametrize(
    "image,boxes,error,match",
    [
        (np.zeros((8, 8, 3), np.float32), BOXES, TypeError, "uint8"),
        (
            np.zeros((8, 8, 3), np.uint8),
            np.zeros((2, 3)),
            ValueError,
            r"boxes must have shape \(N, 4\)",
        ),
        (np.zeros((8, 8, 5), np.uint8), BOXES, ValueError, "1 to 4 channels"),
        (np.zeros(8, np.uint8), BOXES, ValueError, r"\(H, W\) or \(H, W, C\)"),
    ],
)
def test_draw_boxes_rejects_bad_input(image, boxes, error, match):
    with pytest.raises(error, match=match):
        summary.draw_boxes(image, boxes)


def test_media_summaries_need_no_temporary_files(monkeypatch, tmp_path):
    """The media functions serialize the core's encoder directly: with no usable
    temporary directory they still work (they used to write an event file there)."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    image = RNG.integers(0, 256, (3, 8, 8), dtype=np.uint8)
    assert summary.image("i", image, dataformats="CHW").value[0].image.width == 8
    assert summary.image_boxes("b", image, np.array([[1.0, 1, 4, 4]])).value[0].image.height == 8
    assert summary.video("v", np.zeros((1, 2, 3, 4, 4), np.uint8)).value[0].image.width == 4
    assert summary.audio("a", np.zeros(100, np.float32)).value[0].audio.length_frames == 100
    assert summary.make_video(np.zeros((2, 4, 4, 3), np.uint8), 4).width == 4
    assert not (tmp_path / "missing").exists()


def test_an_encoder_is_used_once():
    """A core encoder has two ways out, each of which uses it up."""
    from ferroboard import _core

    encoder = _core.text_summary("t", "x")
    assert summary_pb2.Summary.FromString(encoder.serialize()).value[0].tag == "t/text_summary"
    with pytest.raises(RuntimeError, match="already"):
        encoder.serialize()
    with pytest.raises(ValueError, match="part"):
        _core.text_summary("t", "x").serialize("tensor")
