"""The demo: scalars, a scalar group, text, histograms, media and plugins.

Written with ferroboard; `tensorboard --logdir runs` shows it.

Run through `bash scripts/demo.sh` (which builds ferroboard first), `ferroboard demo
[LOGDIR]`, or `python examples/demo.py [--logdir runs/demo]`.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import shlex
import sys
import time
from collections.abc import Sequence
from typing import Optional

import numpy as np

from ..writer import SummaryWriter
from . import media as demo_media
from . import plugins as demo_plugins
from .skips import skipped


def log_scalars_and_text(writer: SummaryWriter) -> None:
    for x in range(100):
        writer.add_scalar("y=2x", x * 2, x)
        writer.add_scalar("y=pow(2,x)", math.pow(2, x), x)
        writer.add_scalars(
            "run_14h",
            {"xsinx": x * math.sin(x / 5), "xcosx": x * math.cos(x / 5), "tanx": math.tan(x / 5)},
            x,
        )
    writer.add_text("notes", "**ferroboard** demo: scalars, a scalar group, text, histograms", 0)


def log_parameter_histograms(writer: SummaryWriter, steps: int = 5) -> None:
    """Per-parameter histograms of a small model while it trains on a toy problem."""
    try:
        import torch
    except ImportError:  # the demo still shows histograms without torch
        skipped("the model's parameter and gradient histograms (random ones instead)", "torch")
        rng = np.random.default_rng(0)
        for step in range(steps):
            writer.add_histogram("weights", rng.normal(0, 1 + step / 10, 10_000), step)
        return
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(10, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    inputs = torch.randn(256, 10)
    targets = inputs.sum(dim=1, keepdim=True)
    for step in range(steps * 20):
        loss = torch.nn.functional.mse_loss(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        writer.add_scalar("train/loss", loss.item(), step)
        if step % 20 == 0:
            for name, param in model.named_parameters():
                writer.add_histogram(name, param, step)
                writer.add_histogram(f"{name}.grad", param.grad, step)


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--logdir", help="run directory (default: runs/<date>_<host>)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with SummaryWriter(args.logdir) as writer:
        log_scalars_and_text(writer)
        log_parameter_histograms(writer)
        demo_media.log(writer)
        demo_plugins.log(writer)
        logdir = writer.get_logdir()
    print(f"wrote the demo run to {logdir} in {time.perf_counter() - started:.2f} s")
    print(view_hint(logdir))


def view_hint(logdir: str) -> str:
    """A command that works as printed, from any directory: this interpreter's TensorBoard
    (the virtual environment's, not whatever `tensorboard` a later shell finds first)."""
    runs = shlex.quote(os.path.dirname(os.path.abspath(logdir)))
    if importlib.util.find_spec("tensorboard") is None:
        return "to view it: pip install tensorboard, then: tensorboard --logdir " + runs
    script = os.path.join(os.path.dirname(sys.executable), "tensorboard")
    if os.access(script, os.X_OK):
        return f"view it with:  {shlex.quote(script)} --logdir {runs}"
    return f"view it with:  {shlex.quote(sys.executable)} -m tensorboard.main --logdir {runs}"


if __name__ == "__main__":
    main()
