"""Times the first three all-parameter histogram steps of ResNet-50 in fresh processes.

    python benches/cold_step.py                      # one process, ferroboard
    python benches/cold_step.py --runs 7             # 7 fresh processes per variant, alternated
    python benches/cold_step.py --runs 7 --build before=/tmp/old/python

The pytest benchmarks report warm steps (one warm-up round first). The first step of a
process, or one after a long pause, copies into fresh memory instead of buffers the
writer recycled, and starts the binning threads: this shows what it costs. Step times are
the caller's (the loop of ``add_histogram`` calls); a ``flush()`` follows each step,
untimed, as between logging steps of a run.

Variants (each in its own fresh process, the order rotated every round):

* ``ferroboard``: this checkout's build; ``--build LABEL=DIR`` adds another build (a copy
  of ``python/`` with its ``_core``), say the one before a change;
* ``floor``: the same bytes copied with numpy, single-threaded, into fresh ``np.empty``
  buffers in step 0 and into those same buffers in steps 1 and 2: what a snapshot into
  fresh memory costs against one into mapped memory, with no writer at all.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

STEPS = 3
VARIANTS = ("ferroboard", "floor")


def _params() -> list[tuple[str, Any]]:
    from test_bench_model import resnet50

    return list(resnet50().named_parameters())


def ferroboard_steps() -> list[float]:
    import ferroboard

    params = _params()
    times = []
    with ferroboard.SummaryWriter(tempfile.mkdtemp(prefix="ferroboard-cold-")) as writer:
        for step in range(STEPS):
            start = time.perf_counter()
            for name, param in params:
                writer.add_histogram(name, param, step)
            times.append(time.perf_counter() - start)
            writer.flush()  # the worker finishes, as between logging steps of a run
    return times


def floor_steps() -> list[float]:
    import numpy as np

    arrays = [param.detach().numpy() for _, param in _params()]
    copies: list[Any] = []
    times = []
    for step in range(STEPS):
        start = time.perf_counter()
        if step == 0:
            for array in arrays:
                copy = np.empty_like(array)
                np.copyto(copy, array)
                copies.append(copy)
        else:
            for array, copy in zip(arrays, copies):
                np.copyto(copy, array)
        times.append(time.perf_counter() - start)
    return times


def _child(variant: str, builds: dict[str, str]) -> list[float]:
    env = os.environ.copy()
    if variant in builds:
        # Another build of ferroboard, imported first.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [builds[variant], env.get("PYTHONPATH")]))
        variant = "ferroboard"
    out = subprocess.run(
        [sys.executable, __file__, "--child", variant],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return [float(t) for t in json.loads(out.stdout.strip().splitlines()[-1])]


def _ms(values: list[float]) -> str:
    return (
        f"{statistics.median(values) * 1e3:.1f} ({min(values) * 1e3:.1f}-{max(values) * 1e3:.1f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=0, help="fresh processes per variant (0: one run here)"
    )
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument(
        "--build",
        action="append",
        default=[],
        metavar="LABEL=DIR",
        help="also run the ferroboard package found in DIR (a copy of python/ with its "
        "built _core) as variant LABEL",
    )
    parser.add_argument("--child", metavar="VARIANT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        times = floor_steps() if args.child == "floor" else ferroboard_steps()
        print(json.dumps(times))
        return
    if args.runs == 0:
        times = ferroboard_steps()
        print(", ".join(f"step {i}: {t * 1e3:.1f} ms" for i, t in enumerate(times)))
        return
    if args.runs < 0:
        parser.error(f"--runs: must be 0 or more, got {args.runs}")
    variants = [v for v in args.variants.split(",") if v]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"--variants: {unknown!r} not among {list(VARIANTS)}")
    builds: dict[str, str] = {}
    for spec in args.build:
        label, sep, path = spec.partition("=")
        if not sep or not label or not os.path.isdir(path) or label in VARIANTS:
            parser.error(
                f"--build: expected LABEL=DIR with a new label and a directory, got {spec!r}"
            )
        builds[label] = path
    variants += list(builds)
    results: dict[str, list[list[float]]] = {v: [] for v in variants}
    for run in range(args.runs):
        order = variants[run % len(variants) :] + variants[: run % len(variants)]
        for variant in order:
            times = _child(variant, builds)
            results[variant].append(times)
            shown = ", ".join(f"{t * 1e3:.1f}" for t in times)
            print(f"run {run} {variant}: {shown} ms", file=sys.stderr, flush=True)
    print(f"{os.cpu_count()} CPUs; {args.runs} fresh processes per variant, alternated")
    print("| variant | first step, ms: median (min-max) | warm steps, ms | first / warm |")
    print("|---|---|---|---|")
    for variant, runs in results.items():
        first = [times[0] for times in runs]
        warm = [t for times in runs for t in times[1:]]
        ratio = statistics.median(first) / statistics.median(warm)
        print(f"| {variant} | {_ms(first)} | {_ms(warm)} | {ratio:.1f}x |")


if __name__ == "__main__":
    main()
