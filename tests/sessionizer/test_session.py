"""The session tracker: watermark horizon, late events, versions, timeouts and the tombstone."""

from __future__ import annotations

import pickle

from runtime.events import LATE_RECORD_FIELDS, SESSION_RECORD_FIELDS
from runtime.sessionizer.session import NO_WATERMARK, Tracker, late_record, next_update_time
from tests.sessionizer.sequences import SETTINGS, T0, ev

LATENESS = SETTINGS.allowed_lateness_ms


def watermark_at(seconds: float) -> int:
    return T0 + round(seconds * 1000)


def test_an_event_within_the_lateness_behind_the_watermark_still_counts() -> None:
    tracker = Tracker("s1")
    assert tracker.accept(ev("init", 0), NO_WATERMARK, SETTINGS) is None
    # The watermark is at 29 s, the event at 0.5 s: 28.5 s behind, within the 30 s lateness.
    assert tracker.accept(ev("loading", 0.5), watermark_at(29), SETTINGS) is None
    assert [e.name for e in tracker.pending] == ["init", "loading"]


def test_an_event_behind_the_horizon_is_late_and_not_applied() -> None:
    tracker = Tracker("s1")
    tracker.accept(ev("init", 0), NO_WATERMARK, SETTINGS)
    tracker.accept(ev("playing", 40), NO_WATERMARK, SETTINGS)
    assert tracker.accept(ev("buffering", 5), watermark_at(40), SETTINGS) == "behind_watermark"
    assert all(e.name != "buffering" for e in tracker.pending)
    tracker.advance(watermark_at(200), SETTINGS)
    assert tracker.record(SETTINGS)["rebufferCount"] == 0


def test_the_horizon_seals_events_strictly_before_it() -> None:
    tracker = Tracker("s1")
    tracker.accept(ev("init", 0), NO_WATERMARK, SETTINGS)
    tracker.accept(ev("playing", 1), NO_WATERMARK, SETTINGS)
    seal_at = T0 + LATENESS + 1  # the horizon is past init
    assert not tracker.advance(seal_at - 1, SETTINGS)
    assert [e.name for e in tracker.pending] == ["init", "playing"]
    assert not tracker.advance(seal_at, SETTINGS)
    assert [e.name for e in tracker.pending] == ["playing"]
    assert tracker.playback.first_event_ms == T0
    # An event at the same millisecond as the sealed one can no longer be placed before it.
    assert tracker.accept(ev("loading", 0), seal_at, SETTINGS) == "behind_watermark"


def test_a_duplicate_of_a_pending_event_counts_once_and_of_a_sealed_one_is_late() -> None:
    tracker = Tracker("s1")
    tracker.accept(ev("init", 0), NO_WATERMARK, SETTINGS)
    assert tracker.accept(ev("init", 0), NO_WATERMARK, SETTINGS) is None
    assert len(tracker.pending) == 1
    tracker.advance(watermark_at(31), SETTINGS)
    assert tracker.accept(ev("init", 0), watermark_at(31), SETTINGS) == "behind_watermark"


def test_update_records_look_ahead_at_pending_events_and_versions_increase() -> None:
    tracker = Tracker("s1")
    for event in (ev("init", 0), ev("loading", 0.2), ev("playing", 1.2), ev("heartbeat", 6)):
        tracker.accept(event, NO_WATERMARK, SETTINGS)
    first = tracker.record(SETTINGS)
    assert tuple(first) == SESSION_RECORD_FIELDS
    assert first["version"] == 2 * 4  # four events taken
    assert first["final"] is False
    assert first["state"] == "playing"
    assert first["startupMs"] == 1000
    assert first["playingMs"] == 4800
    assert first["updateTime"] == first["lastEventTime"] == T0 + 6000
    assert tracker.pending, "a look ahead must not seal anything"
    assert not tracker.changed
    assert (tracker.accept(ev("paused", 8), watermark_at(8), SETTINGS), tracker.changed) == (None, True)
    second = tracker.record(SETTINGS)
    assert (second["version"], second["state"], second["playingMs"]) == (2 * 5, "paused", 6800)


def test_a_silent_session_times_out_after_the_gap_and_the_tombstone_marks_stragglers() -> None:
    tracker = Tracker("s1")
    for event in (ev("init", 0), ev("playing", 1), ev("heartbeat", 5)):
        tracker.accept(event, NO_WATERMARK, SETTINGS)
    assert not tracker.advance(watermark_at(5 + 30 + 1), SETTINGS)  # sealed, gap not over
    timeout_at = tracker.end_check_time(SETTINGS)
    assert timeout_at == T0 + 5000 + SETTINGS.inactivity_gap_ms + LATENESS
    assert not tracker.advance(timeout_at - 1, SETTINGS)
    assert tracker.advance(timeout_at, SETTINGS)
    final = tracker.record(SETTINGS)
    assert (final["final"], final["endReason"], final["playingMs"], final["version"]) == (True, "timeout", 4000, 7)
    tracker.to_tombstone()
    assert tracker.final and tracker.finalised_at_ms == T0 + 5000
    assert not tracker.pending and tracker.playback.first_event_ms is None
    assert tracker.end_check_time(SETTINGS) is None
    assert tracker.accept(ev("heartbeat", 60), timeout_at, SETTINGS) == "session_finalised"
    assert not tracker.advance(timeout_at + 10_000, SETTINGS)


def test_stopped_finalises_once_the_horizon_passes_it() -> None:
    tracker = Tracker("s1")
    for event in (ev("init", 0), ev("playing", 1), ev("stopped", 3, reason="ended")):
        tracker.accept(event, NO_WATERMARK, SETTINGS)
    assert tracker.end_check_time(SETTINGS) == T0 + 3000 + LATENESS + 1
    assert tracker.accept(ev("heartbeat", 2), watermark_at(3), SETTINGS) is None  # still on time
    assert tracker.advance(watermark_at(3 + 30) + 1, SETTINGS)
    record = tracker.record(SETTINGS)
    assert (record["endReason"], record["playingMs"], record["lastEventTime"]) == ("ended", 2000, T0 + 3000)


def test_the_end_check_follows_the_newest_event_until_an_end_event_is_pending() -> None:
    """One timer per session, not per event: only the session's end needs one."""
    tracker = Tracker("s1")
    assert tracker.end_check_time(SETTINGS) is None  # nothing to end
    gap_and_lateness = SETTINGS.inactivity_gap_ms + LATENESS
    tracker.accept(ev("init", 0), NO_WATERMARK, SETTINGS)
    tracker.accept(ev("playing", 1), NO_WATERMARK, SETTINGS)
    assert tracker.end_check_time(SETTINGS) == T0 + 1000 + gap_and_lateness  # pending only
    tracker.advance(watermark_at(32), SETTINGS)  # both sealed
    assert not tracker.pending and tracker.end_check_time(SETTINGS) == T0 + 1000 + gap_and_lateness
    tracker.accept(ev("heartbeat", 6), watermark_at(32), SETTINGS)  # newer pending than sealed
    assert tracker.end_check_time(SETTINGS) == T0 + 6000 + gap_and_lateness
    tracker.accept(ev("error", 4, code="E"), watermark_at(32), SETTINGS)  # ends before the heartbeat
    assert tracker.end_check_time(SETTINGS) == T0 + 4000 + LATENESS + 1
    assert not tracker.advance(T0 + 4000 + LATENESS, SETTINGS)
    assert tracker.advance(T0 + 4000 + LATENESS + 1, SETTINGS)
    assert tracker.record(SETTINGS)["endReason"] == "error"


def test_a_late_record_wraps_the_event_unchanged() -> None:
    event = {"event": "playing", "sessionId": "s1", "timestamp": T0, "payload": {"x": 1}}
    record = late_record("behind_watermark", T0 + 60_000, T0 + 61_000, "s1", event)
    assert tuple(record) == LATE_RECORD_FIELDS
    assert record["event"] is event
    assert late_record("unparseable", NO_WATERMARK, 1, None, "not json")["watermark"] is None


def test_state_pickles_compactly_and_round_trips_mid_session() -> None:
    tracker = Tracker("s1")
    for event in (ev("init", 0), ev("loading", 0.2), ev("playing", 1.2), ev("buffering", 4), ev("buffered", 5)):
        tracker.accept(event, NO_WATERMARK, SETTINGS)
    tracker.advance(watermark_at(33), SETTINGS)  # seals init, loading and playing
    tracker.record(SETTINGS)
    restored: Tracker = pickle.loads(pickle.dumps(tracker))
    assert restored.pending_keys == tracker.pending_keys
    assert b"rebuffer_count" not in pickle.dumps(tracker), "field names would repeat in every session's state"
    for copy in (tracker, restored):
        copy.accept(ev("buffering", 5), watermark_at(33), SETTINGS)  # a duplicate of a pending event
        copy.accept(ev("stopped", 9, reason="ended"), watermark_at(33), SETTINGS)
        assert copy.advance(watermark_at(80), SETTINGS)
    assert restored.record(SETTINGS) == tracker.record(SETTINGS)


def test_after_a_restore_an_event_behind_what_the_session_sealed_is_still_late() -> None:
    """Flink restores keyed state but not watermarks: the session's own sealed horizon decides."""
    tracker = Tracker("s1")
    for event in (ev("init", 0), ev("playing", 2), ev("heartbeat", 40)):
        assert tracker.accept(event, NO_WATERMARK, SETTINGS) is None
    tracker.advance(T0 + 60_000, SETTINGS)  # seals up to 60 s minus the allowed lateness
    restored: Tracker = pickle.loads(pickle.dumps(tracker))
    assert restored.sealed_until_ms == tracker.sealed_until_ms > T0 + 2_000
    # After the restart the watermark starts again from nothing.
    assert restored.accept(ev("loading", 1), NO_WATERMARK, SETTINGS) == "behind_watermark"
    assert restored.accept(ev("heartbeat", 45), NO_WATERMARK, SETTINGS) is None
    restored.advance(NO_WATERMARK, SETTINGS)  # a watermark from nothing does not unseal
    assert restored.sealed_until_ms == tracker.sealed_until_ms


def test_the_version_counts_progress_so_a_restored_job_never_writes_below_the_dead_ones() -> None:
    """The dead job sent updates after its checkpoint at moments of its own update timer; the
    restored job, from that checkpoint, sends its updates at other moments: whatever it sends
    for the same events has the same version, and its final is above everything."""
    at_checkpoint = Tracker("s1")
    for event in (ev("init", 0), ev("playing", 1)):
        at_checkpoint.accept(event, NO_WATERMARK, SETTINGS)
    at_checkpoint.record(SETTINGS)
    rest = [ev("heartbeat", second) for second in range(2, 9)] + [ev("stopped", 9, reason="ended")]

    dead: Tracker = pickle.loads(pickle.dumps(at_checkpoint))
    sent_by_dead = []
    for event in rest[:6]:  # an update after every event, then it died
        dead.accept(event, NO_WATERMARK, SETTINGS)
        sent_by_dead.append(dead.record(SETTINGS))

    restored: Tracker = pickle.loads(pickle.dumps(at_checkpoint))
    sent_by_restored = []
    for n, event in enumerate(rest):  # a backlog: one update after three events
        restored.accept(event, NO_WATERMARK, SETTINGS)
        if n == 2:
            sent_by_restored.append(restored.record(SETTINGS))
    assert restored.advance(watermark_at(9 + 31), SETTINGS)
    final = restored.record(SETTINGS)

    same_version = [r for r in sent_by_dead if r["version"] == sent_by_restored[0]["version"]]
    assert same_version == sent_by_restored
    assert final["version"] > max(r["version"] for r in sent_by_dead + sent_by_restored)


def test_update_timers_are_on_a_grid_so_setting_one_again_does_not_double_it() -> None:
    interval = SETTINGS.update_interval_ms
    first, again = next_update_time(T0 + 1, SETTINGS), next_update_time(T0 + interval - 1, SETTINGS)
    assert first == again and first % interval == 0 and T0 < first <= T0 + interval
