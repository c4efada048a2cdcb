"""The tiny training run of the Lightning integration tests and of their child processes.

`TinyBody` is put on a package's `LightningModule` (`lightning.pytorch` or
`pytorch_lightning`) by `module_class`, or by a module a child process writes (a class that
`ddp_spawn` pickles must be importable by name). Every logger method a fit uses is
exercised: `self.log` (scalars), `LearningRateMonitor`, `log_graph` (from
`example_input_array`), `log_hyperparams` with `hp_metric` (from `save_hyperparameters`),
and direct `logger.experiment.add_*` calls.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import torch

SAMPLES, BATCH, EPOCHS = 32, 8, 2
STEPS_PER_EPOCH = SAMPLES // BATCH


class TinyBody:
    """The model and its hooks; a `LightningModule` comes after it in the bases."""

    def __init__(self, lr: float = 0.1, hidden: int = 8, optimizer: str = "sgd") -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(4, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1)
        )
        self.example_input_array = torch.zeros(2, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = torch.nn.functional.mse_loss(self(x), y)
        self.log("train_loss", loss)
        self.log("hp_metric", loss, on_step=False, on_epoch=True)
        return loss

    def on_train_epoch_end(self) -> None:
        writer = self.logger.experiment
        writer.add_histogram("weights/first", self.net[0].weight, self.current_epoch)
        writer.add_scalar("direct/epoch", float(self.current_epoch), self.current_epoch)

    def configure_optimizers(self) -> Any:
        optimizer = torch.optim.SGD(self.parameters(), lr=self.hparams.lr)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
        return [optimizer], [scheduler]


_CLASSES: dict[str, type] = {}


def module_class(package: ModuleType) -> type:
    """`TinyBody` on `package.LightningModule` (one class per package)."""
    name = package.__name__
    if name not in _CLASSES:
        _CLASSES[name] = type("TinyModule", (TinyBody, package.LightningModule), {})
    return _CLASSES[name]


def make_loader(seed: int = 0) -> torch.utils.data.DataLoader:
    """SAMPLES random rows from a local TensorDataset, in order."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(SAMPLES, 4, generator=generator)
    y = torch.randn(SAMPLES, 1, generator=generator)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=BATCH)


def trainer_kwargs(package: ModuleType, logger: Any) -> dict[str, Any]:
    """A quiet CPU Trainer that logs every step."""
    return {
        "logger": logger,
        "callbacks": [package.callbacks.LearningRateMonitor()],
        "max_epochs": EPOCHS,
        "log_every_n_steps": 1,
        "accelerator": "cpu",
        "devices": 1,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "enable_checkpointing": False,
    }
