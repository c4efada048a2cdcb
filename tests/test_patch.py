"""`ferroboard.patch()` and `FERROBOARD_PATCH=1`: existing code gets ferroboard's writers.

Every case runs in a fresh interpreter, because what matters is which modules are already
imported when `patch()` runs, and whether it imports any itself.
"""

from __future__ import annotations

from ferroboard.patching import TARGETS
from procs import describe_run, read_events, result, run_child

# A finder that makes the named top-level packages look uninstalled.
_HIDE = """
import importlib.abc, sys
class _Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {hidden!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, _Hide())
"""


def _run(body: str, *args: str, env: dict | None = None) -> dict:
    proc = run_child(body, *args, env=env)
    assert proc.returncode == 0, describe_run(proc)
    return result(proc)


def test_patch_before_import_replaces_classes_at_their_first_import():
    got = _run(
        """
        import ferroboard
        handle = ferroboard.patch()
        imported_by_patch = sorted(m for m in ("torch", "tensorboardX") if m in sys.modules)
        from torch.utils.tensorboard import SummaryWriter, FileWriter
        import torch.utils.tensorboard.writer as torch_writer
        import tensorboardX, tensorboardX.writer, tensorboardX.global_writer
        report(
            imported_by_patch=imported_by_patch,
            torch_sw=SummaryWriter is ferroboard.SummaryWriter,
            torch_fw=FileWriter is ferroboard.FileWriter,
            torch_writer_sw=torch_writer.SummaryWriter is ferroboard.SummaryWriter,
            torch_writer_fw=torch_writer.FileWriter is ferroboard.FileWriter,
            tbx_sw=tensorboardX.SummaryWriter is ferroboard.SummaryWriter,
            tbx_fw=tensorboardX.FileWriter is ferroboard.FileWriter,
            tbx_writer_sw=tensorboardX.writer.SummaryWriter is ferroboard.SummaryWriter,
            tbx_global=tensorboardX.GlobalSummaryWriter is ferroboard.GlobalSummaryWriter,
            patched=handle.patched,
        )
        """
    )
    assert got.pop("imported_by_patch") == []
    assert got.pop("patched") == sorted(
        f"{module}.{name}" for module, names in TARGETS.items() for name in names
    )
    assert got == {k: True for k in got}, got


def test_patch_after_import_replaces_classes_and_undo_restores_them():
    got = _run(
        """
        import torch.utils.tensorboard as tb, torch.utils.tensorboard.writer as tbw
        import tensorboardX
        originals = (tb.SummaryWriter, tb.FileWriter, tbw.SummaryWriter, tensorboardX.SummaryWriter,
                     tensorboardX.FileWriter, tensorboardX.GlobalSummaryWriter)
        import ferroboard
        with ferroboard.patch() as handle:
            during = (tb.SummaryWriter is ferroboard.SummaryWriter,
                      tbw.FileWriter is ferroboard.FileWriter,
                      tensorboardX.GlobalSummaryWriter is ferroboard.GlobalSummaryWriter)
        after = (tb.SummaryWriter, tb.FileWriter, tbw.SummaryWriter, tensorboardX.SummaryWriter,
                 tensorboardX.FileWriter, tensorboardX.GlobalSummaryWriter)
        report(during=during, restored=after == originals, active=handle.active,
               torch_module=tb.SummaryWriter.__module__)
        """
    )
    assert got["during"] == [True, True, True]
    assert got["restored"] is True
    assert got["active"] is False
    assert got["torch_module"] == "torch.utils.tensorboard.writer"


def test_undo_also_stops_patching_later_imports():
    got = _run(
        """
        import ferroboard
        ferroboard.patch().undo()
        from torch.utils.tensorboard import SummaryWriter
        import tensorboardX
        report(torch=SummaryWriter.__module__, tbx=tensorboardX.SummaryWriter.__module__,
               finders=sum(type(f).__name__ == "_PatchingFinder" for f in sys.meta_path))
        """
    )
    assert got == {
        "torch": "torch.utils.tensorboard.writer",
        "tbx": "tensorboardX.writer",
        "finders": 0,
    }


def test_patch_is_idempotent():
    got = _run(
        """
        import ferroboard, tensorboardX
        original = tensorboardX.SummaryWriter
        first, second = ferroboard.patch(), ferroboard.patch()
        same = first is second
        first.undo()
        second.undo()  # already undone: nothing to do
        third = ferroboard.patch()
        fresh = third is not first and tensorboardX.SummaryWriter is ferroboard.SummaryWriter
        third.undo()
        report(same=same, fresh=fresh, restored=tensorboardX.SummaryWriter is original,
               finders=sum(type(f).__name__ == "_PatchingFinder" for f in sys.meta_path))
        """
    )
    assert got == {"same": True, "fresh": True, "restored": True, "finders": 0}


def test_patched_torch_code_writes_through_ferroboard(tmp_path):
    """Unchanged torch-style code writes events that ferroboard produced."""
    got = _run(
        """
        import ferroboard
        ferroboard.patch()
        from torch.utils.tensorboard import SummaryWriter
        import torch
        with SummaryWriter(sys.argv[1]) as writer:
            for step in range(3):
                writer.add_scalar("loss", 1.0 / (step + 1), step)
            writer.add_histogram("w", torch.arange(10.0), 0)
        report(cls=type(writer).__module__)
        """,
        str(tmp_path),
    )
    assert got["cls"] == "ferroboard.writer"
    (path,) = tmp_path.glob("events.out.tfevents.*")
    events = read_events(path)
    tags = [v.tag for e in events for v in e.summary.value]
    assert tags == ["loss", "loss", "loss", "w"]
    assert [e.step for e in events[:3]] == [0, 1, 2]


def test_patch_imports_nothing_when_torch_and_tensorboardx_are_missing():
    got = _run(
        _HIDE.format(hidden={"torch", "tensorboardX"})
        + """
import ferroboard
handle = ferroboard.patch()
try:
    import tensorboardX
    tbx_error = None
except ModuleNotFoundError as exc:
    tbx_error = exc.name
report(tbx_error=tbx_error, patched=handle.patched,
       loaded=sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "tensorboardX")))
"""
    )
    assert got == {"tbx_error": "tensorboardX", "patched": [], "loaded": []}


def test_environment_variable_patches_when_ferroboard_is_imported():
    got = _run(
        """
        import ferroboard
        from torch.utils.tensorboard import SummaryWriter
        import tensorboardX
        report(torch=SummaryWriter is ferroboard.SummaryWriter,
               tbx=tensorboardX.SummaryWriter is ferroboard.SummaryWriter)
        """,
        env={"FERROBOARD_PATCH": "1"},
    )
    assert got == {"torch": True, "tbx": True}


def test_environment_variable_alone_does_not_patch():
    """No .pth magic: without an import of ferroboard, torch's writer stays torch's."""
    got = _run(
        """
        from torch.utils.tensorboard import SummaryWriter
        report(module=SummaryWriter.__module__, ferroboard=("ferroboard" in sys.modules))
        """,
        env={"FERROBOARD_PATCH": "1"},
    )
    assert got == {"module": "torch.utils.tensorboard.writer", "ferroboard": False}


def test_environment_variable_zero_and_garbage():
    got = _run(
        """
        import ferroboard
        from torch.utils.tensorboard import SummaryWriter
        report(module=SummaryWriter.__module__)
        """,
        env={"FERROBOARD_PATCH": "0"},
    )
    assert got == {"module": "torch.utils.tensorboard.writer"}
    proc = run_child("import ferroboard", env={"FERROBOARD_PATCH": "maybe"})
    assert proc.returncode != 0
    assert "FERROBOARD_PATCH must be 1 or 0" in proc.stderr and "'maybe'" in proc.stderr
