"""A stand-in for `torch.cuda.Event` and for CUDA tensors, to drive the GPU path on CPU.

`FakeEvents` replaces the path's event pool: each enqueued entry gets a `FakeEvent` whose
`query()` the test controls (the GPU work has or has not run yet). `no_sync(t)` wraps a
CPU tensor so that reading it on the host (`.cpu()`, `.item()`, `.numpy()`, ...) raises,
as a CUDA tensor's read would synchronize: the GPU path must never do that.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import ferroboard
import pytest
import torch
from ferroboard import _device_path

#: The start of a child process's script (see procs.run_child): CPU tensors routed through
#: the GPU path with events that never complete, whose ``synchronize()`` raises a CUDA
#: error when ``{fail}`` is True; ``w`` is a writer on ``{logdir}``. Format it with both.
CHILD_EVENTS_NEVER_DONE = """
import ferroboard, torch
from ferroboard import _device_path

class Event:
    def query(self):
        return False
    def synchronize(self):
        if {fail}:
            raise RuntimeError("CUDA error: unspecified launch failure")

class Events:
    def record(self, torch, device):
        return Event()
    def give(self, event):
        pass

_device_path._route_cpu = True
_device_path._EVENTS = Events()
w = ferroboard.SummaryWriter({logdir!r})
"""


def host_reference(path: Any, log: Callable[[ferroboard.SummaryWriter, Callable], None]) -> None:
    """Writes with the host path: the same tensors, not routed through the GPU path."""
    routed = _device_path._route_cpu
    _device_path._route_cpu = False
    try:
        with ferroboard.SummaryWriter(str(path)) as w:
            log(w, lambda t: t)
    finally:
        _device_path._route_cpu = routed


class FakeEvent:
    """A completion event: done when the test says so (or when waited for)."""

    def __init__(self) -> None:
        self.done = False
        self.error: Exception | None = None
        self.queries = 0
        self.waits = 0
        self.pid = os.getpid()

    def query(self) -> bool:
        self._same_process()
        self.queries += 1
        if self.error is not None:
            raise self.error
        return self.done

    def synchronize(self) -> None:
        self._same_process()
        self.waits += 1
        if self.error is not None:
            raise self.error
        self.done = True

    def _same_process(self) -> None:
        if os.getpid() != self.pid:
            os._exit(17)  # a forked child touched its parent's event


class FakeEvents:
    """Stands in for the event pool: one new FakeEvent per enqueued entry."""

    def __init__(self) -> None:
        self.made: list[FakeEvent] = []

    def record(self, _torch: Any, _device: Any) -> FakeEvent:
        event = FakeEvent()
        self.made.append(event)
        return event

    def give(self, _event: Any) -> None:
        pass


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> FakeEvents:
    monkeypatch.setattr(_device_path, "_route_cpu", True)
    fakes = FakeEvents()
    monkeypatch.setattr(_device_path, "_EVENTS", fakes)
    return fakes


def install(monkeypatch: pytest.MonkeyPatch) -> FakeEvents:
    """Routes CPU tensors through the GPU path, with fake events (a test's fixture)."""
    monkeypatch.setattr(_device_path, "_route_cpu", True)
    fakes = FakeEvents()
    monkeypatch.setattr(_device_path, "_EVENTS", fakes)
    return fakes


class SyncError(AssertionError):
    """A host read of a tensor standing for a CUDA one: that read would synchronize."""


def _refuse(name: str) -> Any:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise SyncError(f"synchronizing call .{name}() on a tensor standing for a CUDA one")

    return method


class NoSync(torch.Tensor):
    """A CPU tensor standing for a CUDA one: every host read raises `SyncError`.

    Torch ops on it (detach, reshape, contiguous, copy_ into a buffer) work and keep the
    subclass, as they would enqueue device work. Its module name starts with "torch",
    like every real tensor's, so ferroboard treats it as a torch tensor.
    """

    __module__ = "torch.no_sync_stand_in"

    cpu = _refuse("cpu")
    item = _refuse("item")
    numpy = _refuse("numpy")
    tolist = _refuse("tolist")
    __array__ = _refuse("__array__")
    __float__ = _refuse("__float__")
    __int__ = _refuse("__int__")
    __bool__ = _refuse("__bool__")
    __index__ = _refuse("__index__")


def no_sync(t: torch.Tensor) -> torch.Tensor:
    return t.as_subclass(NoSync)
