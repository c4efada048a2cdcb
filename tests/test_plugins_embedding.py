"""`add_embedding`: the projector files against torch's (byte for byte for the text
files, pixel for pixel for the sprite), the binary tensor option, several embeddings
in one writer, and errors.

Documented deviations asserted here:
- integer label images are taken as 0-255 pixel values (torch multiplies them by 255,
  which saturates every non-zero pixel);
- torch tensors as metadata are written element by element (torch writes
  "tensor(3)" for each).
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import ferroboard
import numpy as np
import pytest
import torch
from PIL import Image
from tensorboard.plugins.projector import projector_config_pb2
from torch.utils.tensorboard import SummaryWriter as TorchSummaryWriter

RNG = np.random.default_rng(99)


def _files(root: Path) -> dict[str, bytes]:
    """Every non-event file under `root`, by relative path."""
    out = {}
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            if "tfevents" in name:
                continue
            path = Path(dirpath) / name
            out[path.relative_to(root).as_posix()] = path.read_bytes()
    return out


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _both(tmp_path: Path, calls, ferro_calls=None) -> tuple[dict, dict]:
    torch_dir, ferro_dir = tmp_path / "torch", tmp_path / "ferro"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with TorchSummaryWriter(str(torch_dir)) as w:
            calls(w)
        with ferroboard.SummaryWriter(str(ferro_dir)) as w:
            (ferro_calls or calls)(w)
    return _files(ferro_dir), _files(torch_dir)


def _assert_same_files(ours: dict, theirs: dict) -> None:
    assert sorted(ours) == sorted(theirs)
    for name in theirs:
        if name.endswith(".png"):
            np.testing.assert_array_equal(_pixels(ours[name]), _pixels(theirs[name]), err_msg=name)
        else:
            assert ours[name] == theirs[name], f"{name} differs"


def test_projector_files_match_torch(tmp_path):
    meta = [f"word{i}" for i in range(100)]
    label_img = torch.rand(100, 3, 10, 32)
    mat, mat2 = torch.randn(100, 5), torch.randn(100, 5)

    def calls(w):
        w.add_embedding(mat, metadata=meta, label_img=label_img)
        w.add_embedding(mat2, label_img=label_img, global_step=3, tag="only/img")
        w.add_embedding(mat.numpy().astype(np.float64), metadata=meta, tag="100% sure\\")

    ours, theirs = _both(tmp_path, calls)
    _assert_same_files(ours, theirs)
    assert "projector_config.pbtxt" in ours
    assert "00003/only%2fimg/sprite.png" in ours
    assert "00000/100%25 sure%5c/tensors.tsv" in ours


@pytest.mark.parametrize(
    "shape", [(1, 3, 4, 4), (10, 1, 6, 8), (17, 3, 5, 5), (7, 3, 3, 9)], ids=str
)
def test_sprite_matches_torch(tmp_path, shape):
    img = torch.from_numpy(RNG.random(shape, dtype=np.float32) * 1.2 - 0.1)  # clipped

    def calls(w):
        w.add_embedding(torch.zeros(shape[0], 2) + 0.5, label_img=img)

    ours, theirs = _both(tmp_path, calls)
    _assert_same_files(ours, theirs)


def test_metadata_with_header_matches_torch(tmp_path):
    meta = [[i, f"name{i}", i * 0.5] for i in range(20)]
    header = ["index", "name", "half"]

    mats = [torch.rand(20, 3) for _ in range(3)]

    def calls(w):
        w.add_embedding(mats[0], metadata=meta, metadata_header=header)
        w.add_embedding(mats[1], metadata=np.arange(20) * 1.5, tag="np")
        w.add_embedding(mats[2], metadata=["ünï", "😀"] * 10, tag="unicode ✓")

    ours, theirs = _both(tmp_path, calls)
    _assert_same_files(ours, theirs)


MATRICES = {
    "float32_wide_range": (
        RNG.standard_normal((300, 64)) * 10.0 ** RNG.integers(-45, 38, (300, 64))
    ).astype(np.float32),
    "float64_wide_range": (
        RNG.standard_normal((100, 32)) * 10.0 ** RNG.integers(-320, 300, (100, 32))
    ),
    "float16": RNG.standard_normal((50, 16)).astype(np.float16),
    "int64": RNG.integers(-(2**62), 2**62, (20, 8)),
    "uint8": RNG.integers(0, 256, (20, 8), dtype=np.uint8),
    "bool": RNG.random((20, 8)) > 0.5,
    "specials": np.array(
        [[0.0, -0.0, np.inf, -np.inf, np.nan, 1e16, 1e15, 1e-5, 1e-4, 5e-324, 123456.789]]
    ),
}


@pytest.mark.parametrize("mat", MATRICES.values(), ids=MATRICES.keys())
def test_tensor_tsv_matches_torch(tmp_path, mat):
    """Every value is written as Python's str(x.item()): shortest round-trip digits,
    exponent rules, nan/inf, integers and booleans."""

    def calls(w):
        w.add_embedding(mat)

    ours, theirs = _both(tmp_path, calls)
    _assert_same_files(ours, theirs)


def test_float32_repr_exhaustive_sample():
    """200,000 float32 bit patterns spread over the whole range against Python's repr."""
    bits = RNG.integers(0, 2**32, 200_000, dtype=np.uint64).astype(np.uint32)
    values = bits.view(np.float32).reshape(-1, 100)
    text = ferroboard._core.embedding_tsv(values, ferroboard._core.DType.Float32).decode()
    expected = "".join("\t".join(str(v.item()) for v in row) + "\n" for row in values)
    assert text == expected


def test_float64_repr_random_sample():
    bits = RNG.integers(0, 2**63, 100_000, dtype=np.uint64) | (
        RNG.integers(0, 2, 100_000, dtype=np.uint64) << np.uint64(63)
    )
    values = bits.view(np.float64).reshape(-1, 50)
    text = ferroboard._core.embedding_tsv(values, ferroboard._core.DType.Float64).decode()
    expected = "".join("\t".join(str(v.item()) for v in row) + "\n" for row in values)
    assert text == expected


def test_config_keeps_every_embedding(tmp_path):
    with ferroboard.SummaryWriter(tmp_path) as w:
        for step in range(3):
            w.add_embedding(RNG.random((10, 4)), global_step=step, tag="a")
        w.add_embedding(RNG.random((10, 4)), metadata=list("abcdefghij"), tag="b")
        w.flush()
        config = projector_config_pb2.ProjectorConfig()
        from google.protobuf import text_format

        text_format.Parse((tmp_path / "projector_config.pbtxt").read_text(), config)
        names = [e.tensor_name for e in config.embeddings]
        assert names == ["a:00000", "a:00001", "a:00002", "b:00000"]
        # After close() the same writer keeps appending (torch keeps its config too).
        w.close()
        w.add_embedding(RNG.random((10, 4)), tag="c")
    text_format.Parse((tmp_path / "projector_config.pbtxt").read_text(), config := type(config)())
    assert [e.tensor_name for e in config.embeddings][-1] == "c:00000"
    assert len(config.embeddings) == 5
    assert not any(p.name.startswith(".projector") for p in tmp_path.iterdir())


def test_binary_tensors(tmp_path):
    mat = RNG.standard_normal((200, 16)).astype(np.float64)
    with ferroboard.SummaryWriter(tmp_path) as w:
        w.add_embedding(mat, metadata=list(range(200)), tensor_format="binary")
        w.embedding_tensor_format = "binary"
        w.add_embedding(torch.from_numpy(mat[:10]), tag="t")
        w.add_embedding(np.zeros((4, 4)), tag="zeros")  # would read as text: TSV instead
    data = (tmp_path / "00000/default/tensors.bytes").read_bytes()
    assert data == mat.astype("<f4").tobytes()
    from google.protobuf import text_format

    config = text_format.Parse(
        (tmp_path / "projector_config.pbtxt").read_text(), projector_config_pb2.ProjectorConfig()
    )
    first, second, zeros = config.embeddings
    assert list(first.tensor_shape) == [200, 16]
    assert first.tensor_path == "00000/default/tensors.bytes"
    assert list(second.tensor_shape) == [10, 16]
    assert zeros.tensor_path == "00000/zeros/tensors.tsv" and not zeros.tensor_shape
    # TensorBoard's own readers: TSV fails with UnicodeDecodeError, binary reads it.
    from tensorboard.plugins.projector import projector_plugin

    path = str(tmp_path / first.tensor_path)
    with pytest.raises(UnicodeDecodeError):
        projector_plugin._read_tensor_tsv_file(path)
    loaded = projector_plugin._read_tensor_binary_file(path, first.tensor_shape)
    np.testing.assert_array_equal(loaded, mat.astype(np.float32))
    assert len(data) * 4 < len(_tsv_of(mat)), "binary is far smaller than TSV"


def _tsv_of(mat: np.ndarray) -> bytes:
    return ferroboard._core.embedding_tsv(
        np.ascontiguousarray(mat, np.float32), ferroboard._core.DType.Float32
    )


def test_integer_label_images_are_pixels(tmp_path):
    """Deviation: uint8 images keep their values (torch saturates them to 255)."""
    img = RNG.integers(0, 256, (4, 3, 5, 5), dtype=np.uint8)
    with ferroboard.SummaryWriter(tmp_path) as w:
        w.add_embedding(np.ones((4, 2)) * 0.5, label_img=img)
    sprite = _pixels((tmp_path / "00000/default/sprite.png").read_bytes())
    assert sprite.shape == (10, 10, 3)
    np.testing.assert_array_equal(sprite[:5, :5], img[0].transpose(1, 2, 0))
    np.testing.assert_array_equal(sprite[5:, 5:], img[3].transpose(1, 2, 0))


def test_torch_tensor_metadata_is_written_per_element(tmp_path):
    with ferroboard.SummaryWriter(tmp_path) as w:
        w.add_embedding(np.ones((3, 2)) * 0.5, metadata=torch.tensor([1, 2, 3]))
    assert (tmp_path / "00000/default/metadata.tsv").read_text() == "1\n2\n3\n"


def test_embedding_errors(tmp_path):
    with ferroboard.SummaryWriter(tmp_path) as w:
        with pytest.raises(ValueError, match="mat must be 2-D"):
            w.add_embedding(np.ones(5))
        with pytest.raises(ValueError, match="one label per data point"):
            w.add_embedding(np.ones((3, 2)), metadata=["a", "b"])
        with pytest.raises(ValueError, match="one image per data point"):
            w.add_embedding(np.ones((3, 2)), label_img=np.ones((2, 3, 4, 4)))
        with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
            w.add_embedding(np.ones((3, 2)), label_img=np.ones((3, 4, 4, 4)))
        with pytest.raises(ValueError, match="columns"):
            w.add_embedding(np.ones((2, 2)), metadata=[[1, 2], [3]], metadata_header=["a", "b"])
        with pytest.raises(ValueError, match="tensor_format"):
            w.add_embedding(np.ones((2, 2)), tensor_format="npy")
        (tmp_path / "00009").mkdir()
        (tmp_path / "00009" / "file").write_text("x")
        with pytest.raises(NotADirectoryError):
            w.add_embedding(np.ones((2, 2)), global_step=9, tag="file")
        w.add_embedding(np.ones((2, 2)), global_step=8)
        with pytest.warns(UserWarning, match="exists"):
            w.add_embedding(np.ones((2, 2)), global_step=8)
    assert not (tmp_path / "00000").exists(), "nothing written for rejected calls"


def test_write_failure_is_reported(tmp_path):
    """The background write fails (tensors.tsv is a directory): flush raises OSError
    naming the file, once; the writer keeps working."""
    target = tmp_path / "00000" / "default" / "tensors.tsv"
    target.mkdir(parents=True)
    w = ferroboard.SummaryWriter(tmp_path)
    with pytest.warns(UserWarning):
        w.add_embedding(np.ones((2, 2)) * 0.25)
    with pytest.raises(OSError, match="tensors.tsv"):
        w.flush()
    w.add_embedding(np.ones((2, 2)) * 0.25, tag="ok")
    w.close()
    assert (tmp_path / "00000" / "ok" / "tensors.tsv").read_text() == "0.25\t0.25\n0.25\t0.25\n"


def test_large_sprite_warns(tmp_path):
    with ferroboard.SummaryWriter(tmp_path) as w, pytest.warns(UserWarning, match="8192"):
        w.add_embedding(np.ones((4, 2)), label_img=np.zeros((4, 1, 1, 5000), np.uint8))


def test_a_sprite_too_large_to_encode_raises_before_anything_is_created(tmp_path):
    """The sprite's size is checked from the shape with the other arguments, before the
    embedding's directory is made (the CUDA path checks it at the call the same way)."""
    with ferroboard.SummaryWriter(tmp_path) as w:
        with pytest.raises(ValueError, match=r"label_img \(the sprite\).*300000"):
            w.add_embedding(np.zeros((2, 2)), label_img=np.zeros((2, 1, 300000, 1), np.uint8))
    assert not (tmp_path / "00000").exists()
