"""What logging costs a real training loop: no logging, torch, tensorboardX, ferroboard.

    python benches/training_loop.py [--reps 3] [--loops mlp,cnn] [--variants ...]

Two CPU training loops, each run in a fresh process per (variant, repetition), the
variants alternated (their order rotates every repetition), so that a noisy neighbour on
a shared machine hits all of them alike:

* ``mlp``: a 3-layer MLP (1024 inputs, two hidden layers of 1024 units, 10 outputs; 6
  parameter tensors), batch 64, 300 SGD steps; ``add_scalar`` of the loss every step,
  ``add_histogram`` of the 6 parameters and their 6 gradients every 10 steps.
* ``cnn``: a small CNN on 3x32x32 images (two 3x3 convolutions with pooling, two linear
  layers), batch 64, 200 SGD steps; the loss every step, the parameters and gradients
  every 10 steps, and ``add_images`` of 16 input images every 50 steps.

The timed part runs from creating the writer to ``close()`` returning, so that work the
writer left on a background thread is counted. The output is a Markdown table: median
(min-max) wall seconds per variant and the overhead of its median over no logging, and
the same for the CPU time of the whole process (every thread): what logging took from
the cores, which a machine shared with other work distorts far less than wall time. Each child
process builds its model and data with the same seed and runs one warm-up step before the
clock starts (torch's first step allocates its workspaces).
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
from typing import Any, Callable

from benchlib import build_dirs, writer_class

VARIANTS = ("none", "torch", "tensorboardX", "ferroboard")
LOOPS = ("mlp", "cnn")
STEPS = {"mlp": 300, "cnn": 200}
HISTOGRAM_EVERY = 10
IMAGES_EVERY = 50


def _writer(variant: str, logdir: str) -> Any:
    return None if variant == "none" else writer_class(variant)(logdir)


def _model_and_data(loop: str) -> tuple[Any, Callable[[int], tuple[Any, Any]]]:
    import torch
    from torch import nn

    torch.manual_seed(0)
    if loop == "mlp":
        model = nn.Sequential(
            nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10)
        )
        inputs = torch.randn(8, 64, 1024)
    else:
        model = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * 8 * 8, 256),
            nn.ReLU(),
            nn.Linear(256, 10),
        )
        inputs = torch.rand(8, 64, 3, 32, 32)
    labels = torch.randint(0, 10, (8, 64))
    return model, lambda step: (inputs[step % 8], labels[step % 8])


def run_once(loop: str, variant: str, threads: int = 0) -> tuple[float, float]:
    """One timed run of `loop` with `variant` in this process: wall seconds and CPU
    seconds of the whole process (every thread). `threads`: torch's intra-op threads (0:
    torch's default, one per core)."""
    import torch
    from torch import nn

    if threads:
        torch.set_num_threads(threads)

    model, batch = _model_and_data(loop)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()

    def train_step(step: int) -> Any:
        x, y = batch(step)
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    train_step(-1)  # warm-up, untimed
    named = list(model.named_parameters())
    with tempfile.TemporaryDirectory(prefix="ferroboard-loop-") as logdir:
        start, start_cpu = time.perf_counter(), time.process_time()
        writer = _writer(variant, logdir)
        for step in range(STEPS[loop]):
            loss = train_step(step)
            if writer is None:
                continue
            writer.add_scalar("train/loss", loss.item(), step)
            if step % HISTOGRAM_EVERY == 0:
                for name, param in named:
                    writer.add_histogram(f"weights/{name}", param, step)
                    writer.add_histogram(f"grads/{name}", param.grad, step)
            if loop == "cnn" and step % IMAGES_EVERY == 0:
                writer.add_images("inputs", batch(step)[0][:16], step)
        if writer is not None:
            writer.close()
        return time.perf_counter() - start, time.process_time() - start_cpu


def _child(
    loop: str,
    variant: str,
    threads: int,
    builds: dict[str, str],
    envs: dict[str, tuple[str, str]],
) -> tuple[float, float]:
    env = os.environ.copy()
    if variant in envs:
        key, value = envs[variant]
        env[key] = value
        variant = "ferroboard"
    elif variant in builds:
        # Another build of ferroboard (say, the one before a change), imported first.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [builds[variant], env.get("PYTHONPATH")]))
        variant = "ferroboard"
    out = subprocess.run(
        [sys.executable, __file__, "--child", loop, variant, "--threads", str(threads)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return float(result["seconds"]), float(result["cpu"])


def _overhead(times: list[float], base: list[float] | None) -> str:
    if base is None or times is base:
        return "—"
    return f"{(statistics.median(times) / statistics.median(base) - 1) * 100:+.1f} %"


def _table(results: dict[str, dict[str, list[tuple[float, float]]]]) -> str:
    lines = [
        "| loop | variant | wall s, median (min-max) | overhead, wall | CPU s, median "
        "| overhead, CPU |",
        "|---|---|---|---|---|---|",
    ]
    for loop, by_variant in results.items():
        walls = {v: [w for w, _ in runs] for v, runs in by_variant.items()}
        cpus = {v: [c for _, c in runs] for v, runs in by_variant.items()}
        for variant in by_variant:
            wall, cpu = walls[variant], cpus[variant]
            spread = f"{statistics.median(wall):.2f} ({min(wall):.2f}-{max(wall):.2f})"
            lines.append(
                f"| {loop} | {variant} | {spread} | {_overhead(wall, walls.get('none'))} "
                f"| {statistics.median(cpu):.2f} | {_overhead(cpu, cpus.get('none'))} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3, help="repetitions per variant (>= 1)")
    parser.add_argument("--loops", default=",".join(LOOPS))
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch intra-op threads (default 0: torch's default, one per core). On a "
        "machine other work keeps busy, torch's spinning threads slow down 10-100x; 1 "
        "keeps the measurement usable there",
    )
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument(
        "--build",
        action="append",
        default=[],
        metavar="LABEL=DIR",
        help="also run the ferroboard package found in DIR (a copy of python/ with its "
        "built _core) as variant LABEL, e.g. before=/tmp/old",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="LABEL=KEY=VALUE",
        help="also run ferroboard with environment variable KEY set to VALUE as variant "
        "LABEL, e.g. normal=FERROBOARD_BINNING_PRIORITY=normal",
    )
    parser.add_argument("--child", nargs=2, metavar=("LOOP", "VARIANT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        seconds, cpu = run_once(*args.child, threads=args.threads)
        print(json.dumps({"seconds": seconds, "cpu": cpu}))
        return
    loops = [s for s in args.loops.split(",") if s]
    variants = [s for s in args.variants.split(",") if s]
    builds = build_dirs(parser, args.build, VARIANTS)
    envs: dict[str, tuple[str, str]] = {}
    for spec in args.env:
        label, _, assignment = spec.partition("=")
        key, sep, value = assignment.partition("=")
        if not sep or not label or not key or label in VARIANTS or label in builds:
            parser.error(f"--env: expected LABEL=KEY=VALUE with a new label, got {spec!r}")
        envs[label] = (key, value)
    for name, chosen, known in (("--loops", loops, LOOPS), ("--variants", variants, VARIANTS)):
        unknown = [c for c in chosen if c not in known]
        if unknown or not chosen:
            parser.error(f"{name}: {unknown or chosen!r} not among {list(known)}")
    if args.threads < 0:
        parser.error(f"--threads: must be 0 (torch's default) or more, got {args.threads}")
    if args.reps < 1:
        parser.error(f"--reps: must be at least 1, got {args.reps}")
    variants += list(builds) + list(envs)
    results: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for loop in loops:
        results[loop] = {v: [] for v in variants}
        for rep in range(args.reps):
            order = variants[rep % len(variants) :] + variants[: rep % len(variants)]
            for variant in order:
                seconds, cpu = _child(loop, variant, args.threads, builds, envs)
                results[loop][variant].append((seconds, cpu))
                progress = f"{loop} rep {rep} {variant}: {seconds:.3f} s, CPU {cpu:.3f} s"
                print(progress, file=sys.stderr, flush=True)
    threads = args.threads or "default"
    print(f"{os.cpu_count()} CPUs, torch threads: {threads}; {args.reps} reps, alternated")
    print(_table(results))


if __name__ == "__main__":
    main()
