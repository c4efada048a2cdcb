"""Parity of images, figures, boxes and audio with torch.utils.tensorboard.

Each test writes the same calls with torch's writer and ferroboard's and decodes both
files. PNG bytes differ (another deflate), so images are compared as decoded pixels plus
every other field (height, width, colorspace, tag, step). WAV files are byte-identical,
so audio goes through the whole-logdir comparison of `conftest.Parity`.

Documented deviations asserted here:
- box labels use a built-in bitmap font (torch: PIL's default font, which differs between
  installations): outlines match torch pixel for pixel, label areas are checked for a red
  box holding black text;
- float16 audio at full scale saturates to 32767 (torch wraps it to -32768).
"""

from __future__ import annotations

import io
import wave
from pathlib import Path
from typing import Any, Callable

import matplotlib

matplotlib.use("Agg")
import ferroboard  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from eventfiles import events_of, summary_values  # noqa: E402
from PIL import Image  # noqa: E402
from torch.utils.tensorboard import SummaryWriter as TorchSummaryWriter  # noqa: E402

Calls = Callable[[Any], None]

RNG = np.random.default_rng(20240611)


def run_both(tmp_path: Path, calls: Calls, torch_calls: Calls | None = None) -> tuple[list, list]:
    """(ferroboard's, torch's) events after running `calls` with each writer."""
    with TorchSummaryWriter(str(tmp_path / "torch")) as w:
        (torch_calls or calls)(w)
    with ferroboard.SummaryWriter(str(tmp_path / "ferro")) as w:
        calls(w)
    return events_of(tmp_path / "ferro"), events_of(tmp_path / "torch")


def decode_png(data: bytes) -> tuple[str, np.ndarray]:
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "PNG"
        return im.mode, np.asarray(im).copy()


def assert_images_equal(ferro_events: list, torch_events: list) -> list:
    """Same tags, steps and image fields; decoded pixels equal. Returns the pixels."""
    fe = [e for e in ferro_events if e.HasField("summary")]
    te = [e for e in torch_events if e.HasField("summary")]
    assert [e.step for e in fe] == [e.step for e in te]
    fv, tv = summary_values(fe), summary_values(te)
    assert [v.tag for v in fv] == [v.tag for v in tv]
    decoded = []
    for f, t in zip(fv, tv):
        assert f.WhichOneof("value") == t.WhichOneof("value") == "image", f.tag
        fi, ti = f.image, t.image
        assert (fi.height, fi.width, fi.colorspace) == (ti.height, ti.width, ti.colorspace), f.tag
        f_mode, f_px = decode_png(fi.encoded_image_string)
        t_mode, t_px = decode_png(ti.encoded_image_string)
        assert f_mode == t_mode, f.tag
        assert f_px.shape == t_px.shape, f.tag
        diff = np.argwhere(f_px != t_px)
        assert diff.size == 0, f"{f.tag}: {len(diff)} pixels differ, first {diff[:3].tolist()}"
        decoded.append(f_px)
    return decoded


# -- add_image / add_images: every layout and dtype ---------------------------------------


def float_values(shape: tuple) -> np.ndarray:
    """Uniform in [-0.5, 1.5] plus the edges: exact multiples of 1/255, 1, NaN, +-inf."""
    x = RNG.uniform(-0.5, 1.5, shape).astype(np.float64)
    flat = x.reshape(-1)
    special = [0.0, 1.0, 1 / 255, 254.5 / 255, 0.9999, -0.0, np.nan, np.inf, -np.inf, 0.5]
    flat[: len(special)] = special[: flat.size]
    return x


def arrays_of_every_dtype(shape: tuple) -> dict[str, np.ndarray]:
    f = float_values(shape)
    return {
        "uint8": RNG.integers(0, 256, shape, dtype=np.uint8),
        "float32": f.astype(np.float32),
        "float64": f,
        "float16": np.nan_to_num(f, posinf=2.0, neginf=-1.0).astype(np.float16),
        "int64": RNG.integers(-3, 300, shape).astype(np.int64),
        "int32": RNG.integers(-1, 3, shape).astype(np.int32),
        "int16": RNG.integers(-2, 2, shape).astype(np.int16),
        "uint16": RNG.integers(0, 3, shape).astype(np.uint16),
        "int8": RNG.integers(-128, 128, shape).astype(np.int8),
        "bool": RNG.integers(0, 2, shape).astype(bool),
    }


H, W = 5, 7

LAYOUTS = {
    # dataformats: shape (N = 3 for 4-D)
    "CHW": (3, H, W),
    "HWC": (H, W, 3),
    "HW": (H, W),
    "WH": (W, H),
    "CWH": (3, W, H),
    "WCH": (W, 3, H),
    "HCW": (H, 3, W),
    "hwc": (H, W, 3),
    "CHW-gray": (1, H, W),
    "HWC-gray": (H, W, 1),
    "HWC-rgba": (H, W, 4),
    "HWC-gray-alpha": (H, W, 2),
    "NCHW": (3, 3, H, W),
    "NHWC": (3, H, W, 3),
    "NCHW-gray": (3, 1, H, W),
    "HWNC": (H, W, 3, 3),
    "CNWH": (3, 3, W, H),
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_image_layouts_and_dtypes(tmp_path, layout):
    """Decoded pixels and fields equal torch's for each layout and every dtype,
    including out-of-range floats (clipped), NaN and infinities."""
    fmt = layout.split("-")[0]
    arrays = arrays_of_every_dtype(LAYOUTS[layout])

    def calls(w):
        for i, (name, array) in enumerate(arrays.items()):
            if len(fmt) == 4:
                w.add_images(f"img/{name}", array, i, dataformats=fmt)
            else:
                w.add_image(f"img/{name}", array, i, dataformats=fmt)

    with np.errstate(invalid="ignore"):
        ferro, torch_events = run_both(tmp_path, calls)
    pixels = assert_images_equal(ferro, torch_events)
    assert len(pixels) == len(arrays)
    # Sanity of the oracle: the float image is not all black or all white.
    assert 0 < pixels[1].mean() < 255


@pytest.mark.parametrize("n", [1, 2, 8, 9, 17])
def test_grid_columns_and_padding(tmp_path, n):
    """Up to 8 columns, ceil(N / 8) rows, black cells after the last image."""
    images = RNG.uniform(0.1, 1.0, (n, 3, 4, 6)).astype(np.float32)
    ferro, torch_events = run_both(tmp_path, lambda w: w.add_images("grid", images, 0))
    (px,) = assert_images_equal(ferro, torch_events)
    cols, rows = min(n, 8), -(-n // 8)
    assert px.shape == (rows * 4, cols * 6, 3)
    if n % 8:
        assert (px[-4:, (n % 8) * 6 :] == 0).all()


def test_add_image_accepts_a_grid_and_add_images_a_single_image(tmp_path):
    """Both torch methods go through one `image()`; the format decides."""
    grid = RNG.random((4, 3, 5, 5))
    single = RNG.random((3, 5, 5))

    def calls(w):
        w.add_image("grid", grid, 0, dataformats="NCHW")
        w.add_images("single", single, 0, dataformats="CHW")

    assert_images_equal(*run_both(tmp_path, calls))


def test_torch_tensors(tmp_path):
    """CPU tensors of several dtypes, bfloat16 included, give torch's pixels."""
    base = torch.from_numpy(float_values((3, H, W))).float().nan_to_num(0.0)
    tensors = {
        "float32": base,
        "float64": base.double(),
        "bfloat16": base.bfloat16(),
        "float16": base.half(),
        "uint8": torch.from_numpy(RNG.integers(0, 256, (3, H, W), dtype=np.uint8)),
        "int64": torch.from_numpy(RNG.integers(-2, 300, (3, H, W))),
        "grid": torch.rand(5, 3, H, W),
    }

    def calls(w):
        for name, t in tensors.items():
            if name == "grid":
                w.add_images(name, t, 1)
            else:
                w.add_image(name, t, 1)

    # float32's largest value (from nan_to_num) times 255 overflows to inf in torch's code.
    with np.errstate(over="ignore"):
        assert_images_equal(*run_both(tmp_path, calls))


def test_pil_images_and_lists(tmp_path):
    """PIL images (their own layout) and tensorboardX's list of CHW images equal torch's
    output for the same pixels as arrays."""
    rgb = RNG.integers(0, 256, (H, W, 3), dtype=np.uint8)
    gray = RNG.integers(0, 256, (H, W), dtype=np.uint8)
    rgba = RNG.integers(0, 256, (H, W, 4), dtype=np.uint8)
    palette = Image.fromarray(rgb).convert("P")
    chw_list = [RNG.random((3, H, W)).astype(np.float32) for _ in range(3)]

    def ferro_calls(w):
        w.add_image("rgb", Image.fromarray(rgb), 0)
        w.add_image("gray", Image.fromarray(gray), 0)
        w.add_image("rgba", Image.fromarray(rgba), 0)
        w.add_image("palette", palette, 0)
        w.add_images("list", chw_list, 0, dataformats="CHW")
        w.add_images("tensor_list", [torch.from_numpy(a) for a in chw_list], 0, dataformats="CHW")

    def torch_calls(w):
        w.add_image("rgb", rgb, 0, dataformats="HWC")
        w.add_image("gray", gray, 0, dataformats="HW")
        w.add_image("rgba", rgba, 0, dataformats="HWC")
        w.add_image("palette", np.asarray(palette.convert("RGB")), 0, dataformats="HWC")
        w.add_images("list", np.stack(chw_list), 0)
        w.add_images("tensor_list", np.stack(chw_list), 0)

    assert_images_equal(*run_both(tmp_path, ferro_calls, torch_calls))


def test_rgba_grid_as_tensorboardx(tmp_path):
    """tensorboardX also accepts 4-channel grids (torch rejects them): RGBA, zero alpha
    in the padding."""
    images = RNG.integers(1, 256, (3, 4, 4, 5), dtype=np.uint8)
    with ferroboard.SummaryWriter(str(tmp_path)) as w:
        w.add_images("rgba", images, 0)
    (v,) = summary_values(events_of(tmp_path))
    mode, px = decode_png(v.image.encoded_image_string)
    assert (mode, v.image.colorspace, px.shape) == ("RGBA", 4, (4, 15, 4))
    np.testing.assert_array_equal(px[:, 5:10], images[1].transpose(1, 2, 0))


def test_images_are_snapshots(tmp_path):
    """The caller may overwrite its array right after the call."""
    img = np.full((3, 8, 8), 0.5, np.float32)
    with ferroboard.SummaryWriter(str(tmp_path)) as w:
        w.add_image("snap", img, 0)
        img[:] = 1.0
    (v,) = summary_values(events_of(tmp_path))
    assert (decode_png(v.image.encoded_image_string)[1] == 127).all()


# -- add_figure -----------------------------------------------------------------------------


def make_figure(seed: int, size: tuple = (4, 3)) -> Any:
    rng = np.random.default_rng(seed)
    fig = plt.figure(figsize=size, dpi=50)
    ax = fig.add_subplot()
    ax.plot(np.cumsum(rng.normal(size=50)), color="tab:red")
    ax.set_title(f"figure {seed}")
    return fig


def test_figures(tmp_path):
    """A figure, a list of figures (grid) and close=False match torch's renders."""
    kept: list = []

    def calls(w):
        w.add_figure("fig", make_figure(1), 0)
        w.add_figure("figs", [make_figure(2), make_figure(3), make_figure(4)], 0)
        fig = make_figure(5)
        kept.append(fig)
        w.add_figure("open", fig, 0, close=False)

    ferro, torch_events = run_both(tmp_path, calls)
    pixels = assert_images_equal(ferro, torch_events)
    assert pixels[0].shape == (150, 200, 3)
    assert pixels[1].shape == (150, 600, 3)
    open_numbers = plt.get_fignums()
    assert [f.number for f in kept] == [n for n in open_numbers if n in {f.number for f in kept}]
    assert len(kept) == 2 and all(f.number in open_numbers for f in kept)
    plt.close("all")
    assert plt.get_fignums() == []


def test_figure_closing_default(tmp_path):
    fig = make_figure(6)
    with ferroboard.SummaryWriter(str(tmp_path)) as w:
        w.add_figure("fig", fig, 0)
    assert fig.number not in plt.get_fignums()


# -- add_image_with_boxes -------------------------------------------------------------------


def random_boxes(n: int, width: int, height: int) -> np.ndarray:
    x = RNG.uniform(-5, width + 5, (n, 2))
    y = RNG.uniform(-5, height + 5, (n, 2))
    boxes = np.stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]], 1)
    boxes[0] = [3, 4, 20, 15]  # integer corners
    boxes[1] = [25.7, 30.2, 10.1, 5.9]  # reversed corners, fractions
    boxes[2] = [8, 8, 8, 8]  # a point
    return boxes


@pytest.mark.parametrize("rescale", [1, 2, 0.5, 1.7])
def test_boxes_match_torch_pixels(tmp_path, rescale):
    """Red outlines of width 2 (PIL's rasterization), then PIL's Lanczos rescale."""
    img = RNG.random((3, 36, 48)).astype(np.float32)
    hwc = RNG.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    boxes = random_boxes(8, 48, 36)

    def calls(w):
        w.add_image_with_boxes("chw", img, boxes, 0, rescale=rescale)
        w.add_image_with_boxes(
            "hwc", hwc, torch.from_numpy(boxes), 0, rescale=rescale, dataformats="HWC"
        )
        # A label count that differs from the box count is dropped, as in torch.
        w.add_image_with_boxes("labels_dropped", img, boxes, 0, rescale=rescale, labels=["a", "b"])

    ferro, torch_events = run_both(tmp_path, calls)
    pixels = assert_images_equal(ferro, torch_events)
    assert pixels[0].shape == (int(36 * rescale), int(48 * rescale), 3)
    if rescale == 1:
        assert (pixels[0][4, 3:21] == [255, 0, 0]).all()


def test_boxes_draw_labels(tmp_path):
    """With labels, outlines still equal torch's outside the label areas; each label is
    a red box holding black text above the box's bottom-left corner."""
    img = np.full((3, 60, 80), 0.5, np.float32)
    boxes = np.array([[5.0, 5.0, 40.0, 50.0], [45.0, 10.0, 75.0, 30.0]])
    labels = ["cat", "dog 0.9"]
    ferro, torch_events = run_both(
        tmp_path, lambda w: w.add_image_with_boxes("b", img, boxes, 0, labels=labels)
    )
    f_px = decode_png(summary_values(ferro)[0].image.encoded_image_string)[1]
    t_px = decode_png(summary_values(torch_events)[0].image.encoded_image_string)[1]
    outside = np.ones(f_px.shape[:2], bool)
    for (left, _, _, bottom), text in zip(boxes, labels):
        # Generous: both fonts' label boxes fit in 20 rows above and 8 px per letter.
        top, right = int(bottom) - 20, int(left) + 8 * len(text) + 4
        outside[top : int(bottom) + 1, int(left) : right] = False
    np.testing.assert_array_equal(f_px[outside], t_px[outside])
    for (left, _, _, bottom), text in zip(boxes, labels):
        # Built-in font: 6x10 cells, margin 1, so the label box spans 13 rows.
        region = f_px[int(bottom) - 12 : int(bottom) + 1, int(left) : int(left) + 6 * len(text) + 1]
        red = (region == [255, 0, 0]).all(-1)
        black = (region == [0, 0, 0]).all(-1)
        assert (red | black).all(), text
        assert black.sum() >= 4 * len(text.replace(" ", "")), text
        assert red.sum() > black.sum(), text


def test_boxes_argument_orders(tmp_path):
    """torch's order (rescale 6th), tensorboardX's (dataformats 6th, labels 7th, rescale
    by keyword) and keywords all give the same image."""
    hwc = RNG.random((20, 30, 3))
    boxes = np.array([[2.0, 3.0, 12.0, 15.0]])
    with ferroboard.SummaryWriter(str(tmp_path)) as w:
        w.add_image_with_boxes("b", hwc, boxes, 0, None, 2, "HWC", ["x"])
        w.add_image_with_boxes("b", hwc, boxes, 0, None, "HWC", ["x"], rescale=2)
        w.add_image_with_boxes(
            tag="b",
            img_tensor=hwc,
            box_tensor=boxes,
            global_step=0,
            dataformats="HWC",
            labels="x",
            rescale=2,
        )
    values = summary_values(events_of(tmp_path))
    encoded = {v.image.encoded_image_string for v in values}
    assert len(values) == 3 and len(encoded) == 1
    assert decode_png(values[0].image.encoded_image_string)[1].shape == (40, 60, 3)
    with ferroboard.SummaryWriter(str(tmp_path / "bad")) as w:
        with pytest.raises(TypeError, match="unexpected"):
            w.add_image_with_boxes("b", hwc, boxes, 0, dataformats="HWC", scale=2)


# -- add_audio --------------------------------------------------------------------------------


def sound(n: int, amplitude: float = 0.8) -> np.ndarray:
    t = np.arange(n) / 44100.0
    return amplitude * np.sin(2 * np.pi * 440 * t) + RNG.normal(0, 0.01, n)


def test_audio_is_byte_identical(parity):
    """Mono WAV (header, samples, Summary.Audio fields) equal torch's, byte for byte:
    (L,) and (1, L), float32/float64, clipping, int16 and float16 below full scale."""
    loud = sound(2000, 1.5)
    loud[:3] = [np.inf, -np.inf, 1.0]
    inputs = [
        ("f32", sound(4410).astype(np.float32), {}),
        ("f64_row", sound(4410)[None, :], {"sample_rate": 16000}),
        ("clipped", loud.astype(np.float32), {"sample_rate": 22050.5}),
        ("int16", RNG.integers(-3, 4, 100).astype(np.int16), {}),
        ("f16", np.clip(sound(500), -0.99, 0.99).astype(np.float16), {}),
        ("torch", torch.from_numpy(sound(300)).float().reshape(1, 1, 300), {}),
    ]

    def calls(w):
        for step, (tag, snd, kwargs) in enumerate(inputs):
            w.add_audio(tag, snd, step, **kwargs)

    ferro, _ = parity.check(calls)
    audio = [v.audio for v in summary_values(ferro["."][0])]
    assert [a.length_frames for a in audio] == [4410, 4410, 2000, 100, 500, 300]
    assert {a.num_channels for a in audio} == {1}
    with wave.open(io.BytesIO(audio[2].encoded_audio_string)) as wav:
        assert wav.getframerate() == 22050  # Python's round(22050.5)
        samples = np.frombuffer(wav.readframes(3), "<i2")
    assert samples.tolist() == [32767, -32767, 32767]


def test_audio_float16_full_scale_saturates(tmp_path):
    """Deviation: torch wraps float16 1.0 to -32768 (32767 rounds to 32768 in float16,
    which overflows int16); ferroboard saturates. -1.0 gives -32768 in both."""
    snd = np.array([1.0, -1.0, 0.5], np.float16)
    with TorchSummaryWriter(str(tmp_path / "torch")) as w:
        w.add_audio("a", snd, 0)
    with ferroboard.SummaryWriter(str(tmp_path / "ferro")) as w:
        w.add_audio("a", snd, 0)

    def samples(d):
        (v,) = summary_values(events_of(d))
        with wave.open(io.BytesIO(v.audio.encoded_audio_string)) as wav:
            return np.frombuffer(wav.readframes(3), "<i2").tolist()

    assert samples(tmp_path / "torch") == [-32768, -32768, 16384]
    assert samples(tmp_path / "ferro") == [32767, -32768, 16384]


def test_stereo_audio_as_tensorboardx(tmp_path):
    """(L, 2) is interleaved stereo (tensorboardX's layout; torch rejects it). tensorboardX
    writes it through soundfile (round(x * 32768)); ferroboard keeps torch's scaling."""
    left, right = sound(1000), sound(1000, 0.3)
    with ferroboard.SummaryWriter(str(tmp_path)) as w:
        w.add_audio("stereo", np.stack([left, right], 1), 0, sample_rate=8000)
    (v,) = summary_values(events_of(tmp_path))
    assert (v.audio.num_channels, v.audio.length_frames, v.audio.sample_rate) == (2, 1000, 8000)
    assert v.audio.content_type == "audio/wav"
    with wave.open(io.BytesIO(v.audio.encoded_audio_string)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getnframes()) == (2, 2, 1000)
        pcm = np.frombuffer(wav.readframes(1000), "<i2").reshape(1000, 2)
    expected = (np.clip(np.stack([left, right], 1), -1, 1) * 32767).astype(np.int16)
    np.testing.assert_array_equal(pcm, expected)
