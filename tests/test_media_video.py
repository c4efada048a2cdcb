"""add_video: animated GIFs checked against torch's own frame logic.

torch's `add_video` needs moviepy, and with moviepy >= 2 it writes an empty image
(it imports the removed `moviepy.editor`); tensorboardX's works only with moviepy. So
the oracle here is torch's `_prepare_video` (padding to a power of two, the grid) and
`summary.video`'s scaling, computed in the test, and the GIF's frame count, size and
frame duration (moviepy writes 1000 / fps ms per frame, Pillow truncates to 10 ms units).
Frames with at most 256 colours must come back exactly; others are quantized, so their
error is compared with Pillow's quantizer instead.
"""

from __future__ import annotations

import io

import ferroboard
import numpy as np
import pytest
import torch
from eventfiles import events_of, summary_values
from PIL import Image, ImageSequence
from torch.utils.tensorboard._utils import _prepare_video

RNG = np.random.default_rng(7)


def torch_frames(video: np.ndarray) -> np.ndarray:
    """torch's `summary.video` up to the frames handed to moviepy: (T, H, W, C) uint8."""
    v = _prepare_video(video)
    scale = 1 if v.dtype == np.uint8 else 255
    return (v.astype(np.float32) * scale).clip(0, 255).astype(np.uint8)


def as_rgb(frames: np.ndarray) -> np.ndarray:
    if frames.shape[-1] == 1:
        return np.repeat(frames, 3, -1)
    return frames[..., :3]


def log_videos(tmp_path, *calls) -> list:
    with ferroboard.SummaryWriter(str(tmp_path)) as w:
        for args, kwargs in calls:
            w.add_video(*args, **kwargs)
    return summary_values(events_of(tmp_path))


def gif_frames(data: bytes) -> tuple[list, np.ndarray, dict]:
    """Durations, RGB frames and the first frame's info of an animated GIF."""
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "GIF"
        info = dict(im.info)
        durations, frames = [], []
        for frame in ImageSequence.Iterator(im):
            durations.append(frame.info.get("duration"))
            frames.append(np.asarray(frame.convert("RGB")))
    return durations, np.stack(frames), info


def few_colours(shape: tuple, levels: int = 6, dtype=np.uint8) -> np.ndarray:
    """Values from a few levels, so a frame has at most levels**3 <= 256 colours."""
    values = RNG.integers(0, levels, shape) * (255 // (levels - 1))
    if dtype == np.uint8:
        return values.astype(np.uint8)
    return (values / 255.0).astype(dtype)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8])
def test_grid_and_exact_frames(tmp_path, n):
    """N clips tile torch's grid (padded with black to a power of two); frames with few
    colours are lossless; T frames of 250 ms, looping."""
    video = few_colours((n, 6, 3, 8, 10))
    (v,) = log_videos(tmp_path, (("vid", video, 0), {}))
    expected = torch_frames(video)
    assert (v.image.height, v.image.width, v.image.colorspace) == expected.shape[1:]
    durations, frames, info = gif_frames(v.image.encoded_image_string)
    assert durations == [250] * 6
    assert info.get("loop") == 0
    np.testing.assert_array_equal(frames, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
def test_dtypes_and_scaling(tmp_path, dtype):
    """Floats are scaled by 255 and clipped; uint8 goes through torch's float32 / 255."""
    if dtype == np.uint8:
        video = RNG.integers(0, 256, (2, 3, 3, 6, 6), dtype=np.uint8)
        video[..., 0, 0, 0] = [0, 7, 255]  # a few exact levels
        video = (video // 51 * 51).astype(np.uint8)
    else:
        video = few_colours((2, 3, 3, 6, 6), dtype=dtype)
        video[0, 0, 0, 0, :3] = [-0.5, 1.5, np.nan]
    (v,) = log_videos(tmp_path, (("vid", video, 0), {}))
    with np.errstate(invalid="ignore"):
        expected = torch_frames(video)
    _, frames, _ = gif_frames(v.image.encoded_image_string)
    np.testing.assert_array_equal(frames, expected)


def test_gray_and_rgba_clips(tmp_path):
    """1 channel is shown as gray RGB, alpha is dropped; colorspace keeps torch's C."""
    gray = few_colours((1, 4, 1, 5, 5))
    rgba = few_colours((1, 4, 4, 5, 5))
    gv, av = log_videos(tmp_path, (("gray", gray, 0), {}), (("rgba", rgba, 0), {}))
    assert (gv.image.colorspace, av.image.colorspace) == (1, 4)
    np.testing.assert_array_equal(
        gif_frames(gv.image.encoded_image_string)[1], as_rgb(torch_frames(gray))
    )
    np.testing.assert_array_equal(
        gif_frames(av.image.encoded_image_string)[1], as_rgb(torch_frames(rgba))
    )


def test_many_colours_are_quantized(tmp_path):
    """Frames with thousands of colours get a 256-colour palette each, at least as close
    to the frames as Pillow's median cut (the quantizer of moviepy's GIF path)."""
    t = np.linspace(0, 1, 64)
    yy, xx = np.meshgrid(t, t, indexing="ij")
    frames = [np.stack([xx, yy, (xx + yy + k / 8) % 1.0]) for k in range(8)]
    video = np.stack(frames)[None].astype(np.float32)  # (1, 8, 3, 64, 64)
    (v,) = log_videos(tmp_path, (("smooth", video, 0), {}))
    _, decoded, _ = gif_frames(v.image.encoded_image_string)
    expected = torch_frames(video)
    assert decoded.shape == expected.shape == (8, 64, 64, 3)
    error = np.abs(decoded.astype(int) - expected.astype(int))
    pillow = np.stack(
        [np.asarray(Image.fromarray(f).quantize(256).convert("RGB")) for f in expected]
    )
    pillow_error = np.abs(pillow.astype(int) - expected.astype(int))
    assert error.mean() <= pillow_error.mean(), (error.mean(), pillow_error.mean())
    assert np.percentile(error, 99) <= np.percentile(pillow_error, 99)


@pytest.mark.parametrize("fps, duration", [(1, 1000), (4, 250), (10, 100), (30, 30), (2.5, 400)])
def test_fps_sets_frame_duration(tmp_path, fps, duration):
    video = few_colours((1, 2, 3, 4, 4))
    (v,) = log_videos(tmp_path, (("vid", video, 0), {"fps": fps}))
    assert gif_frames(v.image.encoded_image_string)[0] == [duration, duration]


def test_tensorboardx_dataformats(tmp_path):
    """tensorboardX's `dataformats` names any order of NTCHW; the GIF is the same."""
    video = few_colours((3, 4, 3, 5, 6))
    values = log_videos(
        tmp_path,
        (("v", video, 0), {}),
        (("v", video.transpose(0, 1, 3, 4, 2).copy(), 0), {"dataformats": "NTHWC"}),
        (("v", video.transpose(1, 0, 4, 3, 2).copy(), 0), {"dataformats": "tnwhc"}),
        (("v", torch.from_numpy(video), 0), {}),
    )
    assert len({v.image.encoded_image_string for v in values}) == 1


def test_video_errors_name_the_argument(tmp_path):
    with ferroboard.SummaryWriter(str(tmp_path)) as w:
        with pytest.raises(ValueError, match=r"vid_tensor.*\(2, 3, 4, 5\)"):
            w.add_video("v", np.zeros((2, 3, 4, 5)))
        with pytest.raises(ValueError, match=r"dataformats.*NTCHX"):
            w.add_video("v", np.zeros((1, 2, 3, 4, 5)), dataformats="NTCHX")
        with pytest.raises(ValueError, match=r"2 channels"):
            w.add_video("v", np.zeros((1, 2, 2, 4, 5)))
        with pytest.raises(ValueError, match="fps"):
            w.add_video("v", np.zeros((1, 2, 3, 4, 5)), fps=0)
        with pytest.raises(ValueError, match=r"no pixels.*\(1, 0, 3, 4, 5\)"):
            w.add_video("v", np.zeros((1, 0, 3, 4, 5)))
