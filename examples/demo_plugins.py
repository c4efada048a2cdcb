"""The demo's plugin section (PR curve, hparams, embedding, graph)."""

from __future__ import annotations

from typing import Any


def log(writer: Any) -> None:
    """Logs the plugin examples into `writer` (filled in with the plugin methods)."""
