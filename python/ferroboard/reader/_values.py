"""Turning stored values into what tbparse returns: tensors into numpy arrays (as
TensorBoard's ``make_ndarray``), PNG/GIF images into ``H x W x C`` (GIF: ``N x H x W x 3``)
uint8 arrays, WAV audio into ``frames x channels`` float32 arrays."""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

# TensorFlow's DataType enum → numpy dtype.
_DTYPES: dict[int, Any] = {
    1: np.float32,
    2: np.float64,
    3: np.int32,
    4: np.uint8,
    5: np.int16,
    6: np.int8,
    7: object,
    8: np.complex64,
    9: np.int64,
    10: np.bool_,
    11: np.int8,
    12: np.uint8,
    13: np.int32,
    14: np.uint16,
    15: np.int16,
    16: np.uint16,
    17: np.uint16,
    18: np.complex128,
    19: np.float16,
    22: np.uint32,
    23: np.uint64,
}


def tensor_array(dtype: int, shape: Sequence[int], data: bytes, strings: Sequence[bytes]) -> Any:
    """The tensor as a numpy array of its shape, short value lists padded with the last."""
    shape = list(shape)
    count = int(np.prod(shape, dtype=np.int64))
    np_dtype = _DTYPES.get(dtype)
    if np_dtype is None:
        raise ValueError(f"tensor dtype {dtype} is not supported")
    if np_dtype is object:
        items = list(strings)
        if count > len(items):
            items.extend([items[-1] if items else b""] * (count - len(items)))
        return np.array(items, dtype=object).reshape(shape)
    values = np.frombuffer(data, dtype=np_dtype).copy()
    if values.size == 0:
        return np.zeros(shape, np_dtype)
    if values.size != count:
        values = np.pad(values, (0, count - values.size), "edge")
    return values.reshape(shape)


def tensor_value(dtype: int, shape: Sequence[int], data: bytes, strings: Sequence[bytes]) -> Any:
    """As tbparse: a 0-d tensor becomes a Python scalar, others stay arrays."""
    value = tensor_array(dtype, shape, data, strings)
    return value.item() if value.shape == () else value


def decode_image(encoded: bytes) -> np.ndarray:
    """PNG → ``H x W x C`` uint8; GIF → ``N x H x W x 3`` uint8 (Pillow does the decoding)."""
    try:
        from PIL import Image, ImageSequence
    except ImportError as e:
        raise ModuleNotFoundError(
            "decoding images needs Pillow: pip install Pillow (or read the encoded bytes "
            "with ferroboard.read_events)"
        ) from e
    opened = Image.open(io.BytesIO(encoded))
    if opened.format == "GIF":
        frames = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(opened)]
        return np.stack(frames, axis=0)
    img = (
        opened.convert("RGBA" if "transparency" in opened.info else "RGB")
        if opened.mode == "P"
        else opened
    )
    arr = np.asarray(img)
    return arr[:, :, None] if arr.ndim == 2 else arr


def decode_wav(encoded: bytes) -> np.ndarray:
    """16-bit PCM WAV → ``frames x channels`` float32 in [-1, 1)."""
    if encoded[:4] != b"RIFF" or encoded[8:12] != b"WAVE":
        raise ValueError("audio is not a RIFF/WAVE file")
    pos, channels, bits, data = 12, 1, 16, b""
    while pos + 8 <= len(encoded):
        cid, size = encoded[pos : pos + 4], struct.unpack_from("<I", encoded, pos + 4)[0]
        body = encoded[pos + 8 : pos + 8 + size]
        if cid == b"fmt ":
            channels, bits = (
                struct.unpack_from("<H", body, 2)[0],
                struct.unpack_from("<H", body, 14)[0],
            )
        elif cid == b"data":
            data = body
        pos += 8 + size + (size & 1)
    if bits != 16:
        raise ValueError(f"audio has {bits}-bit samples; only 16-bit PCM is supported")
    samples = np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0
    return samples.reshape(-1, channels)
