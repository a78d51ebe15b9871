"""Validation benchmark: the ingest schema in msgspec (what the service uses) against pydantic v2.

    .venv/bin/python -m bench.validation      (pydantic comes with the dev extra)

Both decode and validate the same bodies into typed events (the EPAS base fields,
the per-event payload rules, a tagged union on "event"). Prints events/s; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

from bench.results import Figure, add_reference_option, record
from runtime.ingest.validation import Validator

NOW_MS = int(time.time() * 1000)
Generic = Literal["init", "heartbeat", "loading", "loaded", "playing", "paused", "resume", "buffering", "buffered",
                  "seeking", "seeked"]  # fmt: skip


class _Base(BaseModel):
    sessionId: Annotated[str, Field(min_length=1, max_length=128)]
    timestamp: Annotated[int, Field(ge=0)]
    playhead: float
    duration: float
    shardId: Annotated[str, Field(max_length=256)] | None = None
    eventId: Annotated[str, Field(max_length=256)] | None = None


class GenericEvent(_Base):
    event: Generic
    payload: dict[str, Any] | None = None


class BitratePayload(BaseModel):
    bitrate: Annotated[float, Field(ge=0)]
    width: Annotated[int, Field(ge=0, le=65535)] | None = None
    height: Annotated[int, Field(ge=0, le=65535)] | None = None


class BitrateChanged(_Base):
    event: Literal["bitrate_changed"]
    payload: BitratePayload


class StoppedPayload(BaseModel):
    reason: Literal["ended", "aborted", "error", "unknown"]


class Stopped(_Base):
    event: Literal["stopped"]
    payload: StoppedPayload


class ProblemPayload(BaseModel):
    code: Annotated[str, Field(max_length=256)] | int
    category: str | None = None
    message: Annotated[str, Field(max_length=1024)] | None = None


class Problem(_Base):
    event: Literal["error", "warning"]
    payload: ProblemPayload


class MetadataPayload(BaseModel):
    live: bool | None = None
    contentId: str | None = None
    contentTitle: str | None = None
    deviceType: str | None = None


class Metadata(_Base):
    event: Literal["metadata"]
    payload: MetadataPayload | None = None


Event = Annotated[GenericEvent | BitrateChanged | Stopped | Problem | Metadata, Field(discriminator="event")]
pydantic_batch = TypeAdapter(list[Event])


def body(events: int) -> bytes:
    kinds: list[dict[str, Any]] = [
        {"event": "heartbeat"},
        {"event": "bitrate_changed", "payload": {"bitrate": 4500, "width": 1920, "height": 1080}},
        {"event": "playing"},
        {"event": "metadata", "payload": {"live": False, "contentId": "c-1", "deviceType": "tv"}},
        {"event": "stopped", "payload": {"reason": "ended"}},
    ]
    return json.dumps(
        [
            {"sessionId": f"s-{i}", "timestamp": NOW_MS, "playhead": 12.5, "duration": 3600, **kinds[i % len(kinds)]}
            for i in range(events)
        ]
    ).encode()


def rate(fn: Any, payload: bytes, events: int, seconds: float = 2.0) -> float:
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(100):
            fn(payload)
        done += 100
    return done * events / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_reference_option(parser)
    args = parser.parse_args()
    figures = []
    validator = Validator(max_batch_events=500, max_clock_skew_ms=300_000)
    print("validation benchmark: decode + validate into typed events, one core")
    print(f"{'events/body':>11} {'msgspec ev/s':>13} {'pydantic ev/s':>14} {'ratio':>6}")
    for events in (1, 20, 500):
        payload = body(events)
        assert len(validator.parse(payload, NOW_MS).events) == events
        assert len(pydantic_batch.validate_json(payload)) == events
        fast = rate(lambda b: validator.parse(b, NOW_MS), payload, events)
        slow = rate(pydantic_batch.validate_json, payload, events)
        print(f"{events:11d} {fast:13,.0f} {slow:14,.0f} {fast / slow:6.1f}")
        workload = f"~300-byte events, {events} per body, one core"
        figures.append(Figure(f"validated_events_per_second_{events}_per_body", round(fast), "events/s per core",
                              workload))  # fmt: skip
    record("validation", figures, args.reference)


if __name__ == "__main__":
    main()
