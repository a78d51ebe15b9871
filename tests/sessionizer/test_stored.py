"""A Tracker written to state and read back goes on exactly as one that never left memory, in the
job's stored form (stored.py), which is a fraction of the pickled object and reads version 2's."""

from __future__ import annotations

import json
import pickle
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.sessionizer import stored
from runtime.sessionizer.playback import Event
from runtime.sessionizer.session import NO_WATERMARK, Tracker
from tests.sessionizer.sequences import SETTINGS, T0, ev, raw
from tests.sessionizer.test_playback import sessions


def through_state(tracker: Tracker) -> Tracker:
    """Written and read back as the job's map state does (PyFlink pickles the value)."""
    return stored.decode(tracker.session_id, pickle.loads(pickle.dumps(stored.encode(tracker))))


def play(events: list[Event], lag_ms: int, reload: bool) -> list[dict[str, object]]:
    """Every record of the session, an update after each event and the final, with the watermark
    `lag_ms` behind the newest event; with ``reload`` the Tracker goes through state at each step."""
    tracker, records, newest = Tracker("s1"), [], NO_WATERMARK
    for event in events:
        newest = max(newest, event.timestamp)
        watermark = newest - lag_ms
        tracker.accept(event, watermark, SETTINGS)
        tracker = through_state(tracker) if reload else tracker
        if tracker.advance(watermark, SETTINGS):
            break
        if tracker.changed:
            records.append(tracker.record(SETTINGS))
        tracker = through_state(tracker) if reload else tracker
    if not tracker.final:
        assert tracker.advance(2**62, SETTINGS)
    records.append(tracker.record(SETTINGS))
    return records


@settings(max_examples=200, deadline=None)
@given(sessions(), st.integers(0, 40_000), st.randoms(use_true_random=False))
def test_a_session_stored_after_every_step_gives_the_same_records(events: list[Event], lag_ms: int,
                                                                  rng: random.Random) -> None:  # fmt: skip
    arrival = sorted(events, key=lambda e: e.timestamp + rng.randint(0, 20_000))  # out of order, mostly within
    assert play(arrival, lag_ms, reload=True) == play(arrival, lag_ms, reload=False)


def test_the_player_comes_from_the_first_event_with_a_user_agent_even_when_it_is_still_pending() -> None:
    # Seen from its middle: the first events have no user agent, a later pending one has.
    events = [ev("heartbeat", 0, user_agent=""), ev("playing", 1, user_agent=""), ev("heartbeat", 5),
              ev("heartbeat", 10, user_agent="prism-tv/2.0 (x)")]  # fmt: skip
    assert play(events, 3_000, reload=True) == play(events, 3_000, reload=False)
    assert play(events, 3_000, reload=True)[-1]["player"] == "prism-web/3.1"


def test_pending_events_keep_no_user_agent_once_the_session_has_a_player() -> None:
    tracker = Tracker("s1")
    for event in (ev("init", 0), ev("playing", 1), ev("heartbeat", 5), ev("heartbeat", 10)):
        tracker.accept(event, NO_WATERMARK, SETTINGS)
    assert b"(tv)" in stored.encode(tracker), "no player yet: the pending events' agents are kept"
    tracker.advance(T0 + 2_000 + SETTINGS.allowed_lateness_ms, SETTINGS)  # seals init and playing
    assert tracker.playback.player == "prism-web/3.1" and len(tracker.pending) == 2
    assert b"(tv)" not in stored.encode(tracker)
    assert through_state(tracker).record(SETTINGS) == tracker.record(SETTINGS)


def test_the_stored_form_is_a_fraction_of_the_pickled_tracker_and_a_tombstone_is_small() -> None:
    tracker = Tracker("b-123456-0")
    opening = [ev("init", 0, "b-123456-0"), ev("metadata", 0.1, "b-123456-0", contentId="c-1", deviceType="tv"),
               ev("bitrate_changed", 0.2, "b-123456-0", bitrate=3000), ev("playing", 0.3, "b-123456-0")]  # fmt: skip
    beats = [ev("heartbeat", 5 * n, "b-123456-0") for n in range(1, 9)]
    for event in opening + beats:  # as the job reads them: each its own strings
        tracker.accept(Event.from_raw(json.loads(json.dumps(raw(event)))), NO_WATERMARK, SETTINGS)
    tracker.advance(T0 + 10_000 + SETTINGS.allowed_lateness_ms, SETTINGS)
    assert len(tracker.pending) == 7
    value, whole = pickle.dumps(stored.encode(tracker)), pickle.dumps(tracker)
    assert len(value) < 0.6 * len(whole), (len(value), len(whole))
    tracker.accept(ev("stopped", 41, "b-123456-0", reason="ended"), NO_WATERMARK, SETTINGS)
    assert tracker.advance(2**62, SETTINGS)
    tracker.record(SETTINGS)
    tracker.to_tombstone()
    assert len(stored.encode(tracker)) < 64
    assert stored.encode(through_state(tracker)) == stored.encode(tracker)


def test_final_and_changed_are_read_without_decoding() -> None:
    tracker = Tracker("s1")
    assert stored.flags(stored.encode(tracker)) == (False, False)
    tracker.accept(ev("init", 0), NO_WATERMARK, SETTINGS)
    assert stored.flags(stored.encode(tracker)) == (False, True)
    tracker.accept(ev("error", 1, code="3016"), NO_WATERMARK, SETTINGS)
    tracker.advance(2**62, SETTINGS)
    tracker.record(SETTINGS)
    assert stored.flags(stored.encode(tracker)) == (True, False)
    assert stored.flags(tracker) == (True, False), "a version 2 value: the Tracker itself"


def test_a_value_of_an_unknown_form_is_refused_by_name() -> None:
    try:
        stored.decode("s9", b"\x07\x00")
    except ValueError as error:
        assert "'s9'" in str(error) and "form 7" in str(error)
    else:
        raise AssertionError("an unknown form must not be read as a session")
