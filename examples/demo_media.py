"""The demo's media section (images, a figure, audio, a video)."""

from __future__ import annotations

from typing import Any


def log(writer: Any) -> None:
    """Logs the media examples into `writer` (filled in with the media methods)."""
