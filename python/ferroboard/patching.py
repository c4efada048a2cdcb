"""`ferroboard.patch()`: make existing code that uses torch's or tensorboardX's writer use
ferroboard, without editing it.

The writer classes are replaced by name in the modules where code looks them up. A module
that is already imported is patched at once; one that is not is patched the moment it is
first imported, by a finder on `sys.meta_path` that wraps its loader. So `patch()` never
imports torch or tensorboardX itself: a program that never uses them pays nothing, and one
where they are not installed is left alone.

What cannot be patched: a name copied before `patch()` ran
(`from torch.utils.tensorboard import SummaryWriter` executed earlier keeps torch's class).
Call `patch()` first thing, or set `FERROBOARD_PATCH=1` and import ferroboard first.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import threading
from collections.abc import Sequence
from types import ModuleType
from typing import Any, Callable, Optional

#: Module → attribute names replaced there. Each attribute is replaced by ferroboard's class
#: of the same name.
TARGETS: dict[str, tuple[str, ...]] = {
    "torch.utils.tensorboard": ("SummaryWriter", "FileWriter"),
    "torch.utils.tensorboard.writer": ("SummaryWriter", "FileWriter"),
    "tensorboardX": ("SummaryWriter", "FileWriter", "GlobalSummaryWriter"),
    "tensorboardX.writer": ("SummaryWriter", "FileWriter"),
    "tensorboardX.global_writer": ("GlobalSummaryWriter",),
}

_lock = threading.RLock()


def _replacement(name: str) -> Any:
    import ferroboard  # the package is imported by the time any patching runs

    return getattr(ferroboard, name)


class _PatchingLoader(importlib.abc.Loader):
    """Runs the real loader, then patches the freshly executed module."""

    def __init__(self, loader: Any, on_loaded: Callable[[ModuleType], None]) -> None:
        self._loader = loader
        self._on_loaded = on_loaded

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Optional[ModuleType]:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        self._on_loaded(module)

    def __getattr__(self, name: str) -> Any:
        # get_source, is_package, get_resource_reader...: the real loader answers.
        return getattr(self._loader, name)


class _PatchingFinder(importlib.abc.MetaPathFinder):
    """Finds the target modules through the other finders and wraps their loaders."""

    def __init__(self, patch: Patch) -> None:
        self._patch = patch

    def find_spec(
        self, fullname: str, path: Optional[Sequence[str]], target: Optional[ModuleType] = None
    ) -> Optional[importlib.machinery.ModuleSpec]:
        if fullname not in TARGETS:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None  # not installed: let the import fail as it would have
        if spec.loader is not None:
            spec.loader = _PatchingLoader(spec.loader, self._patch._apply)
        return spec


class Patch:
    """What `patch()` returns: `undo()` (or leaving a `with` block) restores the originals."""

    def __init__(self) -> None:
        self._originals: dict[tuple[str, str], Any] = {}
        self._finder = _PatchingFinder(self)
        self.active = False

    def _start(self) -> None:
        self.active = True
        sys.meta_path.insert(0, self._finder)
        for name in TARGETS:
            module = sys.modules.get(name)
            if module is not None:
                self._apply(module)

    def _apply(self, module: ModuleType) -> None:
        with _lock:
            if not self.active:
                return  # undone between the import's start and its end
            for attr in TARGETS.get(module.__name__, ()):
                if not hasattr(module, attr):
                    continue  # an older release without this class
                key = (module.__name__, attr)
                self._originals.setdefault(key, getattr(module, attr))
                setattr(module, attr, _replacement(attr))

    @property
    def patched(self) -> list[str]:
        """`module.attribute` names replaced so far (modules imported later add theirs)."""
        return sorted(f"{m}.{a}" for m, a in self._originals)

    def undo(self) -> None:
        """Restores every replaced class and stops patching later imports. Idempotent."""
        global _current
        with _lock:
            if not self.active:
                return
            self.active = False
            if self._finder in sys.meta_path:
                sys.meta_path.remove(self._finder)
            for (module_name, attr), original in self._originals.items():
                module = sys.modules.get(module_name)
                if module is not None:
                    setattr(module, attr, original)
            self._originals.clear()
            if _current is self:
                _current = None

    def __enter__(self) -> Patch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.undo()

    def __repr__(self) -> str:
        state = "active" if self.active else "undone"
        return f"<ferroboard.Patch {state}: {', '.join(self.patched) or 'nothing imported yet'}>"


_current: Optional[Patch] = None


def patch() -> Patch:
    """Makes `torch.utils.tensorboard` and `tensorboardX` hand out ferroboard's writers.

    Replaces `SummaryWriter` and `FileWriter` in `torch.utils.tensorboard`,
    `torch.utils.tensorboard.writer`, `tensorboardX` and `tensorboardX.writer`, and
    `GlobalSummaryWriter` in `tensorboardX` — now for those already imported, at their
    import for the others. Imports neither package. Calling it again while a patch is active
    returns the same handle; `handle.undo()` restores the originals.
    """
    global _current
    with _lock:
        if _current is None or not _current.active:
            _current = Patch()
            _current._start()
        return _current


def patch_from_environment(value: Optional[str]) -> Optional[Patch]:
    """`FERROBOARD_PATCH=1` (or true/yes/on) patches when ferroboard is imported."""
    if value is None or value.strip().lower() in ("", "0", "false", "no", "off"):
        return None
    if value.strip().lower() in ("1", "true", "yes", "on"):
        return patch()
    raise ValueError(f"FERROBOARD_PATCH must be 1 or 0 (true/false), got {value!r}")
