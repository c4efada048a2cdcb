"""Log directories for the reader tests, written by torch's writer, tensorboardX's and
ferroboard's with the same calls: every plugin kind, duplicate steps, steps that go back,
a restart with purge_step, new-style scalars, add_scalars sub-runs, several runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

WRITERS = ("torch", "tensorboardX", "ferroboard")


def writer_class(name: str) -> Any:
    if name == "torch":
        from torch.utils.tensorboard import SummaryWriter
    elif name == "tensorboardX":
        from tensorboardX import SummaryWriter
    else:
        from ferroboard import SummaryWriter
    return SummaryWriter


def writer_name(w: Any) -> str:
    return type(w).__module__.split(".")[0]


def scalar_calls(w: Any, run: int) -> None:
    for step in range(30):
        w.add_scalar("loss", 1.0 / (step + 1) + run, step, walltime=1000.0 + step)
        w.add_scalar("acc", step * 0.01, step, walltime=1000.5 + step)
    w.add_scalar("loss", 9.0, 2, walltime=2000.0)  # a duplicate step
    for step in range(5, 8):  # steps that go back
        w.add_scalar("acc", 100.0 + step, step, walltime=3000.0 + step)
    w.add_scalars("grp", {"a": 1.0 + run, "b": -1.0}, 0, walltime=4000.0)
    w.add_scalars("grp", {"a": 2.0, "b": -2.0}, 1, walltime=4001.0)


def mixed_calls(w: Any, run: int, new_style: bool) -> None:
    rng = np.random.default_rng(run)
    scalar_calls(w, run)
    for step in range(3):
        w.add_histogram("weights", rng.normal(size=200), step, walltime=5000.0 + step)
        w.add_text("note", f"step {step} of run {run}", step, walltime=6000.0 + step)
        if new_style:
            w.add_scalar("new", 0.5 * step, step, new_style=True, walltime=7000.0 + step)
    labels = rng.integers(0, 2, 50)
    w.add_pr_curve("pr", labels, rng.random(50), 0, walltime=7500.0)
    w.add_custom_scalars({"grp": {"both": ["Multiline", ["grp/a", "grp/b"]]}})
    w.add_image("img", rng.integers(0, 255, (3, 8, 6), dtype=np.uint8), 0, walltime=8000.0)
    w.add_image("gray", rng.random((1, 5, 4)), 1, walltime=8001.0)
    if writer_name(w) != "tensorboardX":  # tensorboardX's add_audio needs soundfile
        w.add_audio(
            "snd", np.sin(np.arange(800) / 10.0) * 0.5, 0, sample_rate=8000, walltime=9000.0
        )


def write_runs(root: Path, writer: str, runs: int = 2, mixed: bool = True) -> Path:
    cls = writer_class(writer)
    for run in range(runs):
        w = cls(str(root / f"run{run}"))
        if mixed:
            mixed_calls(w, run, new_style=writer != "tensorboardX")
        else:
            scalar_calls(w, run)
        if writer != "tensorboardX" or run == 0:
            w.add_hparams(
                {"lr": 0.1 * (run + 1), "opt": "sgd", "deep": bool(run)}, {"hp/metric": float(run)}
            )
        w.close()
    return root


def write_restart(root: Path, writer: str) -> Path:
    """A run resumed with purge_step=5 (a second file whose first step is 5)."""
    cls = writer_class(writer)
    w = cls(str(root))
    for s in range(10):
        w.add_scalar("x", float(s), s, walltime=100.0 + s)
    w.close()
    w = cls(str(root), purge_step=5)
    for s in range(5, 8):
        w.add_scalar("x", 100.0 + s, s, walltime=200.0 + s)
    w.close()
    return root


Calls = Callable[[Any], None]
