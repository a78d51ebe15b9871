"""Raw-bucket objects as Firehose writes them, for the replay tests and the benchmark."""

from __future__ import annotations

import gzip
import json
from typing import Any

T0 = 1_796_025_600_000  # 2026-11-30T08:00:00Z
EVENT_NAMES = ("init", "loading", "playing", "heartbeat", "heartbeat", "stopped")


def recorded_events(sessions: int, first_ms: int = T0, session_prefix: str = "s") -> list[dict[str, Any]]:
    """Each session's events a few seconds apart, sessions interleaved as they arrive."""
    events = []
    for step, name in enumerate(EVENT_NAMES):
        for session in range(sessions):
            at = first_ms + session * 100 + step * 5_000
            events.append({
                "event": name, "sessionId": f"{session_prefix}{session}", "timestamp": at - 40, "playhead": step,
                "duration": 600, "eventId": f"{session_prefix}{session}-{step}",
                "server": {"receivedAt": at, "country": "NL"},
                **({"payload": {"reason": "ended"}} if name == "stopped" else {}),
            })  # fmt: skip
    return events


def object_bytes(events: list[dict[str, Any]], gzipped: bool = True, extra_lines: tuple[bytes, ...] = ()) -> bytes:
    lines = b"".join(json.dumps(event).encode() + b"\n" for event in events) + b"".join(extra_lines)
    return gzip.compress(lines) if gzipped else lines
