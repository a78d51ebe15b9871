"""Reading a raw-bucket object as Firehose writes it: one event per line, plain or gzip.

The object is streamed: lines are read as they arrive, never the whole object in memory.
A line that is not a JSON event (an object with a string ``sessionId`` and an integer
``timestamp``) is counted as malformed and skipped; a gzip stream that breaks off counts
as one more malformed line and ends the object. Neither stops a replay.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import msgspec

from runtime.events import PARTITION_KEY_FIELD
from runtime.firehose_objects import open_lines

_decode = msgspec.json.Decoder().decode


@dataclass
class ReadStats:
    lines: int = 0
    events: int = 0
    malformed: int = 0


def parse_event(line: bytes) -> dict[str, Any] | None:
    """The event of one line, or None when the line is not an event."""
    try:
        event = _decode(line)
    except msgspec.DecodeError:
        return None
    if type(event) is not dict:
        return None
    session_id, timestamp = event.get(PARTITION_KEY_FIELD), event.get("timestamp")
    # type() rather than isinstance(): a JSON true is not a timestamp
    if type(session_id) is not str or not session_id or type(timestamp) is not int:
        return None
    return event


def read_events(body: BinaryIO, stats: ReadStats) -> Iterator[dict[str, Any]]:
    """Events of one object, in the order they were written."""
    lines = open_lines(body)
    try:
        for line in lines:
            if not line.strip():
                continue
            stats.lines += 1
            event = parse_event(line)
            if event is None:
                stats.malformed += 1
                continue
            stats.events += 1
            yield event
    except (EOFError, OSError, zlib.error):  # a gzip stream cut short or corrupt
        stats.malformed += 1
