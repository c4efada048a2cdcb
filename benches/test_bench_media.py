"""Media: add_image, add_images, add_audio, add_video, and PNG encoding against Pillow.

* caller: one call on a fresh, idle writer (close() is not timed);
* end to end: the call plus close(), which waits for the encoding and the write.

Inputs: "smooth" images are synthetic gradients
and sinusoids plus σ=4 noise (they compress like a photo); the 3×512×512 input is a
float32 torch tensor in [0, 1] (CHW), the 1024×1024×3 one a uint8 numpy array (HWC);
audio is 0.5·sin(440 Hz) + N(0, 0.01) as a float32 tensor.

Anchors that cannot run here are skipped: tensorboardX's add_audio needs `soundfile`;
both anchors' add_video need `moviepy` (and torch's is broken with moviepy >= 2).

PNG encode rows compare `ferroboard._core.encode_png` with Pillow's `save(format="PNG")`
at its default level, which is what torch's and tensorboardX's `make_image` run; the
Pillow time is reported in the torch column. Sizes are in `extra_info` (`png_bytes`).

Targets (docs/architecture.md): caller <= 1 ms for a 1024² image; end to end >= 5×
faster than torch;
PNG >= 3× faster than Pillow with a file no more than 10 % larger.
"""

from __future__ import annotations

import importlib.util
import io
from typing import Any

import numpy as np
import pytest
from benchlib import record, rounds

_cache: dict[str, Any] = {}


def smooth_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    """(h, w, 3) float64 in [0, 255]: gradients, sinusoids and σ=4 noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    clean = np.stack(
        [127 + 100 * np.sin(x / 37.0) * np.cos(y / 53.0), 255 * x / w, 255 * y / h], -1
    )
    return np.clip(clean + rng.normal(0, 4, (h, w, 3)), 0, 255)


def image_512_chw() -> Any:
    if "512" not in _cache:
        import torch

        chw = (smooth_image(512, 512) / 255.0).transpose(2, 0, 1)
        _cache["512"] = torch.from_numpy(np.ascontiguousarray(chw, dtype=np.float32))
    return _cache["512"]


def image_1024_hwc() -> np.ndarray:
    if "1024" not in _cache:
        _cache["1024"] = smooth_image(1024, 1024).astype(np.uint8)
    return _cache["1024"]


def batch_64() -> np.ndarray:
    if "batch" not in _cache:
        rng = np.random.default_rng(1)
        _cache["batch"] = rng.random((64, 3, 32, 32), dtype=np.float32)
    return _cache["batch"]


def sound_10s() -> Any:
    if "sound" not in _cache:
        import torch

        rng = np.random.default_rng(2)
        t = np.arange(441_000) / 44_100.0
        snd = 0.5 * np.sin(2 * np.pi * 440 * t) + rng.normal(0, 0.01, t.size)
        _cache["sound"] = torch.from_numpy(snd.astype(np.float32))
    return _cache["sound"]


def video_16() -> np.ndarray:
    if "video" not in _cache:
        rng = np.random.default_rng(3)
        _cache["video"] = rng.random((1, 16, 3, 64, 64), dtype=np.float32)
    return _cache["video"]


def _image_chw(w: Any, x: Any) -> None:
    w.add_image("image", x, 1)


def _image_hwc(w: Any, x: Any) -> None:
    w.add_image("image", x, 1, dataformats="HWC")


def _images(w: Any, x: Any) -> None:
    w.add_images("images", x, 1)


def _audio(w: Any, x: Any) -> None:
    w.add_audio("audio", x, 1, sample_rate=44100)


def _video(w: Any, x: Any) -> None:
    w.add_video("video", x, 1, fps=4)


CASES = {
    # name: (input, call, (ferroboard rounds, anchor rounds))
    "add_image 3x512x512 f32": (image_512_chw, _image_chw, (20, 5)),
    "add_image 1024x1024x3 u8": (image_1024_hwc, _image_hwc, (15, 4)),
    "add_images 64x3x32x32 f32": (batch_64, _images, (20, 5)),
    "add_audio 10 s 44.1 kHz": (sound_10s, _audio, (20, 5)),
    "add_video 1x16x3x64x64 f32": (video_16, _video, (20, 5)),
}


def _skip_missing_anchor(case: str, writer: str) -> None:
    if writer == "ferroboard":
        return
    if case.startswith("add_video") and importlib.util.find_spec("moviepy") is None:
        pytest.skip(f"{writer}'s add_video needs moviepy, which is not installed")
    if (
        case.startswith("add_audio")
        and writer == "tensorboardX"
        and importlib.util.find_spec("soundfile") is None
    ):
        pytest.skip("tensorboardX's add_audio needs soundfile, which is not installed")


@pytest.mark.parametrize("case", CASES)
def test_media_caller(benchmark: Any, writers: Any, case: str) -> None:
    _skip_missing_anchor(case, writers.name)
    make, call, (ferroboard_rounds, anchor_rounds) = CASES[case]
    record(benchmark, f"{case}, caller", writers.name, 1, "call")
    benchmark.pedantic(
        call,
        setup=writers.setup(make()),
        teardown=writers.teardown,
        rounds=rounds(writers.name, ferroboard_rounds, anchor_rounds),
        warmup_rounds=1,
    )


@pytest.mark.parametrize("case", CASES)
def test_media_end_to_end(benchmark: Any, writers: Any, case: str) -> None:
    _skip_missing_anchor(case, writers.name)
    make, call, (ferroboard_rounds, anchor_rounds) = CASES[case]
    record(benchmark, f"{case}, end to end (call + close)", writers.name, 1, "call")

    def call_and_close(w: Any, x: Any) -> None:
        call(w, x)
        w.close()

    benchmark.pedantic(
        call_and_close,
        setup=writers.setup(make()),
        teardown=writers.teardown,
        rounds=rounds(writers.name, ferroboard_rounds, anchor_rounds),
        warmup_rounds=1,
    )


# -- PNG encoding: ferroboard's encoder against Pillow's default level ------------------


def png_input(kind: str) -> np.ndarray:
    key = f"png-{kind}"
    if key not in _cache:
        rng = np.random.default_rng(4)
        if kind == "noise":
            img = rng.integers(0, 256, (1024, 1024, 3), dtype=np.uint8)
        elif kind == "smooth":
            img = image_1024_hwc()
        elif kind == "clean":
            y, x = np.mgrid[0:1024, 0:1024].astype(np.float64)
            clean = np.stack(
                [127 + 100 * np.sin(x / 37.0) * np.cos(y / 53.0), 255 * x / 1024, 255 * y / 1024],
                -1,
            )
            img = np.clip(clean, 0, 255).astype(np.uint8)
        else:  # a matplotlib line plot, as add_figure renders it
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            fig = plt.figure(figsize=(10.24, 10.24), dpi=100)
            ax = fig.add_subplot()
            ax.plot(np.cumsum(rng.normal(size=1000)))
            ax.set_title("loss")
            ax.grid(True)
            fig.canvas.draw()
            img = np.ascontiguousarray(np.asarray(fig.canvas.buffer_rgba())[:, :, :3])
            plt.close(fig)
        _cache[key] = img
    return _cache[key]


def _pillow_png(img: np.ndarray) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(img).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize("kind", ["noise", "smooth", "clean", "figure"])
@pytest.mark.parametrize("encoder", ["ferroboard", "pillow"])
def test_png_encode(benchmark: Any, encoder: str, kind: str) -> None:
    from ferroboard._core import encode_png

    img = png_input(kind)
    encode = encode_png if encoder == "ferroboard" else _pillow_png
    writer = "ferroboard" if encoder == "ferroboard" else "torch"
    size = len(encode(img))
    record(
        benchmark,
        f"PNG encode 1024x1024x3 {kind} (torch = Pillow, default level)",
        writer,
        1,
        "image",
        png_bytes=size,
        encoder=encoder,
    )
    benchmark.pedantic(encode, args=(img,), rounds=rounds(writer, 15, 5), warmup_rounds=1)
