"""Turning user inputs (numbers, numpy, torch, lists, ...) into what the core takes.

These run on the caller's thread, so they do as little as possible: type checks, a
contiguous view, and its element type as the core's `DType`. The copy itself happens
in Rust.
"""

from __future__ import annotations

import numbers
from typing import Any, Optional

import numpy as np

from . import _core
from ._core import DType

# numpy kinds the core understands.
_CORE_KINDS = {"b", "i", "u", "f"}

#: The core's element type of each numpy (kind, itemsize).
_DTYPES = {
    ("b", 1): DType.Bool,
    ("i", 1): DType.Int8,
    ("i", 2): DType.Int16,
    ("i", 4): DType.Int32,
    ("i", 8): DType.Int64,
    ("u", 1): DType.UInt8,
    ("u", 2): DType.UInt16,
    ("u", 4): DType.UInt32,
    ("u", 8): DType.UInt64,
    ("f", 2): DType.Float16,
    ("f", 4): DType.Float32,
    ("f", 8): DType.Float64,
}


def core_dtype(array: np.ndarray, name: str) -> DType:
    """The core's element type of `array` (bool, integers, floats), with a TypeError
    naming `name` for others."""
    dtype = _DTYPES.get((array.dtype.kind, array.dtype.itemsize))
    if dtype is None:
        raise TypeError(
            f"{name}: unsupported dtype {array.dtype} (expected bool, integer or float), "
            f"got {describe(array)}"
        )
    return dtype


def bf16_to_float32(words: np.ndarray) -> np.ndarray:
    """float32 values of bfloat16 16-bit patterns (the top half of a float32, exactly)."""
    return (words.astype(np.uint32) << 16).view(np.float32)


def _is_torch_tensor(x: Any) -> bool:
    # Checked by module name so that torch is never imported by ferroboard itself.
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


def describe(x: Any) -> str:
    """A short description of `x` for error messages: type, and shape where there is one."""
    shape = getattr(x, "shape", None)
    if shape is not None:
        return f"{type(x).__name__} of shape {tuple(shape)} and dtype {getattr(x, 'dtype', '?')}"
    text = repr(x)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{type(x).__name__} {text}"


def to_numpy(x: Any, name: str) -> np.ndarray:
    """torch's `make_np`, wider: numpy, numbers, lists, torch (CPU or CUDA), jax, ...

    bfloat16 tensors become float32 (exact), not float16 as in torch (which turns values
    beyond 65504 into inf).
    """
    if isinstance(x, np.ndarray):
        return x
    if _is_torch_tensor(x):
        t = x.detach()
        if str(t.dtype) == "torch.bfloat16":
            t = t.float()
        elif str(t.dtype) == "torch.complex32":
            import torch  # loaded already: x is one of its tensors

            # numpy has no complex32 (torch's .numpy() fails); complex64 holds it exactly.
            t = t.to(torch.complex64)
        return t.cpu().numpy()
    if isinstance(x, (numbers.Number, np.generic)):
        return np.asarray(x)
    try:
        arr = np.asarray(x)
    except Exception as exc:  # noqa: BLE001 - re-raised with the argument's name
        raise TypeError(f"{name}: cannot convert {describe(x)} to an array") from exc
    if arr.dtype == object:
        raise TypeError(f"{name}: cannot convert {describe(x)} to a numeric array")
    return arr


def _contiguous_for_core(x: Any, name: str, allow_complex: bool) -> tuple[np.ndarray, DType, bool]:
    """(array, element type, complex): complex arrays (where allowed) become their float
    (real, imaginary) pairs on a new last axis of 2."""
    if _is_torch_tensor(x) and str(x.dtype) == "torch.bfloat16":
        import torch

        bits = x.detach().cpu().contiguous().view(torch.int16).numpy()
        return bits, DType.BFloat16, False
    arr = to_numpy(x, name)
    kind = arr.dtype.kind
    if kind not in _CORE_KINDS and not (allow_complex and kind == "c"):
        raise TypeError(
            f"{name}: unsupported dtype {arr.dtype} (expected bool, integer or float), "
            f"got {describe(x)}"
        )
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr)
    if kind == "c":
        pairs = arr.view(arr.real.dtype).reshape(arr.shape + (2,))
        return pairs, core_dtype(pairs, name), True
    return arr, core_dtype(arr, name), False


def array_for_core(x: Any, name: str) -> tuple[np.ndarray, DType]:
    """A C-contiguous, native-endian array and its element type for the Rust core.

    torch bfloat16 travels as its raw 16-bit words (`DType.BFloat16`), so nothing is lost.
    """
    array, dtype, _ = _contiguous_for_core(x, name, False)
    return array, dtype


def float_list(values: Any, name: str) -> list:
    """A flat list of floats from a sequence or array, with an error naming `name`."""
    arr = to_numpy(values, name)
    try:
        return arr.astype(np.float64).ravel().tolist()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must hold numbers, got {describe(values)}") from exc


def scalar_to_float(value: Any, name: str = "scalar_value") -> float:
    """One number as a Python float, from anything torch's `scalar()` accepts."""
    if isinstance(value, (int, float, np.integer, np.floating, np.bool_)):
        try:
            return float(value)
        except OverflowError as exc:
            raise ValueError(f"{name}: {value!r} does not fit in a float") from exc
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a number, got {describe(value)}")
    if _is_torch_tensor(value):
        if value.numel() != 1:
            raise ValueError(
                f"{name} must hold exactly one element, got a tensor of shape {tuple(value.shape)}"
            )
        return float(value.detach().reshape(()).item())
    arr = to_numpy(value, name)
    if arr.size != 1:
        raise ValueError(f"{name} must hold exactly one element, got shape {arr.shape}")
    if arr.dtype.kind not in _CORE_KINDS:
        raise TypeError(f"{name} must be a number, got {describe(value)}")
    return float(arr.reshape(()))


_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1


def as_step(step: Any, name: str = "global_step") -> int:
    """torch's `int(global_step)`, with a clear error for what cannot be a step."""
    if isinstance(step, (str, bytes)):
        raise TypeError(f"{name} must be an integer, got {describe(step)}")
    try:
        value = int(step)
    except (TypeError, ValueError, OverflowError) as exc:
        raise TypeError(f"{name} must be an integer, got {describe(step)}") from exc
    if not _I64_MIN <= value <= _I64_MAX:
        raise ValueError(f"{name} must fit in a signed 64-bit integer, got {value}")
    return value


def as_walltime(walltime: Any, name: str = "walltime") -> float:
    """Seconds since the epoch as a float. Whether it is finite (NaN/inf would poison the
    file) is checked once, by the core, when the event is accepted."""
    try:
        return float(walltime)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a number of seconds, got {describe(walltime)}") from exc
    except OverflowError as exc:  # an int beyond float range
        raise ValueError(f"{name} must be finite, got {describe(walltime)}") from exc


def optional_step(global_step: Any) -> Optional[int]:
    """`global_step` checked by `as_step` (ints too: the range is checked), None kept."""
    return None if global_step is None else as_step(global_step)


def checked_walltime(walltime: Any) -> float:
    """`as_walltime`, then the core's check that it is finite, for callers that create
    something before the core sees the value (add_scalars' sub-runs, use_metadata)."""
    return _core.checked_walltime(as_walltime(walltime))


def optional_walltime(walltime: Any) -> Optional[float]:
    """`walltime` checked by `as_walltime`, with None kept (the core then takes the time)."""
    return None if walltime is None else as_walltime(walltime)


def check_tag(tag: Any, name: str = "tag") -> str:
    """`tag` itself if it is a str that UTF-8 can encode (no lone surrogates)."""
    if not isinstance(tag, str):
        raise TypeError(f"{name} must be a str, got {describe(tag)}")
    try:
        tag.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{name} must be valid Unicode (no lone surrogates), got {tag!r}") from exc
    return tag


#: Protocol buffers cannot parse a message of 2 GiB or more.
_TWO_GIB = 1 << 31


def tensor_for_core(tensor: Any) -> tuple[np.ndarray, DType, bool]:
    """`add_tensor`'s and `summary.tensor_proto`'s input: the array, the element type of
    its real components, and whether they come in (real, imaginary) pairs."""
    array, dtype, complex_values = _contiguous_for_core(tensor, "tensor", True)
    if array.nbytes >= _TWO_GIB:
        raise ValueError(
            f"tensor: {array.nbytes} bytes is beyond protocol buffers' 2 GiB limit "
            f"(shape {array.shape})"
        )
    return array, dtype, complex_values
