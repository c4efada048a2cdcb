"""add_scalar on a non-writing rank of a distributed job: caller time per call.

Target (issue 13): < 1 µs per call, with a torch tensor as the value (never read: on
a GPU, reading it would sync the device on every rank). Only ferroboard has such ranks;
torch and tensorboardX write on every rank, so their row is the writing one in
test_bench_scalar.py.
"""

from __future__ import annotations

from typing import Any

import ferroboard
import torch
from benchlib import record, rounds, scaled

CALLER_CALLS = scaled(100_000)


def _log_tensors(writer: Any, value: Any, n: int) -> None:
    for step in range(n):
        writer.add_scalar("train/loss", value, step)


def test_add_scalar_non_writing_rank_caller(benchmark: Any, logdirs: Any) -> None:
    """Rank 1 of a job where only rank 0 writes (rank given, as a launcher would)."""
    record(
        benchmark, "add_scalar on a non-writing rank, caller", "ferroboard", CALLER_CALLS, "call"
    )
    writer = ferroboard.SummaryWriter(logdirs.fresh(), ranks="zero", rank=1)
    assert not writer.is_writing
    benchmark.pedantic(
        _log_tensors,
        args=(writer, torch.tensor(0.5), CALLER_CALLS),
        rounds=rounds("ferroboard", 20, 20),
        warmup_rounds=2,
    )
    writer.close()
