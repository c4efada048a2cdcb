"""The demo's plugin section: a PR curve, hyperparameters, an embedding, a graph, plus
custom scalar charts and a point cloud."""

from __future__ import annotations

from typing import Any

import numpy as np

from .skips import skipped


def _pr_curves(writer: Any, rng: np.random.Generator) -> None:
    """A classifier that gets better: its PR curve at three steps."""
    labels = rng.integers(0, 2, 5000)
    for step, skill in enumerate((0.2, 0.5, 0.8)):
        predictions = np.clip(labels * skill + rng.random(5000) * (1 - skill), 0, 1)
        writer.add_pr_curve("classifier/pr", labels, predictions, step)


def _hparams(writer: Any) -> None:
    """Three runs of a sweep, each in its own sub-run (as torch writes them)."""
    for i, (lr, batch, augment) in enumerate(
        [(0.1, 32, True), (0.01, 64, False), (0.001, 64, True)]
    ):
        writer.add_hparams(
            {"lr": lr, "batch_size": batch, "augment": augment, "optimizer": "sgd"},
            {"hparam/accuracy": 0.6 + 0.1 * i, "hparam/loss": 1.0 / (i + 1)},
            hparam_domain_discrete={"batch_size": [32, 64]},
            run_name=f"sweep_{i}",
        )


def _embedding(writer: Any, rng: np.random.Generator) -> None:
    """Three Gaussian clusters with labels and small colored thumbnails."""
    n_per, dim = 100, 16
    centers = rng.normal(0, 4, (3, dim))
    mat = np.concatenate([c + rng.normal(0, 1, (n_per, dim)) for c in centers])
    labels = [name for name in ("red", "green", "blue") for _ in range(n_per)]
    images = np.zeros((3 * n_per, 3, 8, 8), np.float32)
    for k in range(3):
        images[k * n_per : (k + 1) * n_per, k] = 1.0  # one color channel per cluster
    writer.add_embedding(mat, metadata=labels, label_img=images, tag="clusters")
    writer.add_embedding(mat, metadata=labels, tag="clusters_binary", tensor_format="binary")


def _graph(writer: Any) -> None:
    try:
        import torch
    except ImportError:
        skipped("the model graph (add_graph)", "torch")
        return
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(8, 10),
    )
    writer.add_graph(model, torch.zeros(1, 3, 16, 16))


def _custom_scalars_and_mesh(writer: Any, rng: np.random.Generator) -> None:
    for step in range(50):
        mean = np.sin(step / 8)
        writer.add_scalar("band/mean", mean, step)
        writer.add_scalar("band/low", mean - 0.3, step)
        writer.add_scalar("band/high", mean + 0.3, step)
    writer.add_custom_scalars(
        {
            "demo": {
                "sine with a band": ["Margin", ["band/mean", "band/low", "band/high"]],
                "scalar group": ["Multiline", ["y=2x", "train/loss"]],
            }
        }
    )
    points = rng.normal(0, 1, (1, 2000, 3))
    points /= np.linalg.norm(points, axis=2, keepdims=True)  # a sphere
    colors = ((points + 1) * 127.5).astype(np.uint8)
    writer.add_mesh("sphere", vertices=points, colors=colors, global_step=0)


def log(writer: Any) -> None:
    """Logs the plugin examples into `writer`."""
    rng = np.random.default_rng(0)
    _pr_curves(writer, rng)
    _hparams(writer)
    _embedding(writer, rng)
    _graph(writer)
    _custom_scalars_and_mesh(writer, rng)
