"""EPAS validation: a table of good and bad events for every event type."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from runtime.events import EVENT_NAMES
from runtime.ingest.validation import BodyError, Validator, new_event_id, raw_event

NOW_MS = 1_764_000_000_000
validator = Validator(max_batch_events=500, max_clock_skew_ms=300_000)

PAYLOADS: dict[str, dict[str, Any] | None] = {
    "bitrate_changed": {"bitrate": 4500, "width": 1920, "height": 1080},
    "stopped": {"reason": "ended"},
    "error": {"code": "MEDIA_ERR_DECODE", "category": "media", "message": "decode failed"},
    "warning": {"code": 1001},
    "metadata": {"live": False, "contentId": "c-42", "contentTitle": "Big Buck Bunny", "deviceType": "tv"},
}


def event(name: str, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event": name,
        "sessionId": "0c6f1e3a-5d1b-4f7e-9a53-2f1d7b9a8c10",
        "timestamp": NOW_MS,
        "playhead": 12.5,
        "duration": 3600,
    }
    if PAYLOADS.get(name) is not None:
        base["payload"] = PAYLOADS[name]
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def parse(document: Any) -> Any:
    return validator.parse(json.dumps(document).encode(), NOW_MS)


@pytest.mark.parametrize("name", sorted(EVENT_NAMES))
def test_every_event_type_is_accepted_in_its_spec_shape(name: str) -> None:
    parsed = parse(event(name))
    assert parsed.rejections == []
    (accepted,) = parsed.events
    assert accepted.sessionId == event(name)["sessionId"]


BAD_EVENTS = [
    # (case, event, field, reason fragment)
    ("unknown event name", event("rewind"), "event", "Invalid value 'rewind'"),
    ("no event name", event("playing", event=...), "event", "missing required field"),
    ("no sessionId", event("init", sessionId=...), "sessionId", "missing required field"),
    ("empty sessionId", event("init", sessionId=""), "sessionId", "length >= 1"),
    ("sessionId too long", event("heartbeat", sessionId="s" * 129), "sessionId", "length <= 128"),
    ("timestamp as text", event("loading", timestamp="now"), "timestamp", "Expected `int`, got `str`"),
    ("negative timestamp", event("loaded", timestamp=-1), "timestamp", ">= 0"),
    ("timestamp in seconds", event("playing", timestamp=1_764_000_000), "timestamp", "before 2015"),
    ("timestamp far in the future", event("paused", timestamp=NOW_MS + 3_600_000), "timestamp", "ahead of the server"),
    ("no playhead", event("resume", playhead=...), "playhead", "missing required field"),
    ("duration as text", event("buffering", duration="long"), "duration", "Expected `float`"),
    ("payload not an object", event("buffered", payload=[1, 2]), "payload", "Expected `object | null`"),
    ("seeking without a session", event("seeking", sessionId=None), "sessionId", "Expected `str`"),
    ("seeked with a text playhead", event("seeked", playhead="12"), "playhead", "Expected `float`"),
    ("bitrate_changed without payload", event("bitrate_changed", payload=...), "payload", "missing required field"),
    ("bitrate_changed without bitrate", event("bitrate_changed", payload={"width": 1}), "payload.bitrate",
     "missing required field"),
    ("negative bitrate", event("bitrate_changed", payload={"bitrate": -5}), "payload.bitrate", ">= 0"),
    ("stopped with an unknown reason", event("stopped", payload={"reason": "bored"}), "payload.reason",
     "Invalid enum value 'bored'"),
    ("stopped without payload", event("stopped", payload=...), "payload", "missing required field"),
    ("error without code", event("error", payload={"message": "x"}), "payload.code", "missing required field"),
    ("warning with a list code", event("warning", payload={"code": [1]}), "payload.code", "Expected `int | str`"),
    ("metadata with a text flag", event("metadata", payload={"live": "yes"}), "payload.live", "Expected `bool"),
    ("metadata title too long", event("metadata", payload={"contentTitle": "t" * 1025}), "payload.contentTitle",
     "length <= 1024"),
    ("init with a numeric sessionId", event("init", sessionId=42), "sessionId", "Expected `str`, got `int`"),
]  # fmt: skip


@pytest.mark.parametrize(("document", "field", "reason"), [c[1:] for c in BAD_EVENTS], ids=[c[0] for c in BAD_EVENTS])
def test_bad_event_is_rejected_naming_the_field(document: dict[str, Any], field: str, reason: str) -> None:
    parsed = parse(document)
    assert parsed.events == []
    (rejection,) = parsed.rejections
    assert rejection.field == field
    assert reason in rejection.reason
    assert rejection.index is None
    assert json.loads(rejection.original) == document


def test_a_mixed_batch_keeps_the_valid_events_and_names_each_invalid_index() -> None:
    batch = [event("init"), event("playing", timestamp="x"), event("heartbeat"), event("rewind"), event("stopped")]
    parsed = parse(batch)
    assert [type(e).__name__ for e in parsed.events] == ["Init", "Heartbeat", "Stopped"]
    assert [(r.index, r.field) for r in parsed.rejections] == [(1, "timestamp"), (3, "event")]
    assert json.loads(parsed.rejections[0].original) == batch[1]


def test_clock_rejections_in_a_batch_keep_their_original_index() -> None:
    batch = [event("rewind"), event("init"), event("playing", timestamp=NOW_MS + 10_000_000)]
    parsed = parse(batch)
    assert [(r.index, r.field) for r in parsed.rejections] == [(0, "event"), (2, "timestamp")]
    assert len(parsed.events) == 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "invalid_json"),
        (b"", 400, "invalid_json"),
        (b"[]", 400, "empty_batch"),
        (b'"init"', 400, "not_an_event"),
        (json.dumps([event("heartbeat")] * 501).encode(), 413, "too_many_events"),
    ],
)
def test_unusable_bodies_fail_as_a_whole(body: bytes, status: int, code: str) -> None:
    with pytest.raises(BodyError) as raised:
        validator.parse(body, NOW_MS)
    assert (raised.value.status, raised.value.code) == (status, code)


def test_raw_event_keeps_the_declared_fields_and_adds_the_server_context() -> None:
    (accepted,) = parse(event("bitrate_changed", extra="dropped")).events
    raw = json.loads(raw_event(accepted, "evt-1", {"receivedAt": NOW_MS, "region": "us-east-1"}))
    assert raw == {
        "event": "bitrate_changed",
        "sessionId": event("init")["sessionId"],
        "timestamp": NOW_MS,
        "playhead": 12.5,
        "duration": 3600.0,
        "payload": {"bitrate": 4500.0, "width": 1920, "height": 1080},
        "eventId": "evt-1",
        "server": {"receivedAt": NOW_MS, "region": "us-east-1"},
    }


def test_a_client_event_id_is_kept() -> None:
    (accepted,) = parse(event("init", eventId="client-7")).events
    assert json.loads(raw_event(accepted, "server-1", {}))["eventId"] == "client-7"


def test_an_empty_client_event_id_is_replaced_and_written_once() -> None:
    (accepted,) = parse(event("init", eventId="")).events
    encoded = raw_event(accepted, "server-1", {})
    assert encoded.count(b'"eventId"') == 1
    assert json.loads(encoded)["eventId"] == "server-1"


def test_new_event_ids_are_distinct_version_4_uuids() -> None:
    ids = [new_event_id() for _ in range(2_000)]
    assert len(set(ids)) == len(ids)
    for text in ids[:200]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
