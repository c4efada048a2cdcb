"""What the at-call argument check of the CUDA copy-out path costs (docs/gpu.md, "Bad
arguments raise at the call"), measured on CPU: tensors routed through the GPU path with
always-complete fake events, each call timed with the builder's check at the call and
with it replaced by nothing. Prints medians of 15 calls after 3 warm-up calls.

    python benches/copy_out_check_cost.py

On a GPU the copy itself is a DMA that costs the caller almost nothing, so the check is
most of the caller's time there; this measures the check's own cost.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

import fake_events  # noqa: E402
import ferroboard  # noqa: E402
import torch  # noqa: E402
from ferroboard import _device_copy, _device_path  # noqa: E402

CASES = [
    ("image", (3, 2048, 2048)),
    ("video", (1, 16, 3, 256, 256)),
    ("tensor", (4_000_000,)),
    ("pr_curve", (4_000_000,)),
]


def _call(w: ferroboard.SummaryWriter, kind: str, t: Any, step: int) -> None:
    if kind == "image":
        w.add_image("x", t, step)
    elif kind == "video":
        w.add_video("v", t, step)
    elif kind == "tensor":
        w.add_tensor("t", t, step)
    else:
        w.add_pr_curve("p", t > 0.5, t, step)


def median_ms(kind: str, shape: tuple, check: bool, fakes: Any, reps: int = 15) -> float:
    t = torch.rand(shape)
    real = _device_copy._queue

    def without_check(fw, tags, values, _check, start, outside):  # type: ignore[no-untyped-def]
        return real(fw, tags, values, lambda host: None, start, outside)

    if not check:
        _device_copy._queue = without_check
    times = []
    try:
        with tempfile.TemporaryDirectory() as d:
            w = ferroboard.SummaryWriter(d)
            for step in range(reps + 3):
                start = time.perf_counter()
                _call(w, kind, t, step)
                times.append(time.perf_counter() - start)
                fakes.made[-1].done = True
                w.poll()
            w.close()
    finally:
        _device_copy._queue = real
    return statistics.median(times[3:]) * 1e3


def main() -> None:
    _device_path._route_cpu = True
    fakes = fake_events.FakeEvents()
    _device_path._EVENTS = fakes
    for kind, shape in CASES:
        with_check = median_ms(kind, shape, True, fakes)
        without = median_ms(kind, shape, False, fakes)
        print(
            f"{kind:9s} {str(shape):22s} with check {with_check:8.2f} ms   "
            f"without {without:8.2f} ms   check {with_check - without:7.2f} ms"
        )


if __name__ == "__main__":
    main()
