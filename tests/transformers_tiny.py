"""A tiny, deterministic `Trainer` run on CPU, for tests/test_integration_transformers.py.

    python tests/transformers_tiny.py {stock|ferroboard} OUTPUT_DIR LOG_DIR

Trains a 2-layer model on random tensors (2 epochs of 4 steps, logging every step,
evaluating every epoch), then, after `train()`, runs `evaluate()` and `predict()` and
logs the predict metrics. The callback is transformers' `TensorBoardCallback` ("stock")
or ferroboard's; both get LOG_DIR the stock way (TENSORBOARD_LOGGING_DIR, and
`logging_dir` where TrainingArguments still has it). Prints one JSON line: which writer
modules the process imported and where the callback's writer points after the run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from typing import Any

import torch
from transformers import PretrainedConfig, Trainer, TrainingArguments, set_seed

WRITER_MODULES = ("torch.utils.tensorboard", "tensorboardX")
STEPS_PER_EPOCH = 4
EPOCHS = 2


class TinyClassifier(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        # A config makes both callbacks log the "model_config" text, as for a real model.
        self.config = PretrainedConfig(hidden_size=16, num_labels=2)
        self.hidden = torch.nn.Linear(8, 16)
        self.out = torch.nn.Linear(16, 2)

    def forward(self, x: torch.Tensor, labels: Any = None) -> dict:
        logits = self.out(torch.relu(self.hidden(x)))
        result = {"logits": logits}
        if labels is not None:
            result["loss"] = torch.nn.functional.cross_entropy(logits, labels)
        return result


class RandomData(torch.utils.data.Dataset):
    def __init__(self, n: int, seed: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 8, generator=generator)
        self.labels = torch.randint(0, 2, (n,), generator=generator)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        return {"x": self.x[i], "labels": self.labels[i]}


def training_arguments(output_dir: str, log_dir: str) -> TrainingArguments:
    fields = {f.name for f in dataclasses.fields(TrainingArguments)}
    kwargs: dict[str, Any] = dict(
        output_dir=output_dir,
        logging_steps=1,
        num_train_epochs=EPOCHS,
        per_device_train_batch_size=8,
        per_device_eval_batch_size=8,
        learning_rate=0.05,
        report_to="none",
        save_strategy="no",
        disable_tqdm=True,
        seed=0,
    )
    # Spellings of older transformers versions.
    kwargs["eval_strategy" if "eval_strategy" in fields else "evaluation_strategy"] = "epoch"
    kwargs["use_cpu" if "use_cpu" in fields else "no_cuda"] = True
    if "logging_dir" in fields:  # transformers 4; 5 reads TENSORBOARD_LOGGING_DIR
        kwargs["logging_dir"] = log_dir
    return TrainingArguments(**kwargs)


def run(kind: str, output_dir: str, log_dir: str) -> dict:
    torch.set_num_threads(1)  # the same reductions in every run: equal losses
    os.environ["TENSORBOARD_LOGGING_DIR"] = log_dir
    if kind == "stock":
        from transformers.integrations import TensorBoardCallback
    else:
        from ferroboard.integrations.transformers import TensorBoardCallback
    callback = TensorBoardCallback()
    set_seed(0)
    trainer = Trainer(
        model=TinyClassifier(),
        args=training_arguments(output_dir, log_dir),
        train_dataset=RandomData(8 * STEPS_PER_EPOCH, seed=1),
        eval_dataset=RandomData(16, seed=2),
        callbacks=[callback],
    )
    trainer.train()
    trainer.evaluate()
    trainer.log(trainer.predict(RandomData(16, seed=3)).metrics)
    writer = callback.tb_writer
    return {
        "imported": [m for m in WRITER_MODULES if m in sys.modules],
        "writer": None if writer is None else type(writer).__module__,
        "writer_logdir": None if writer is None else writer.get_logdir(),
    }


if __name__ == "__main__":
    print(json.dumps(run(*sys.argv[1:4])))
