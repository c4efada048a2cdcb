"""Plugin methods against torch and tensorboardX.

* add_pr_curve of 1e5 labels and predictions: the caller's time, and end to end (ten
  calls plus close(), which waits for the curves and the write);
* add_embedding of a 20000 x 128 float32 matrix with 20000 metadata labels, end to end
  (the call plus close(), which waits for the files): ferroboard's default TSV
  (torch's format), and its binary float32 tensors (the anchors have only TSV: that
  row compares "the projector gets the embedding" by each writer's fastest means).

Target (issue 4): >= 10x faster than torch end to end.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from benchlib import record, rounds, scaled

PR_POINTS = 100_000
PR_CALLS = 10
EMBED_SHAPE = (20_000, 128)

_data: dict[str, Any] = {}


def pr_inputs() -> tuple[np.ndarray, np.ndarray]:
    if "pr" not in _data:
        rng = np.random.default_rng(0)
        labels = rng.integers(0, 2, PR_POINTS)
        predictions = np.clip(labels * 0.3 + rng.random(PR_POINTS) * 0.7, 0, 1)
        _data["pr"] = (labels, predictions.astype(np.float32))
    return _data["pr"]


def embedding_inputs() -> tuple[np.ndarray, list]:
    if "emb" not in _data:
        rng = np.random.default_rng(1)
        mat = rng.standard_normal(EMBED_SHAPE, dtype=np.float32)
        _data["emb"] = (mat, [f"label{i % 50}" for i in range(EMBED_SHAPE[0])])
    return _data["emb"]


def _pr_curve(writer: Any, labels: np.ndarray, predictions: np.ndarray) -> None:
    writer.add_pr_curve("pr", labels, predictions, 1)


def _pr_curves_and_close(writer: Any, labels: np.ndarray, predictions: np.ndarray) -> None:
    for step in range(scaled(PR_CALLS)):
        writer.add_pr_curve("pr", labels, predictions, step)
    writer.close()


def test_add_pr_curve_caller(benchmark: Any, writers: Any) -> None:
    labels, predictions = pr_inputs()
    record(benchmark, "add_pr_curve 1e5 points, caller", writers.name, 1, "call")
    benchmark.pedantic(
        _pr_curve,
        setup=writers.setup(labels, predictions),
        teardown=writers.teardown,
        rounds=rounds(writers.name, 30, 10),
        warmup_rounds=1,
    )


def test_add_pr_curve_end_to_end(benchmark: Any, writers: Any) -> None:
    labels, predictions = pr_inputs()
    case = f"add_pr_curve 1e5 points x{PR_CALLS}, end to end (calls + close)"
    record(benchmark, case, writers.name, scaled(PR_CALLS), "call")
    benchmark.pedantic(
        _pr_curves_and_close,
        setup=writers.setup(labels, predictions),
        teardown=writers.teardown,
        rounds=rounds(writers.name, 15, 5),
        warmup_rounds=1,
    )


def _embedding_and_close(writer: Any, mat: np.ndarray, metadata: list, binary: bool) -> None:
    if binary:
        writer.add_embedding(mat, metadata=metadata, tensor_format="binary")
    else:
        writer.add_embedding(mat, metadata=metadata)
    writer.close()


@pytest.mark.parametrize("binary", [False, True], ids=["tsv", "binary"])
def test_add_embedding_end_to_end(benchmark: Any, writers: Any, binary: bool) -> None:
    mat, metadata = embedding_inputs()
    if binary:
        case = "add_embedding 20000x128 + metadata, end to end; ferroboard binary vs anchors' TSV"
    else:
        case = "add_embedding 20000x128 + metadata, end to end (TSV, torch's format)"
    record(benchmark, case, writers.name, 1, "call")
    ours = writers.name == "ferroboard"
    benchmark.pedantic(
        _embedding_and_close,
        setup=writers.setup(mat, metadata, binary and ours),
        teardown=writers.teardown,
        rounds=rounds(writers.name, 10, 2),
        warmup_rounds=1 if ours else 0,
    )
