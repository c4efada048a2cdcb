"""Whether a CUDA graph is being captured on the current stream, asked without ever
initializing CUDA (a process that has not used CUDA is never capturing)."""

from __future__ import annotations

import sys

#: What `add_*` does with a CUDA tensor during a capture.
RAISE, SKIP = "raise", "skip"


def capturing() -> bool:
    torch = sys.modules.get("torch")
    if torch is None:
        return False
    cuda = torch.cuda
    if not cuda.is_initialized():
        return False
    return bool(cuda.is_current_stream_capturing())


def check_policy(policy: object) -> str:
    if policy not in (RAISE, SKIP):
        raise ValueError(f"on_cuda_capture must be 'raise' or 'skip', got {policy!r}")
    return str(policy)
