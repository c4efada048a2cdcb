"""ferroboard's `TensorBoardLogger` for Lightning: Lightning's own logger, writing through
`ferroboard.SummaryWriter`.

    from lightning.pytorch import Trainer
    from ferroboard.integrations.lightning import TensorBoardLogger

    trainer = Trainer(logger=TensorBoardLogger("logs"))

It subclasses `lightning.pytorch.loggers.TensorBoardLogger` (or, when only the older
`pytorch_lightning` package is installed, `pytorch_lightning.loggers.TensorBoardLogger`).
With `import pytorch_lightning as pl`, use `ferroboard.integrations.pytorch_lightning`.
"""

from __future__ import annotations

import importlib.util

__all__ = ["TensorBoardLogger"]


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:  # a meta-path finder that refuses the name
        return False


if not _installed("lightning"):
    if not _installed("pytorch_lightning"):
        raise ImportError(
            "ferroboard.integrations.lightning needs Lightning: pip install lightning "
            "(or the older pytorch-lightning)"
        )
    from .pytorch_lightning import TensorBoardLogger
else:
    from lightning.fabric.loggers import tensorboard as _fabric_tensorboard
    from lightning.fabric.utilities import logger as _fabric_logger_utils
    from lightning.pytorch.loggers import TensorBoardLogger as _LightningTensorBoardLogger

    from ._lightning_logger import FerroboardLoggerMixin

    class TensorBoardLogger(FerroboardLoggerMixin, _LightningTensorBoardLogger):  # type: ignore[no-redef]
        """`lightning.pytorch.loggers.TensorBoardLogger` writing through ferroboard.

        Same arguments as Lightning's; extra keyword arguments go to
        `ferroboard.SummaryWriter` (`max_queue`, `flush_secs`, `filename_suffix`,
        `max_pending_bytes`, ...). Works without `tensorboard` and `tensorboardX`.
        `experiment` is a `ferroboard.SummaryWriter`.
        """

        _fabric_tensorboard = _fabric_tensorboard
        _fabric_logger_utils = _fabric_logger_utils
