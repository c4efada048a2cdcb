"""What ferroboard's Lightning loggers change in Lightning's own `TensorBoardLogger`.

`FerroboardLoggerMixin` goes before Lightning's class in the bases of each concrete
logger (`ferroboard.integrations.lightning`, `ferroboard.integrations.pytorch_lightning`),
which name the Lightning package whose module-level helpers it uses. Everything else
(versions, log directories, `log_metrics`, `log_graph`, `save`, `finalize`, hparams.yaml,
`__getstate__` dropping the writer) stays Lightning's.

Lightning's logger depends on `tensorboard`/`tensorboardX` in three places, all replaced:
- its constructor raises ModuleNotFoundError when neither is installed;
- `experiment` imports their `SummaryWriter`;
- `log_hyperparams` imports their `summary.hparams`;
and it turns `log_graph=True` off without `tensorboard` (ferroboard's `add_graph` does
not need it).
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any, Optional, Union

# Both Lightning packages re-export this very function (`lightning.fabric.utilities.
# rank_zero.rank_zero_only is lightning_utilities.core.rank_zero.rank_zero_only`), and the
# Trainer sets the process's rank on it: importing it from here keeps this module free of
# either package.
from lightning_utilities.core.rank_zero import rank_zero_only

from .. import summary
from ..file_writer import reject_remote
from ..writer import SummaryWriter

# Serializes the brief lift of Lightning's "tensorboard or tensorboardX" check (below).
_CHECK_LOCK = threading.Lock()

_WRITER_PARAMETERS = inspect.signature(SummaryWriter).parameters


#: The flags, on Lightning's `fabric.loggers.tensorboard` module, that its constructor checks.
_TENSORBOARD_FLAG, _TENSORBOARDX_FLAG = "_TENSORBOARD_AVAILABLE", "_TENSORBOARDX_AVAILABLE"


@contextmanager
def _writer_check_lifted(fabric_tensorboard: ModuleType) -> Iterator[None]:
    """Lets Lightning's constructor run when neither `tensorboard` nor `tensorboardX` is
    installed: it refuses to (ModuleNotFoundError) because it would write through one
    of them, but this logger writes through ferroboard. The flag it reads is set only
    for the duration of the constructor."""
    installed = getattr(fabric_tensorboard, _TENSORBOARD_FLAG, True) or getattr(
        fabric_tensorboard, _TENSORBOARDX_FLAG, True
    )
    if installed:
        yield
        return
    with _CHECK_LOCK:
        saved = getattr(fabric_tensorboard, _TENSORBOARDX_FLAG)
        setattr(fabric_tensorboard, _TENSORBOARDX_FLAG, True)
        try:
            yield
        finally:
            setattr(fabric_tensorboard, _TENSORBOARDX_FLAG, saved)


def _check_writer_kwargs(kwargs: dict[str, Any]) -> None:
    """Lightning passes its extra keyword arguments to the writer when `experiment` is
    first used, which can be deep inside `fit()`: an unknown one fails here instead."""
    for key in kwargs:
        if key == "log_dir" or key == "logdir":
            raise TypeError(
                f"TensorBoardLogger got {key}={kwargs[key]!r}: the log directory is "
                "save_dir/name/version[/sub_dir]; pass save_dir, name, version or sub_dir"
            )
        if key not in _WRITER_PARAMETERS:
            raise TypeError(
                f"TensorBoardLogger got an unexpected keyword argument {key!r} (extra keyword "
                f"arguments go to ferroboard.SummaryWriter, which takes "
                f"{', '.join(p for p in _WRITER_PARAMETERS if p not in ('log_dir', 'logdir'))})"
            )


class FerroboardLoggerMixin:
    """Lightning's `TensorBoardLogger` writing through `ferroboard.SummaryWriter`.

    A concrete class sets `_fabric_tensorboard` (Lightning's `fabric.loggers.tensorboard`
    module, whose availability flags the constructor checks) and `_fabric_logger_utils`
    (its `fabric.utilities.logger` module: hyperparameter flattening).
    """

    _fabric_tensorboard: ModuleType
    _fabric_logger_utils: ModuleType

    # Attributes of Lightning's logger used below (typed there).
    _experiment: Any
    _kwargs: dict[str, Any]
    _default_hp_metric: bool
    _log_graph: Any
    _fs: Any

    def __init__(
        self,
        save_dir: Any,
        name: Optional[str] = "lightning_logs",
        version: Optional[Union[int, str]] = None,
        log_graph: bool = False,
        default_hp_metric: bool = True,
        prefix: str = "",
        sub_dir: Optional[Any] = None,
        **kwargs: Any,
    ) -> None:
        reject_remote(save_dir, "save_dir")
        _check_writer_kwargs(kwargs)
        with _writer_check_lifted(self._fabric_tensorboard):
            # log_graph=False: Lightning would warn and turn it off without `tensorboard`.
            super().__init__(  # type: ignore[call-arg]
                save_dir,
                name=name,
                version=version,
                log_graph=False,
                default_hp_metric=default_hp_metric,
                prefix=prefix,
                sub_dir=sub_dir,
                **kwargs,
            )
        self._log_graph = bool(log_graph)

    @property
    def experiment(self) -> SummaryWriter:
        """The `ferroboard.SummaryWriter` of this run (created on first use, on global
        rank 0 only; other ranks get Lightning's no-op stand-in), for direct
        `logger.experiment.add_*` calls."""
        if self._experiment is None and getattr(rank_zero_only, "rank", 0) == 0:
            log_dir = self.log_dir  # type: ignore[attr-defined]
            root_dir = self.root_dir  # type: ignore[attr-defined]
            if root_dir:
                self._fs.makedirs(root_dir, exist_ok=True)
            self._experiment = SummaryWriter(log_dir=log_dir, **self._kwargs)
        # Lightning's property returns the writer made above, or its stand-in on rank > 0.
        return super().experiment  # type: ignore[misc]

    @rank_zero_only
    def log_hyperparams(
        self, params: Any, metrics: Optional[Any] = None, step: Optional[int] = None
    ) -> None:
        """Lightning's `log_hyperparams` with ferroboard's `summary.hparams`.

        Lightning's method is called with no metrics, which does its bookkeeping (the
        parameters written to hparams.yaml) and stops before it imports `tensorboard`.
        """
        super().log_hyperparams(params, metrics={}, step=step)  # type: ignore[misc]
        utils = self._fabric_logger_utils
        flat = utils._flatten_dict(utils._convert_params(params))
        flat = self._sanitize_params(flat)  # type: ignore[attr-defined]
        if metrics is None:
            metrics = {"hp_metric": -1} if self._default_hp_metric else {}
        elif not isinstance(metrics, dict):
            metrics = {"hp_metric": metrics}
        if not metrics:
            return
        self.log_metrics(metrics, step)  # type: ignore[attr-defined]
        file_writer = self.experiment._get_file_writer()
        for proto in summary.hparams(flat, metrics):
            file_writer.add_summary(proto, step)
