"""`TensorBoardCallback` for the Hugging Face `Trainer`, writing through ferroboard.

    from ferroboard.integrations.transformers import TensorBoardCallback

    trainer = Trainer(..., args=TrainingArguments(..., report_to="none"),
                      callbacks=[TensorBoardCallback(log_dir="runs/exp")])

The tags, steps and values are those of transformers' own `TensorBoardCallback` (this
class reuses its `on_train_begin` and `on_log`). Two things differ:

- transformers' callback closes its writer at `on_train_end` and drops it, so a later
  `trainer.evaluate()` (or `trainer.log(...)`) makes a new torch `SummaryWriter` — into
  another run when the writer had been passed in. This one flushes at `on_train_end` (every
  event on disk) and keeps the writer, so `evaluate()` after `train()` lands in the same
  file. The writer is closed at interpreter exit (ferroboard closes live writers then), or
  by `callback.tb_writer.close()`; a closed ferroboard writer reopens on its next call, in
  the same directory.
- It never imports torch's or tensorboardX's writer, and does not need tensorboard.

Importing this module imports transformers; importing `ferroboard` does not.
"""

from __future__ import annotations

import os
from typing import Any, Optional

from transformers.integrations.integration_utils import TensorBoardCallback as _StockCallback

from ..file_writer import PathLike
from ..writer import SummaryWriter, default_logdir

__all__ = ["TensorBoardCallback"]

# What the stock callback calls on a writer it is given.
_WRITER_METHODS = ("add_scalar", "add_text", "flush", "close")


def _checked_log_dir(log_dir: Any) -> Optional[str]:
    if log_dir is None:
        return None
    if not isinstance(log_dir, (str, os.PathLike)):
        raise TypeError(f"log_dir must be a str or os.PathLike, got {type(log_dir).__name__}")
    path = os.fsdecode(log_dir)
    if not path:
        raise ValueError("log_dir must not be empty")
    return os.path.expanduser(path)


class TensorBoardCallback(_StockCallback):
    """A `TrainerCallback` that logs to TensorBoard event files with ferroboard.

    Args:
        tb_writer: the writer to use (any object with the `SummaryWriter` API; a
            ferroboard `SummaryWriter` normally). It is flushed, never closed, by the
            callback. Default: one is created at the first event.
        log_dir: directory of the writer the callback creates (not with `tb_writer`).
            Default, as transformers does: `$TENSORBOARD_LOGGING_DIR`, else
            `args.logging_dir` (transformers 4), else
            `{args.output_dir}/runs/{date}_{host}`. A hyperparameter-search trial gets
            transformers' trial directory and a writer of its own.
    """

    def __init__(self, tb_writer: Any = None, *, log_dir: Optional[PathLike] = None) -> None:
        # The stock __init__ is not called: it imports torch's (or tensorboardX's)
        # SummaryWriter and raises when tensorboard is not installed.
        if tb_writer is not None:
            missing = [m for m in _WRITER_METHODS if not callable(getattr(tb_writer, m, None))]
            if missing:
                raise TypeError(
                    "tb_writer must be a SummaryWriter (ferroboard's, torch's or "
                    f"tensorboardX's), got {type(tb_writer).__name__} without {', '.join(missing)}"
                )
            if log_dir is not None:
                raise ValueError(
                    f"pass tb_writer or log_dir, not both: got log_dir={log_dir!r} and a "
                    "tb_writer, which already has its directory"
                )
        directory = _checked_log_dir(log_dir)
        if directory is None:
            directory = _checked_log_dir(os.getenv("TENSORBOARD_LOGGING_DIR") or None)
        # Read by transformers 4's stock methods. transformers types it as torch's class;
        # ferroboard's is a drop-in with the same methods, not a subclass.
        self._SummaryWriter = SummaryWriter  # type: ignore[assignment]
        self.tb_writer = tb_writer
        # transformers 5's stock on_train_begin reads and sets this attribute.
        self.logging_dir: Optional[str] = directory
        self._owns_writer = False

    def _init_summary_writer(self, args: Any, log_dir: Optional[str] = None) -> None:
        # transformers 4 passes a trial's directory as `log_dir` and otherwise uses
        # args.logging_dir; transformers 5 sets self.logging_dir before calling this.
        directory = log_dir or self.logging_dir or getattr(args, "logging_dir", None)
        if not directory:
            # evaluate() before any train(): transformers 5's stock callback would write
            # to ./runs; use the directory train() would use, and keep it for train().
            directory = os.path.join(args.output_dir or ".", default_logdir())
            self.logging_dir = directory
        self.tb_writer = SummaryWriter(log_dir=directory)
        self._owns_writer = True

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if (
            state.is_world_process_zero
            and state.is_hyper_param_search
            and self._owns_writer
            and self.tb_writer is not None
        ):
            # Each trial is a run of its own: close the previous trial's writer so the
            # stock logic opens one in this trial's directory.
            self.tb_writer.close()
            self.tb_writer = None
            self._owns_writer = False
        super().on_train_begin(args, state, control, **kwargs)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        # The stock callback closes and drops the writer here; keeping it (flushed: every
        # event so far is on disk) lets evaluate()/log() after train() use the same file.
        if self.tb_writer is not None:
            self.tb_writer.flush()
