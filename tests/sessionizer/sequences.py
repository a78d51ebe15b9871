"""Building EPAS event sequences and running them through the session tracker, for tests."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from runtime.sessionizer.playback import Event
from runtime.sessionizer.session import SessionSettings, Tracker

T0 = 1_764_000_000_000
SETTINGS = SessionSettings(
    environment="dev",
    region="us-east-1",
    allowed_lateness_ms=30_000,
    inactivity_gap_ms=15_000,
    update_interval_ms=10_000,
)
END_OF_TIME = 2**62


def ev(name: str, seconds: float, session: str = "s1", user_agent: str = "prism-web/3.1 (tv)", **payload: Any) -> Event:
    return Event(
        name=name,
        timestamp=T0 + round(seconds * 1000),
        session_id=session,
        payload=payload or None,
        user_agent=user_agent,
    )


def raw(event: Event) -> dict[str, Any]:
    """The raw-stream JSON of an event, as the ingest service writes it."""
    document: dict[str, Any] = {
        "event": event.name,
        "sessionId": event.session_id,
        "timestamp": event.timestamp,
        "playhead": 0,
        "duration": 3600,
        "server": {"userAgent": event.user_agent, "region": "us-east-1"},
    }
    if event.payload is not None:
        document["payload"] = dict(event.payload)
    return document


def final_record(events: Iterable[Event], settings: SessionSettings = SETTINGS) -> dict[str, Any]:
    """Arrival order as given, no watermark until the end: every event counts."""
    tracker = Tracker("s1")
    for event in events:
        assert tracker.accept(event, -(2**63), settings) is None
    assert tracker.advance(END_OF_TIME, settings)
    return tracker.record(settings)
