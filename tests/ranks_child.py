"""Child processes of tests/test_ranks.py: real multi-process launches on CPU (gloo).

    python -m torch.distributed.run --nproc-per-node=4 ranks_child.py torchrun OUT
    python ranks_child.py spawn OUT PORT
    python ranks_child.py lightning OUT

Each process writes what it saw to OUT/report{rank}.json; the test reads the files.
"""

from __future__ import annotations

import json
import os
import sys
import threading

import ferroboard


def _tasks() -> int:
    """Threads of this process as the kernel counts them (Rust threads included)."""
    return len(os.listdir("/proc/self/task"))


def _report(out: str, rank: int, **kw: object) -> None:
    with open(os.path.join(out, f"report{rank}.json"), "w") as f:
        json.dump(kw, f)


class Untouchable:
    """A value whose every attribute access and conversion raises: a non-writing rank
    must never look at what it is given (a CUDA scalar would sync the device)."""

    def __getattribute__(self, name: str) -> object:
        raise AssertionError(f"argument touched: .{name}")

    def __float__(self) -> float:
        raise AssertionError("argument touched: float()")

    def __index__(self) -> int:
        raise AssertionError("argument touched: index()")


def torchrun(out: str) -> None:
    import torch
    import torch.distributed as dist

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    tasks_before, threads_before = _tasks(), threading.active_count()
    # Default: rank 0 only. Every rank runs the same logging code, as a script would.
    writer = ferroboard.SummaryWriter(os.path.join(out, "default"))
    for step in range(5):
        writer.add_scalar("loss", float(rank), step)
    writer.add_text("who", f"rank {rank}", 0)
    if not writer.is_writing:
        bomb = Untouchable()
        writer.add_scalar("loss", bomb, bomb)
        writer.add_histogram("h", bomb, bomb)
        writer._get_file_writer().add_summary(bomb, bomb)  # Lightning's path
    tasks_default = _tasks() - tasks_before
    threads_default = threading.active_count() - threads_before
    writer.flush()
    is_writing = writer.is_writing
    writer.close()
    # One run per rank.
    per_rank = ferroboard.SummaryWriter(
        os.path.join(out, "per_rank"), ranks="all", per_rank_dir=True
    )
    for step in range(5):
        per_rank.add_scalar("loss", float(rank), step)
    per_rank_logdir = per_rank.get_logdir()
    per_rank.close()
    total = torch.tensor([1.0])
    dist.all_reduce(total)  # the group is real and complete
    _report(
        out,
        rank,
        world=world,
        is_writing=is_writing,
        new_tasks=tasks_default,
        new_threads=threads_default,
        per_rank_logdir=per_rank_logdir,
        all_reduce=total.item(),
    )
    dist.barrier()
    dist.destroy_process_group()


def _spawn_worker(index: int, out: str, port: int) -> None:
    import torch.distributed as dist

    # Built before init_process_group: nothing tells the rank yet, so both processes
    # open a file; the first add_* asks torch.distributed again.
    writer = ferroboard.SummaryWriter(os.path.join(out, "default"))
    per_rank = ferroboard.SummaryWriter(
        os.path.join(out, "per_rank"), ranks="all", per_rank_dir=True
    )
    opened_before = writer.file_writer.event_file_path is not None
    dist.init_process_group("gloo", rank=index, world_size=2, init_method=f"tcp://127.0.0.1:{port}")
    for step in range(3):
        writer.add_scalar("loss", float(index), step)
        per_rank.add_scalar("loss", float(index), step)
    _report(
        out,
        index,
        opened_before=opened_before,
        is_writing=writer.is_writing,
        per_rank_logdir=per_rank.get_logdir(),
    )
    writer.close()
    per_rank.close()
    dist.barrier()
    dist.destroy_process_group()


def spawn(out: str, port: int) -> None:
    import torch.multiprocessing as mp

    mp.spawn(_spawn_worker, args=(out, port), nprocs=2, join=True)


def lightning(out: str) -> None:
    import lightning.pytorch as pl
    import torch
    from ferroboard.integrations.lightning import TensorBoardLogger

    class Tiny(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)

        def training_step(self, batch: object, batch_idx: int) -> torch.Tensor:
            (x,) = batch  # type: ignore[misc]
            loss = self.layer(x).pow(2).mean()
            self.log("train_loss", loss)
            return loss

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=0.01)

    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(32, 4)), 4)
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=2,
        strategy="ddp",
        max_steps=4,
        log_every_n_steps=1,
        logger=TensorBoardLogger(os.path.join(out, "logs"), name="run", version=0),
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(Tiny(), data)
    _report(out, trainer.global_rank, world=trainer.world_size)


if __name__ == "__main__":
    mode, out = sys.argv[1], sys.argv[2]
    if mode == "torchrun":
        torchrun(out)
    elif mode == "spawn":
        spawn(out, int(sys.argv[3]))
    elif mode == "lightning":
        lightning(out)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
