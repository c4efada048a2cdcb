"""Times the first three all-parameter histogram steps of ResNet-50 in a fresh process.

    python benches/cold_step.py

The pytest benchmarks report warm steps (one warm-up round first). The first step of a
process, or one after a long pause, copies into fresh memory instead of buffers the
writer recycled, and starts the binning threads: this shows what it costs.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ferroboard  # noqa: E402
from test_bench_model import resnet50  # noqa: E402


def main() -> None:
    params = list(resnet50().named_parameters())
    times = []
    with ferroboard.SummaryWriter(tempfile.mkdtemp(prefix="ferroboard-cold-")) as writer:
        for step in range(3):
            start = time.perf_counter()
            for name, param in params:
                writer.add_histogram(name, param, step)
            times.append(time.perf_counter() - start)
            writer.flush()  # the worker finishes, as between logging steps of a run
    print(", ".join(f"step {i}: {t * 1e3:.1f} ms" for i, t in enumerate(times)))


if __name__ == "__main__":
    main()
