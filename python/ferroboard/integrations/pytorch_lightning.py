"""ferroboard's `TensorBoardLogger` for the `pytorch_lightning` package.

The same logger as `ferroboard.integrations.lightning`, built on
`pytorch_lightning.loggers.TensorBoardLogger`: use it with `import pytorch_lightning as pl`
(the older package name of Lightning; it has its own Trainer and its own classes).

    from ferroboard.integrations.pytorch_lightning import TensorBoardLogger

    trainer = pl.Trainer(logger=TensorBoardLogger("logs"))
"""

from __future__ import annotations

from lightning_fabric.loggers import tensorboard as _fabric_tensorboard
from lightning_fabric.utilities import logger as _fabric_logger_utils
from pytorch_lightning.loggers import TensorBoardLogger as _LightningTensorBoardLogger

from ._lightning_logger import FerroboardLoggerMixin

__all__ = ["TensorBoardLogger"]


class TensorBoardLogger(FerroboardLoggerMixin, _LightningTensorBoardLogger):
    """`pytorch_lightning.loggers.TensorBoardLogger` writing through ferroboard.

    Same arguments as Lightning's; extra keyword arguments go to `ferroboard.SummaryWriter`
    (`max_queue`, `flush_secs`, `filename_suffix`, `max_pending_bytes`, ...). Works
    without `tensorboard` and `tensorboardX`. `experiment` is a `ferroboard.SummaryWriter`.
    """

    _fabric_tensorboard = _fabric_tensorboard
    _fabric_logger_utils = _fabric_logger_utils
