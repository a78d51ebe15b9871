"""The replay's transform: time shift keeps gaps, ids rewritten per salt and copy, whole sessions sampled."""

from __future__ import annotations

from collections import defaultdict

import pytest

from runtime.replay.transform import REPLAY_OF_FIELD, Transform
from tests.replay.objects import recorded_events

NOW = 1_800_000_000_000


def test_the_shift_moves_every_timestamp_alike_so_gaps_are_kept() -> None:
    events = recorded_events(3)
    transform = Transform(shift_ms=123_456, salt="a")
    shifted = [copy for event in events for copy in transform.copies(event, NOW)]
    assert [e["timestamp"] - o["timestamp"] for e, o in zip(shifted, events, strict=True)] == [123_456] * len(events)
    assert all(e["server"]["receivedAt"] == NOW for e in shifted), "a replayed event arrives now"
    assert all(e["server"]["country"] == "NL" for e in shifted), "the other server fields stay"


def test_rewritten_ids_are_deterministic_per_salt_and_distinct_across_copies() -> None:
    events = recorded_events(4)
    three = Transform(0, "salt-1", multiplier=3)
    first = [c["sessionId"] for e in events for c in three.copies(e, NOW)]
    again = [c["sessionId"] for e in events for c in three.copies(e, NOW)]
    assert first == again, "the same run maps a session to the same ids"
    assert len(set(first)) == 4 * 3, "each copy of each session is a session of its own"
    other_salt = {c["sessionId"] for e in events for c in Transform(0, "salt-2", multiplier=3).copies(e, NOW)}
    assert not other_salt & set(first)
    originals = defaultdict(set)
    for event in events:
        for copy in three.copies(event, NOW):
            originals[copy["sessionId"]].add(copy["server"][REPLAY_OF_FIELD])
            assert len(copy["sessionId"]) <= 128, "the ingest service's limit"
    assert all(len(ids) == 1 for ids in originals.values()), "one new id, one original session"


def test_copies_carry_distinct_event_ids() -> None:
    (event,) = recorded_events(1)[:1]
    copies = list(Transform(0, "s", multiplier=2).copies(event, NOW))
    assert copies[0]["eventId"] != copies[1]["eventId"]


def test_sampling_keeps_or_drops_whole_sessions() -> None:
    events = recorded_events(2_000)
    transform = Transform(0, "sample-salt", sample=0.25)
    kept: defaultdict[str, int] = defaultdict(int)
    for event in events:
        for copy in transform.copies(event, NOW):
            kept[copy["server"][REPLAY_OF_FIELD]] += 1
    assert set(kept.values()) == {6}, "a kept session keeps all its events"
    assert 400 < len(kept) < 600, f"about a quarter of 2,000 sessions, got {len(kept)}"


@pytest.mark.parametrize(("multiplier", "sample"), [(0, 1.0), (1, 0.0), (1, 1.5)])
def test_a_bad_transform_is_refused(multiplier: int, sample: float) -> None:
    with pytest.raises(ValueError):
        Transform(0, "s", multiplier, sample)
