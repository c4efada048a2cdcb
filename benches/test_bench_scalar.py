"""add_scalar: caller time per call, and end-to-end events/s including close().

Targets (docs/architecture.md): caller <= 1 us per call; >= 1 M events/s end to end.
All writers run with their defaults (max_queue=10, flush_secs=120): with 10 slots, torch's
and tensorboardX's callers wait for their writer thread, so their caller time is their
throughput.
"""

from __future__ import annotations

from typing import Any

from benchlib import record, rounds, scaled

CALLER_CALLS = scaled(10_000)
E2E_EVENTS = scaled(100_000)


def _log_scalars(writer: Any, n: int) -> None:
    for step in range(n):
        writer.add_scalar("train/loss", 0.5, step)


def _log_scalars_and_close(writer: Any, n: int) -> None:
    for step in range(n):
        writer.add_scalar("train/loss", 0.5, step)
    writer.close()


class _NoopWriter:
    def add_scalar(self, tag: str, scalar_value: float, global_step: int) -> None:
        pass


def test_python_call_baseline(benchmark: Any) -> None:
    """The floor: the same loop calling an empty Python method."""
    record(benchmark, "baseline: empty method call", "python", CALLER_CALLS, "call")
    benchmark.pedantic(_log_scalars, args=(_NoopWriter(), CALLER_CALLS), rounds=20, warmup_rounds=2)


def test_add_scalar_caller(benchmark: Any, writers: Any) -> None:
    """CALLER_CALLS add_scalar calls on a fresh writer; close() is not timed."""
    record(benchmark, "add_scalar, caller", writers.name, CALLER_CALLS, "call")
    benchmark.pedantic(
        _log_scalars,
        setup=writers.setup(CALLER_CALLS),
        teardown=writers.teardown,
        rounds=rounds(writers.name, 20, 3),
        warmup_rounds=1,
    )


def test_add_scalar_end_to_end(benchmark: Any, writers: Any) -> None:
    """E2E_EVENTS add_scalar calls then close() (writer construction is not timed)."""
    record(benchmark, "add_scalar, end to end (incl. close)", writers.name, E2E_EVENTS, "event")
    benchmark.pedantic(
        _log_scalars_and_close,
        setup=writers.setup(E2E_EVENTS),
        teardown=writers.teardown,
        rounds=rounds(writers.name, 7, 3),
    )


def test_close_after_one_scalar(benchmark: Any, writers: Any) -> None:
    """The fixed cost in every end-to-end row: close() of a writer holding one event
    (ferroboard fsyncs here; torch does not fsync)."""
    record(benchmark, "close() after one add_scalar", writers.name, 1, "close")

    def setup() -> tuple[tuple, dict]:
        writer = writers.new()
        writer.add_scalar("train/loss", 0.5, 0)
        return (writer,), {}

    benchmark.pedantic(
        lambda writer: writer.close(),
        setup=setup,
        teardown=writers.teardown,
        rounds=rounds(writers.name, 10, 10),
        warmup_rounds=1,
    )
