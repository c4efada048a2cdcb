"""Reading TensorBoard logs back: ``SummaryReader`` (tbparse's interface, pandas or numpy)
and ``read_events`` (the decoded events of one file). docs/reader.md has the details."""

from __future__ import annotations

from ._events import EventRecord, read_events
from ._load import Damage, EventFileDamageError, EventFileDamageWarning, FileReport
from .summary_reader import SummaryReader

__all__ = [
    "Damage",
    "EventFileDamageError",
    "EventFileDamageWarning",
    "EventRecord",
    "FileReport",
    "SummaryReader",
    "read_events",
]
