"""Media argument checking: wrong shapes and formats raise errors that name the argument
and the shape; nothing invalid reaches the worker; inputs of every supported kind."""

from __future__ import annotations

import ferroboard
import numpy as np
import pytest
import torch
from eventfiles import events_of, summary_values


@pytest.fixture
def writer(tmp_path):
    with ferroboard.SummaryWriter(str(tmp_path)) as w:
        yield w


IMAGE_ERRORS = [
    # (array shape, dataformats, message pieces)
    ((3, 4), "CHW", ["img_tensor", "dataformats", "(3, 4)", "2"]),
    ((3, 4, 5), "HW", ["img_tensor", "(3, 4, 5)"]),
    ((5, 4, 4), "CHW", ["img_tensor", "(5, 4, 4)", "5 channels"]),
    ((2, 2, 4, 4), "NCHW", ["img_tensor", "(2, 2, 4, 4)", "2 channels"]),
    ((3, 4, 5), "CHH", ["dataformats", "'CHH'"]),
    ((3, 4, 5), "XYZ", ["dataformats", "'XYZ'"]),
    ((3, 4, 5, 6, 7), "NTCHW", ["dataformats", "(3, 4, 5, 6, 7)"]),
    ((3, 0, 5), "CHW", ["img_tensor", "no pixels", "(3, 0, 5)"]),
]


@pytest.mark.parametrize("shape, fmt, pieces", IMAGE_ERRORS)
def test_image_shape_errors(writer, shape, fmt, pieces):
    with pytest.raises(ValueError) as info:
        writer.add_image("img", np.zeros(shape, np.float32), 0, dataformats=fmt)
    for piece in pieces:
        assert piece in str(info.value), (piece, str(info.value))


def test_image_type_errors(writer):
    with pytest.raises(TypeError, match="dataformats"):
        writer.add_image("img", np.zeros((3, 4, 4)), 0, dataformats=None)
    with pytest.raises(TypeError, match="img_tensor"):
        writer.add_image("img", np.array([["a"]], dtype=object), 0, dataformats="HW")
    with pytest.raises(TypeError, match="tag"):
        writer.add_image(3, np.zeros((3, 4, 4)), 0)
    with pytest.raises(TypeError, match="figure"):
        writer.add_figure("fig", np.zeros((3, 4, 4)), 0)


def test_box_errors(writer):
    img = np.zeros((3, 8, 8))
    with pytest.raises(ValueError, match=r"box_tensor.*\(3,\)"):
        writer.add_image_with_boxes("b", img, np.zeros(3), 0)
    with pytest.raises(ValueError, match=r"box_tensor.*\(2, 5\)"):
        writer.add_image_with_boxes("b", img, np.zeros((2, 5)), 0)
    with pytest.raises(ValueError, match="rescale"):
        writer.add_image_with_boxes("b", img, np.zeros((1, 4)), 0, rescale=0.01)
    with pytest.raises(TypeError, match="rescale"):
        writer.add_image_with_boxes("b", img, np.zeros((1, 4)), 0, rescale=[2])
    with pytest.raises(TypeError, match="positional"):
        writer.add_image_with_boxes("b", img, np.zeros((1, 4)), 0, None, 1, "CHW", None, 4)


def test_audio_errors(writer):
    with pytest.raises(ValueError, match=r"snd_tensor.*\(10, 3\)"):
        writer.add_audio("a", np.zeros((10, 3)))
    with pytest.raises(ValueError, match=r"snd_tensor.*\(2, 10\)"):
        writer.add_audio("a", np.zeros((2, 10)))
    with pytest.raises(ValueError, match=r"snd_tensor.*no samples"):
        writer.add_audio("a", np.zeros((1, 0)))
    with pytest.raises(ValueError, match="sample_rate"):
        writer.add_audio("a", np.zeros(10), sample_rate=0)
    with pytest.raises(TypeError, match="sample_rate"):
        writer.add_audio("a", np.zeros(10), sample_rate="fast")


def test_errors_leave_nothing_in_the_file(tmp_path):
    """A rejected call writes no event; valid calls around it still land."""
    with ferroboard.SummaryWriter(str(tmp_path)) as w:
        w.add_image("ok", np.zeros((3, 4, 4)), 0)
        with pytest.raises(ValueError):
            w.add_image("bad", np.zeros((3, 4)), 1)
        w.add_audio("ok", np.zeros(8), 2)
    assert [v.tag for v in summary_values(events_of(tmp_path))] == ["ok", "ok"]


def test_nested_lists_and_non_contiguous_arrays(tmp_path):
    """A nested list (tensorboardX's make_np) and a strided view give the same image."""
    img = np.random.default_rng(1).random((3, 6, 5))
    view = np.asfortranarray(img)[:, ::-1, :][:, ::-1, :]
    with ferroboard.SummaryWriter(str(tmp_path)) as w:
        w.add_image("a", img, 0)
        w.add_image("a", img.tolist(), 0)
        w.add_image("a", view, 0)
        w.add_image("a", torch.from_numpy(img).permute(1, 2, 0), 0, dataformats="HWC")
    values = summary_values(events_of(tmp_path))
    assert len({v.image.encoded_image_string for v in values}) == 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_tensors(tmp_path):
    """CUDA tensors are copied to the host; the images equal the CPU tensors'."""
    img = torch.rand(3, 16, 16)
    vid = torch.rand(2, 3, 3, 8, 8)
    snd = torch.rand(1000) * 2 - 1
    with ferroboard.SummaryWriter(str(tmp_path)) as w:
        for device in ("cpu", "cuda"):
            w.add_image("img", img.to(device), 0)
            w.add_images("grid", vid[0].to(device), 0)
            w.add_video("vid", vid.to(device), 0)
            w.add_audio("snd", snd.to(device), 0)
            boxes = torch.tensor([[1, 2, 9, 9]]).to(device)
            w.add_image_with_boxes("box", img.to(device), boxes, 0)
    values = summary_values(events_of(tmp_path))
    cpu, cuda = values[:5], values[5:]
    for a, b in zip(cpu, cuda):
        assert a.SerializeToString() == b.SerializeToString(), a.tag


def test_disabled_writer_ignores_media(tmp_path):
    """write_to_disk=False: every media method is a no-op that checks nothing."""
    w = ferroboard.SummaryWriter(str(tmp_path / "off"), write_to_disk=False)
    w.add_image("img", "not an image")
    w.add_video("vid", None)
    w.add_audio("snd", None)
    w.close()
    assert not (tmp_path / "off").exists()
