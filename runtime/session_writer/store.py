"""What the handler writes session records through: a store takes a batch, says which failed.

Timestream for LiveAnalytics (timestream.py) is the implementation; another store
(Timestream for InfluxDB) implements the same protocol without touching the handler.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from runtime.session_writer.records import SessionRecord


@dataclass
class WriteOutcome:
    """Per batch: which records (by position) failed and why; counters for metrics."""

    failed: dict[int, str] = field(default_factory=dict)  # position -> reason
    written: int = 0
    superseded: int = 0  # the store already had a newer (or the same) version: success
    calls: int = 0
    throttled: int = 0


class SessionRecordStore(Protocol):
    def write(self, records: Sequence[SessionRecord]) -> WriteOutcome: ...
