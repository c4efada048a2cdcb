"""Times the first six all-parameter histogram steps of ResNet-50 in fresh processes.

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
  buffers in step 0 and into those same buffers in later steps: what a snapshot into
  fresh memory costs against one into mapped memory, with no writer at all.

The table gives step 0, steps 1-2 and steps 3-5 (warm) separately: after a first step
binned in place, buffers for the later copies are mapped in the background, so steps 1
and 2 may still be partly binned in place (docs/performance.md).
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

from benchlib import build_dirs  # noqa: E402

STEPS = 6
VARIANTS = ("ferroboard", "floor")


def _params() -> list[tuple[str, Any]]:
    from test_bench_model import resnet50

    return list(resnet50().named_parameters())


def ferroboard_steps() -> list[tuple[float, float]]:
    import ferroboard

    params = _params()
    times = []
    with ferroboard.SummaryWriter(tempfile.mkdtemp(prefix="ferroboard-cold-")) as writer:
        for step in range(STEPS):
            start, start_cpu = time.perf_counter(), time.process_time()
            for name, param in params:
                writer.add_histogram(name, param, step)
            times.append((time.perf_counter() - start, time.process_time() - start_cpu))
            writer.flush()  # the worker finishes, as between logging steps of a run
    return times


def floor_steps() -> list[tuple[float, float]]:
    import numpy as np

    arrays = [param.detach().numpy() for _, param in _params()]
    copies: list[Any] = []
    times = []
    for step in range(STEPS):
        start, start_cpu = time.perf_counter(), time.process_time()
        if step == 0:
            for array in arrays:
                copy = np.empty_like(array)
                np.copyto(copy, array)
                copies.append(copy)
        else:
            for array, copy in zip(arrays, copies):
                np.copyto(copy, array)
        times.append((time.perf_counter() - start, time.process_time() - start_cpu))
    return times


def _child(variant: str, builds: dict[str, str]) -> list[tuple[float, float]]:
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
    return [(float(w), float(c)) for w, c in json.loads(out.stdout.strip().splitlines()[-1])]


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
        shown = ", ".join(
            f"step {i}: {wall * 1e3:.1f} ms (CPU {cpu * 1e3:.1f})"
            for i, (wall, cpu) in enumerate(ferroboard_steps())
        )
        print(shown)
        return
    if args.runs < 0:
        parser.error(f"--runs: must be 0 or more, got {args.runs}")
    variants = [v for v in args.variants.split(",") if v]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"--variants: {unknown!r} not among {list(VARIANTS)}")
    builds = build_dirs(parser, args.build, VARIANTS)
    variants += list(builds)
    results: dict[str, list[list[tuple[float, float]]]] = {v: [] for v in variants}
    for run in range(args.runs):
        order = variants[run % len(variants) :] + variants[: run % len(variants)]
        for variant in order:
            times = _child(variant, builds)
            results[variant].append(times)
            shown = ", ".join(f"{wall * 1e3:.1f}" for wall, _ in times)
            print(f"run {run} {variant}: {shown} ms", file=sys.stderr, flush=True)
    print(f"{os.cpu_count()} CPUs; {args.runs} fresh processes per variant, alternated")
    print(
        "| variant | step 0, ms: median (min-max) | steps 1-2, ms | steps 3-5 (warm), ms "
        "| step 0 / warm | CPU ms, step 0 / warm |"
    )
    print("|---|---|---|---|---|---|")
    for variant, runs in results.items():
        columns = []
        for part in (0, 1):  # wall, then CPU time of the whole process
            first = [times[0][part] for times in runs]
            next_two = [t[part] for times in runs for t in times[1:3]]
            warm = [t[part] for times in runs for t in times[3:]]
            columns.append((first, next_two, warm))
        (first, next_two, warm), (first_cpu, _, warm_cpu) = columns
        ratio = statistics.median(first) / statistics.median(warm)
        cpu = f"{statistics.median(first_cpu) * 1e3:.1f} / {statistics.median(warm_cpu) * 1e3:.1f}"
        print(
            f"| {variant} | {_ms(first)} | {_ms(next_two)} | {_ms(warm)} | {ratio:.1f}x | {cpu} |"
        )


if __name__ == "__main__":
    main()
