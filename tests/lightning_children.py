"""The child processes of the Lightning integration tests, started together.

Each child imports torch and Lightning (5-15 s of CPU on the 2-core development machine)
and a `ddp_spawn` fit starts two more, so `Children.start` launches every child the
installed packages allow at once: they overlap one another and the in-process tests, and
each test waits only for its own. Output goes to files (a pipe nobody reads can block a
child that prints a lot).
"""

from __future__ import annotations

import importlib.util
import os
import site
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

from procs import child_env, script

TESTS = Path(__file__).resolve().parent
EXAMPLE = TESTS.parent / "examples" / "lightning_example.py"
#: Whole-child limit; the child's own watchdog dumps its stacks 15 s before.
TIMEOUT = 240

DDP_MODEL = """
import lightning.pytorch as L
from lightning_model import TinyBody

class TinyModule(TinyBody, L.LightningModule):
    pass
"""

#: argv: log root. A 2-process CPU fit (gloo); the Trainer pickles the logger into both.
DDP_SPAWN = """
import lightning.pytorch as L
import lightning_model
from ddp_model import TinyModule
from ferroboard.integrations.lightning import TensorBoardLogger

L.seed_everything(0, verbose=False)
logger = TensorBoardLogger(sys.argv[1], name="ddp")
kwargs = lightning_model.trainer_kwargs(L, logger)
kwargs.update(strategy="ddp_spawn", devices=2)
trainer = L.Trainer(**kwargs)
trainer.fit(TinyModule(), lightning_model.make_loader())
report(pid=os.getpid(), world_size=trainer.world_size)
"""

#: argv: log root, then the site directories without tensorboard (run with -S).
NO_TENSORBOARD = """
import importlib.abc, importlib.metadata, site

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorboard", "tensorboardX"):
            raise ModuleNotFoundError(f"No module named {name!r} (refused by the test)", name=name)
        return None

sys.meta_path.insert(0, Refuse())  # before anything can import them
for d in sys.argv[2:]:
    site.addsitedir(d)

def installed(name):
    try:
        importlib.metadata.version(name)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False

import ferroboard
family = ("lightning", "pytorch_lightning", "lightning_fabric")
after_ferroboard = sorted(m for m in sys.modules if m.split(".")[0] in family)

import lightning.pytorch as L
import lightning_model
from lightning.fabric.loggers import tensorboard as fabric_tb
from ferroboard.integrations.lightning import TensorBoardLogger

try:
    L.loggers.TensorBoardLogger(sys.argv[1])
    stock_error = None
except ModuleNotFoundError as exc:
    stock_error = str(exc)

class TinyModule(lightning_model.TinyBody, L.LightningModule):
    pass

L.seed_everything(0, verbose=False)
logger = TensorBoardLogger(sys.argv[1], name="notb", version=0, log_graph=True)
trainer = L.Trainer(**lightning_model.trainer_kwargs(L, logger))
trainer.fit(TinyModule(), lightning_model.make_loader())
logger.log_hyperparams({"batch": 8, "nested": {"depth": 2}}, {"hp_metric": 0.5}, step=99)
logger.finalize("success")
report(
    after_ferroboard=after_ferroboard,
    stock_error=stock_error,
    flags=[bool(fabric_tb._TENSORBOARD_AVAILABLE), bool(fabric_tb._TENSORBOARDX_AVAILABLE)],
    metadata=[installed("tensorboard"), installed("tensorboardX")],
    imported=sorted(m for m in sys.modules if m.split(".")[0] in ("tensorboard", "tensorboardX")),
    log_graph=logger._log_graph,
)
"""

#: No argv. ferroboard.integrations.lightning where only pytorch_lightning is importable.
WITHOUT_LIGHTNING = """
import importlib.abc

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "lightning":
            raise ModuleNotFoundError(f"No module named {name!r} (refused by the test)", name=name)
        return None

sys.meta_path.insert(0, Refuse())
import pytorch_lightning
from ferroboard.integrations import lightning, pytorch_lightning as ferro_pl

report(
    same=lightning.TensorBoardLogger is ferro_pl.TensorBoardLogger,
    subclass=issubclass(lightning.TensorBoardLogger, pytorch_lightning.loggers.TensorBoardLogger),
    lightning_imported=sorted(m for m in sys.modules if m.split(".")[0] == "lightning"),
)
"""


def site_without_tensorboard(root: Path) -> list[str]:
    """For each site-packages directory, one of symlinks to all its entries but the
    `tensorboard` and `tensorboardX` packages and their metadata (which Lightning reads
    to decide whether they are installed)."""
    dirs, seen = [], set()
    for i, path in enumerate(site.getsitepackages()):
        real = os.path.realpath(path)
        if real in seen or not os.path.isdir(real):
            continue
        seen.add(real)
        shadow = root / f"site{i}"
        shadow.mkdir(parents=True)
        for entry in os.listdir(real):
            name = entry.lower()
            project = name.split("-")[0] if name.endswith((".dist-info", ".egg-info")) else name
            if project not in ("tensorboard", "tensorboardx"):
                (shadow / entry).symlink_to(os.path.join(real, entry))
        dirs.append(str(shadow))
    return dirs


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


class Children:
    """The running children, by name; `wait(name)` returns one's CompletedProcess and
    its working directory. `ddp_spawn`, `no_tensorboard` and `example` need `lightning`,
    `without_lightning` needs `pytorch_lightning`; a name not started is not in `dirs`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dirs: dict[str, Path] = {}
        self._procs: dict[str, subprocess.Popen] = {}
        self._started = time.monotonic()

    @classmethod
    def start(cls, root: Path) -> Children:
        self = cls(root)
        body_env = {"PYTHONPATH": str(TESTS)}
        if _installed("lightning"):
            ddp = self._dir("ddp_spawn")
            (ddp / "ddp_model.py").write_text(DDP_MODEL)
            env = {"PYTHONPATH": os.pathsep.join([str(ddp), str(TESTS)])}
            self._script("ddp_spawn", DDP_SPAWN, [str(ddp / "logs")], env=env)
            notb = self._dir("no_tensorboard")
            shadows = site_without_tensorboard(notb / "shadow")
            argv = [str(notb / "logs"), *shadows]
            self._script("no_tensorboard", NO_TENSORBOARD, argv, flags=["-S"], env=body_env)
            self._dir("example")
            self._run("example", [sys.executable, str(EXAMPLE)], env=None)
        if _installed("pytorch_lightning"):
            self._dir("without_lightning")
            self._script("without_lightning", WITHOUT_LIGHTNING, [], env=body_env)
        return self

    def _dir(self, name: str) -> Path:
        path = self.root / name
        path.mkdir()
        self.dirs[name] = path
        return path

    def _script(
        self,
        name: str,
        body: str,
        argv: list[str],
        flags: Optional[list[str]] = None,
        env: Optional[dict] = None,
    ) -> None:
        text = script(body, watchdog=TIMEOUT - 15)
        self._run(name, [sys.executable, *(flags or []), "-c", text, *argv], env)

    def _run(self, name: str, argv: list[str], env: Optional[dict]) -> None:
        where = self.dirs[name]
        with open(where / "stdout", "wb") as out, open(where / "stderr", "wb") as err:
            self._procs[name] = subprocess.Popen(
                argv, cwd=where, stdout=out, stderr=err, env=child_env(env)
            )

    def wait(self, name: str) -> tuple[subprocess.CompletedProcess, Path]:
        proc, where = self._procs[name], self.dirs[name]
        deadline = self._started + TIMEOUT
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 1))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out = (where / "stdout").read_text(errors="replace")
        err = (where / "stderr").read_text(errors="replace")
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), where

    def stop(self) -> None:
        """Kills children still running (a test failed before waiting for its own)."""
        for proc in self._procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
