"""TensorBoard itself reads ferroboard's images, figures, videos and audio.

A real `tensorboard --logdir` server runs on 127.0.0.1 (a free port, both the Rust data
server `--load_fast=true` and the Python loader `--load_fast=false`), always terminated.
The test finds every tag through the HTTP API of the images and audio dashboards,
downloads each blob and decodes it: PNG pixels, GIF frames and WAV samples must be the
logged ones. TensorBoard's Python `EventAccumulator` is checked too.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import wave
from pathlib import Path

import ferroboard
import numpy as np
import pytest
from PIL import Image, ImageSequence
from tensorboard.backend.event_processing import event_accumulator

#: Longest wait for the server to start and load the run (seconds).
STARTUP_TIMEOUT = 60

RNG = np.random.default_rng(3)
IMAGE = RNG.integers(0, 256, (12, 10, 3), dtype=np.uint8)
GRID = RNG.integers(0, 256, (3, 3, 4, 5), dtype=np.uint8)
VIDEO = (RNG.integers(0, 4, (2, 3, 3, 6, 6)) * 85).astype(np.uint8)
SOUND = (0.5 * np.sin(np.arange(4000) / 7.0)).astype(np.float32)


@pytest.fixture(scope="module")
def logdir(tmp_path_factory) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    root = tmp_path_factory.mktemp("tb_media")
    with ferroboard.SummaryWriter(str(root)) as w:
        w.add_image("media/image", IMAGE, 3, dataformats="HWC")
        w.add_images("media/grid", GRID, 3)
        fig = plt.figure(figsize=(2, 1), dpi=40)
        fig.add_subplot().plot([0, 1], [1, 0])
        w.add_figure("media/figure", fig, 3)
        w.add_video("media/video", VIDEO, 3, fps=5)
        w.add_audio("media/audio", SOUND, 3, sample_rate=8000)
        w.add_audio("media/stereo", np.stack([SOUND, -SOUND], 1), 3, sample_rate=8000)
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(base: str, path: str, **params: str) -> bytes:
    url = base + path + ("?" + urllib.parse.urlencode(params) if params else "")
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def get_json(base: str, path: str, **params: str):
    return json.loads(get(base, path, **params))


def start_server(logdir: Path, load_fast: bool) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "tensorboard.main",
        "--logdir",
        str(logdir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--load_fast",
        "true" if load_fast else "false",
        "--reload_interval",
        "1",
    ]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    return proc, f"http://127.0.0.1:{port}"


def wait_for_tags(proc: subprocess.Popen, base: str) -> tuple[dict, dict]:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise AssertionError(f"tensorboard exited with {proc.returncode}: {stderr[-2000:]}")
        try:
            images = get_json(base, "/data/plugin/images/tags")
            audio = get_json(base, "/data/plugin/audio/tags")
            if len(images.get(".", {})) == 4 and len(audio.get(".", {})) == 2:
                return images["."], audio["."]
        except OSError as exc:
            last_error = exc
        time.sleep(0.5)
    raise AssertionError(f"tensorboard did not list the media in time ({last_error})")


def blobs(base: str, plugin: str, route: str, tag: str) -> list:
    entries = get_json(base, f"/data/plugin/{plugin}/{route}", run=".", tag=tag, sample="0")
    assert [e["step"] for e in entries] == [3], entries
    return entries


def png_pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "PNG"
        return np.asarray(im.convert("RGB"))


@pytest.mark.timeout(180)
@pytest.mark.parametrize("load_fast", [True, False], ids=["load_fast", "python_loader"])
def test_tensorboard_serves_media(logdir, load_fast):
    proc, base = start_server(logdir, load_fast)
    try:
        image_tags, audio_tags = wait_for_tags(proc, base)
        assert set(image_tags) == {"media/image", "media/grid", "media/figure", "media/video"}
        assert set(audio_tags) == {"media/audio", "media/stereo"}

        def image_blob(tag: str) -> bytes:
            (entry,) = blobs(base, "images", "images", tag)
            return get(base, "/data/plugin/images/individualImage?" + entry["query"])

        np.testing.assert_array_equal(png_pixels(image_blob("media/image")), IMAGE)
        grid = png_pixels(image_blob("media/grid"))
        np.testing.assert_array_equal(grid[:, 5:10], GRID[1].transpose(1, 2, 0))
        assert png_pixels(image_blob("media/figure")).shape == (40, 80, 3)

        with Image.open(io.BytesIO(image_blob("media/video"))) as gif:
            assert gif.format == "GIF"
            frames = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(gif)]
        assert len(frames) == 3 and frames[0].shape == (6, 12, 3)
        np.testing.assert_array_equal(frames[2][:, :6], VIDEO[0, 2].transpose(1, 2, 0))

        for tag, channels in (("media/audio", 1), ("media/stereo", 2)):
            (entry,) = blobs(base, "audio", "audio", tag)
            # The Python loader migrates old-style audio with encoding WAV; the Rust data
            # server (load_fast) leaves the encoding unset, whoever wrote the file.
            expected_types = (
                {"audio/wav"} if not load_fast else {"audio/wav", "application/octet-stream"}
            )
            assert entry["contentType"] in expected_types
            data = get(base, "/data/plugin/audio/individualAudio?" + entry["query"])
            with wave.open(io.BytesIO(data)) as wav:
                assert (wav.getnchannels(), wav.getframerate()) == (channels, 8000)
                pcm = np.frombuffer(wav.readframes(4000), "<i2").reshape(4000, channels)
            np.testing.assert_array_equal(pcm[:, 0], (SOUND * 32767).astype(np.int16))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_event_accumulator_reads_media(logdir):
    """TensorBoard's Python loader (old-style image/audio values) decodes every value."""
    acc = event_accumulator.EventAccumulator(
        str(logdir), size_guidance={event_accumulator.IMAGES: 0, event_accumulator.AUDIO: 0}
    )
    acc.Reload()
    tags = acc.Tags()
    assert set(tags["images"]) == {"media/image", "media/grid", "media/figure", "media/video"}
    assert set(tags["audio"]) == {"media/audio", "media/stereo"}
    (img,) = acc.Images("media/image")
    assert (img.step, img.height, img.width) == (3, 12, 10)
    np.testing.assert_array_equal(png_pixels(img.encoded_image_string), IMAGE)
    (snd,) = acc.Audio("media/stereo")
    assert (snd.step, snd.length_frames, snd.sample_rate) == (3, 4000, 8000)
    assert snd.content_type == "audio/wav"
