"""Turning user inputs (numbers, numpy, torch, lists, ...) into what the core takes.

These run on the caller's thread, so they do as little as possible: type checks, a
contiguous view, and a dtype code. The copy itself happens in Rust.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Optional

import numpy as np

# numpy kinds the core understands, with itemsize -> code.
_CORE_KINDS = {"b", "i", "u", "f"}


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


def array_for_core(x: Any, name: str, allow_complex: bool = False) -> tuple[np.ndarray, str]:
    """A C-contiguous, native-endian array and its dtype code for the Rust core.

    torch bfloat16 travels as its raw 16-bit words (code "bf16"), so nothing is lost.
    Complex arrays, where `allow_complex` says so, become their float (real, imaginary)
    pairs on a new last axis of 2, with code "c8"/"c16".
    """
    if _is_torch_tensor(x) and str(x.dtype) == "torch.bfloat16":
        import torch

        bits = x.detach().cpu().contiguous().view(torch.int16).numpy()
        return bits, "bf16"
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
        # Code "c8"/"c16" tells the caller to mark the float pairs as complex.
        return arr.view(arr.real.dtype).reshape(arr.shape + (2,)), f"c{arr.dtype.itemsize}"
    return arr, f"{kind}{arr.dtype.itemsize}"


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
    """Seconds since the epoch as a finite float (NaN/inf would poison the file)."""
    try:
        value = float(walltime)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a number of seconds, got {describe(walltime)}") from exc
    except OverflowError as exc:  # an int beyond float range
        raise ValueError(f"{name} must be finite, got {describe(walltime)}") from exc
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def optional_step(global_step: Any) -> Optional[int]:
    """`global_step` checked by `as_step` (ints too: the range is checked), None kept."""
    return None if global_step is None else as_step(global_step)


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


def tensor_for_core(tensor: Any) -> tuple[np.ndarray, str, bool]:
    """`add_tensor`'s and `summary.tensor_proto`'s input: the array, the dtype code of its
    real components, and whether they come in (real, imaginary) pairs."""
    array, code = array_for_core(tensor, "tensor", allow_complex=True)
    if array.nbytes >= _TWO_GIB:
        raise ValueError(
            f"tensor: {array.nbytes} bytes is beyond protocol buffers' 2 GiB limit "
            f"(shape {array.shape})"
        )
    complex_values = code[0] == "c"
    if complex_values:
        code = "f4" if code == "c8" else "f8"
    return array, code, complex_values
