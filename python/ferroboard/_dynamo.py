"""Keeping torch.compile (Dynamo) out of the writer.

Traced into, a writer call would be turned into graph code: its checks run on fake
tensors, its host copies and events would be captured, and each call could recompile.
So the public methods carry the attribute Dynamo looks for on functions it is about to
inline (`_torchdynamo_disable`, what `torch.compiler.disable` sets), which makes it break
the graph at the call and run the call eagerly; and once Dynamo is loaded, ferroboard's
files join its skip list, so no frame of ferroboard is compiled on its own either.
Neither costs anything per call (a wrapper from `torch.compiler.disable` costs ~0.35 µs,
as much as a whole `add_scalar`), and neither imports torch.
"""

from __future__ import annotations

import sys
from typing import Any

_registered = False


def mark(cls: type) -> type:
    """Marks `cls`'s public writer methods as not to be traced."""
    for name in dir(cls):
        if name.startswith("add_") or name in ("flush", "close", "poll"):
            member = getattr(cls, name)
            if callable(member):
                # On the function itself (mixins' too), where Dynamo looks.
                getattr(member, "__func__", member)._torchdynamo_disable = True
    return cls


def skip_files() -> None:
    """Adds ferroboard's files to Dynamo's skip list, once Dynamo is loaded."""
    global _registered
    if _registered:
        return
    dynamo = sys.modules.get("torch._dynamo")
    if dynamo is None:
        return
    _registered = True
    try:
        dynamo.trace_rules.add("ferroboard")
    except Exception:  # noqa: BLE001 - a private API that moved: the marks still hold
        pass


def is_skipped(filename: str) -> Any:
    """Dynamo's own verdict on `filename` (for tests)."""
    return sys.modules["torch._dynamo"].trace_rules.check_file(filename)
