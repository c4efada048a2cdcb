"""The demo's media section: images (one, a grid, boxes), a matplotlib figure, audio and
a video. Everything is generated here, so the demo needs no data set."""

from __future__ import annotations

from typing import Any

import numpy as np

from .skips import skipped


def _image(size: int, phase: float) -> np.ndarray:
    """A (3, size, size) float image in [0, 1]: colored rings that move with `phase`."""
    y, x = np.mgrid[0:size, 0:size] / size - 0.5
    r = np.hypot(x, y)
    return np.stack(
        [
            0.5 + 0.5 * np.sin(20 * r - phase),
            0.5 + 0.5 * np.cos(12 * x + phase),
            0.5 + 0.5 * np.sin(12 * y + 2 * phase),
        ]
    ).astype(np.float32)


def _images(writer: Any) -> None:
    for step in range(3):
        writer.add_image("media/rings", _image(128, step), step)
    # A grid of 16 small images (8 columns, like torchvision's make_grid).
    batch = np.stack([_image(32, k / 2) for k in range(16)])
    writer.add_images("media/batch", batch, 0)
    # A gray image in HW layout and a uint8 image in HWC layout.
    writer.add_image("media/gray", _image(64, 0)[0], 0, dataformats="HW")
    hwc = (_image(64, 1).transpose(1, 2, 0) * 255).astype(np.uint8)
    writer.add_image("media/uint8_hwc", hwc, 0, dataformats="HWC")


def _boxes(writer: Any) -> None:
    img = _image(96, 0.5)
    boxes = np.array([[10, 12, 50, 60], [55, 20, 90, 45], [30, 65, 85, 90]], dtype=np.float32)
    writer.add_image_with_boxes(
        "media/detections", img, boxes, 0, labels=["ring", "stripe", "blob 0.9"]
    )


def _figure(writer: Any) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        skipped("the matplotlib figure (add_figure)", "matplotlib")
        return
    steps = np.arange(100)
    fig, ax = plt.subplots(figsize=(5, 3), dpi=80)
    ax.plot(steps, np.exp(-steps / 30) + 0.05 * np.sin(steps / 3), label="train")
    ax.plot(steps, np.exp(-steps / 40) + 0.1, label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend()
    fig.tight_layout()
    writer.add_figure("media/loss_curve", fig, 0)  # closes the figure, as torch does


def _audio(writer: Any) -> None:
    rate = 16000
    t = np.arange(2 * rate) / rate
    # A rising chirp with a soft fade in and out.
    chirp = np.sin(2 * np.pi * (220 + 220 * t) * t) * np.minimum(1, 4 * np.minimum(t, 2 - t))
    writer.add_audio("media/chirp", 0.5 * chirp, 0, sample_rate=rate)
    # tensorboardX's stereo layout (L, 2): the chirp left, a steady tone right.
    stereo = np.stack([0.4 * chirp, 0.2 * np.sin(2 * np.pi * 330 * t)], axis=1)
    writer.add_audio("media/stereo", stereo, 0, sample_rate=rate)


def _video(writer: Any) -> None:
    # 4 clips of 12 frames (N, T, C, H, W): a 2x2 grid in TensorBoard's Images tab.
    clips = np.stack([np.stack([_image(48, k + t / 3) for t in range(12)]) for k in range(4)])
    writer.add_video("media/rings_video", clips, 0, fps=6)


def log(writer: Any) -> None:
    """Logs the media examples into `writer`."""
    _images(writer)
    _boxes(writer)
    _figure(writer)
    _audio(writer)
    _video(writer)
