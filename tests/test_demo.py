"""The demo (the README's main command) writes its run, says how to view it with a command
that works as printed, and names every section it skips for lack of an optional package."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from procs import child_env, describe_run

DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo.py"

# Runs the demo with some top-level packages made unimportable, as if not installed.
_HIDING_RUNNER = """
import importlib.abc, runpy, sys
hidden = set(sys.argv[1].split(","))
class _Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in hidden:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, _Hide())
sys.argv = [sys.argv[2], *sys.argv[3:]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def _run_demo(cwd: Path, *prefix: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, *prefix, str(DEMO), "--logdir", "runs/demo"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=child_env(),
    )
    assert proc.returncode == 0, describe_run(proc)
    return proc


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    cwd = tmp_path_factory.mktemp("demo")
    return cwd, _run_demo(cwd).stdout


def test_demo_skips_nothing_when_everything_is_installed(demo_run):
    _, stdout = demo_run
    assert "skipped" not in stdout


def test_view_hint_works_as_printed_from_another_directory(demo_run, tmp_path):
    cwd, stdout = demo_run
    (hint,) = [line for line in stdout.splitlines() if line.startswith("view it with:")]
    command = shlex.split(hint.split(":", 1)[1])
    assert Path(command[0]).is_absolute(), hint  # not whatever `tensorboard` PATH finds
    # --inspect makes TensorBoard read the run and print its tags instead of serving.
    proc = subprocess.run(
        [*command, "--inspect"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, describe_run(proc)
    assert str(cwd / "runs" / "demo") in proc.stdout
    for tag in ("y=2x", "0.weight.grad", "media/chirp", "run_14h"):
        assert tag in proc.stdout, proc.stdout


def test_demo_says_what_it_skipped_without_optional_packages(tmp_path):
    proc = _run_demo(tmp_path, "-c", _HIDING_RUNNER, "torch,matplotlib")
    skipped = [line for line in proc.stdout.splitlines() if line.startswith("skipped")]
    assert len(skipped) == 3, proc.stdout
    assert sum("pip install torch" in line for line in skipped) == 2
    assert sum("pip install matplotlib" in line for line in skipped) == 1
    assert any("add_figure" in line for line in skipped)
    assert any("add_graph" in line for line in skipped)
    assert list((tmp_path / "runs" / "demo").glob("events.out.tfevents.*"))
