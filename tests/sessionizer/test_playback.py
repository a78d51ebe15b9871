"""QoE metrics of whole sessions, computed by hand from docs/qoe-metrics.md."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.sessionizer.playback import ENDING_EVENTS, Event, Playback
from tests.sessionizer.sequences import T0, ev, final_record

CASES: list[tuple[str, list[Event], dict[str, Any]]] = [
    (
        "startup from loading to the first playing",
        [ev("init", 0), ev("loading", 1), ev("loaded", 2), ev("playing", 3.5), ev("heartbeat", 10),
         ev("stopped", 20, reason="ended")],
        {"startupMs": 2500, "playingMs": 16500, "rebufferCount": 0, "endReason": "ended", "state": "ended",
         "ebvs": False, "vsf": False, "firstEventTime": T0, "lastEventTime": T0 + 20_000, "incomplete": False},
    ),
    (
        "startup from init when there is no loading",
        [ev("init", 0), ev("playing", 2), ev("stopped", 4, reason="ended")],
        {"startupMs": 2000, "playingMs": 2000, "incomplete": False},
    ),
    (
        "a session seen from the middle has no startup",
        [ev("heartbeat", 0), ev("playing", 1), ev("stopped", 3, reason="ended")],
        {"startupMs": None, "playingMs": 2000, "incomplete": True},
    ),
    (
        "buffering before the first playing is startup, not a rebuffer",
        [ev("init", 0), ev("loading", 0), ev("buffering", 0.5), ev("buffered", 1.5), ev("playing", 2),
         ev("stopped", 5, reason="ended")],
        {"startupMs": 2000, "rebufferCount": 0, "rebufferMs": 0, "playingMs": 3000},
    ),
    (
        "a rebuffer stops playing time and counts its duration",
        [ev("init", 0), ev("loading", 0), ev("playing", 1), ev("buffering", 5), ev("buffered", 7),
         ev("stopped", 11, reason="ended")],
        {"playingMs": 8000, "rebufferCount": 1, "rebufferMs": 2000, "rebufferRatio": 0.2},
    ),
    (
        "buffering caused by a seek is seek time, not rebuffering",
        [ev("init", 0), ev("playing", 1), ev("seeking", 5), ev("buffering", 5.1), ev("buffered", 6),
         ev("seeked", 6.5), ev("stopped", 10, reason="ended")],
        {"playingMs": 7500, "rebufferCount": 0, "rebufferMs": 0, "seekCount": 1},
    ),
    (
        "a seek from pause returns to pause",
        [ev("init", 0), ev("playing", 1), ev("paused", 3), ev("seeking", 4), ev("seeked", 5), ev("resume", 8),
         ev("stopped", 10, reason="ended")],
        {"playingMs": 4000, "seekCount": 1},
    ),
    (
        "a seek during a rebuffer ends the rebuffer",
        [ev("init", 0), ev("playing", 1), ev("buffering", 3), ev("seeking", 4), ev("seeked", 5),
         ev("stopped", 7, reason="ended")],
        {"playingMs": 4000, "rebufferCount": 1, "rebufferMs": 1000, "seekCount": 1},
    ),
    (
        "pauses are not playing time",
        [ev("init", 0), ev("playing", 1), ev("paused", 3), ev("resume", 6), ev("paused", 8), ev("resume", 9),
         ev("stopped", 10, reason="ended")],
        {"playingMs": 5000, "state": "ended"},
    ),
    (
        "buffering while paused is nothing the viewer waits for",
        [ev("init", 0), ev("playing", 1), ev("paused", 2), ev("buffering", 3), ev("buffered", 4), ev("resume", 5),
         ev("stopped", 6, reason="ended")],
        {"playingMs": 2000, "rebufferCount": 0},
    ),
    (
        "a rebuffer never resolved lasts to the end of the session",
        [ev("init", 0), ev("playing", 1), ev("buffering", 5), ev("stopped", 9, reason="aborted")],
        {"playingMs": 4000, "rebufferCount": 1, "rebufferMs": 4000, "rebufferRatio": 0.5, "endReason": "aborted"},
    ),
    (
        "average bitrate is weighted by the playing time at each bitrate",
        [ev("init", 0), ev("bitrate_changed", 0, bitrate=2000), ev("playing", 0),
         ev("bitrate_changed", 4, bitrate=4000), ev("paused", 6), ev("resume", 8),
         ev("bitrate_changed", 9, bitrate=6000), ev("stopped", 10, reason="ended")],
        {"playingMs": 8000, "averageBitrateKbps": 3250.0, "bitrateChanges": 2},
    ),
    (
        "the same bitrate again is no change",
        [ev("init", 0), ev("playing", 0), ev("bitrate_changed", 1, bitrate=3000),
         ev("bitrate_changed", 2, bitrate=3000), ev("stopped", 3, reason="ended")],
        {"averageBitrateKbps": 3000.0, "bitrateChanges": 0, "playingMs": 3000},
    ),
    (
        "exit before video start: stopped without playing",
        [ev("init", 0), ev("loading", 1), ev("stopped", 5, reason="aborted")],
        {"ebvs": True, "vsf": False, "playbackFailure": False, "startupMs": None, "endReason": "aborted",
         "playingMs": 0},
    ),
    (
        "exit before video start: timed out without playing",
        [ev("init", 0), ev("loading", 1)],
        {"ebvs": True, "endReason": "timeout", "state": "ended"},
    ),
    (
        "video start failure: a fatal error before the first playing",
        [ev("init", 0), ev("loading", 1), ev("error", 3, code="MEDIA_ERR_SRC_NOT_SUPPORTED", category="media")],
        {"vsf": True, "ebvs": False, "playbackFailure": True, "state": "failed", "endReason": "error",
         "errorCount": 1, "lastErrorCode": "MEDIA_ERR_SRC_NOT_SUPPORTED"},
    ),
    (
        "a fatal error mid-play is a playback failure, not a start failure",
        [ev("init", 0), ev("playing", 1), ev("error", 5, code=3016)],
        {"vsf": False, "playbackFailure": True, "playingMs": 4000, "lastErrorCode": "3016", "state": "failed"},
    ),
    (
        "warnings count and change nothing else",
        [ev("init", 0), ev("playing", 1), ev("warning", 2, code="LOW_BUFFER"), ev("warning", 3, code="DROPPED"),
         ev("stopped", 4, reason="ended")],
        {"warningCount": 2, "errorCount": 0, "playbackFailure": False, "playingMs": 3000},
    ),
    (
        "a session without events for the gap times out at its last event",
        [ev("init", 0), ev("playing", 1), ev("heartbeat", 5)],
        {"endReason": "timeout", "playingMs": 4000, "state": "ended", "lastEventTime": T0 + 5000},
    ),
    (
        "duplicates count once",
        [ev("init", 0), ev("playing", 1), ev("playing", 1), ev("buffering", 5), ev("buffering", 5), ev("buffered", 7),
         ev("buffered", 7), ev("stopped", 9, reason="ended")],
        {"rebufferCount": 1, "rebufferMs": 2000, "playingMs": 6000},
    ),
    (
        "events after the end change nothing",
        [ev("init", 0), ev("playing", 1), ev("stopped", 3, reason="ended"), ev("heartbeat", 4), ev("playing", 5)],
        {"playingMs": 2000, "lastEventTime": T0 + 3000, "endReason": "ended"},
    ),
    (
        "events at the same millisecond apply in the order a player emits them",
        [ev("playing", 0), ev("loading", 0), ev("init", 0), ev("stopped", 2, reason="ended")],
        {"startupMs": 0, "playingMs": 2000, "ebvs": False},
    ),
    (
        "seen only from its middle and ended without playing: its start is unknown, neither EBVS nor VSF",
        [ev("heartbeat", 0), ev("heartbeat", 1), ev("stopped", 2, reason="ended")],
        {"ebvs": False, "vsf": False, "playbackFailure": False, "startupMs": None, "endReason": "ended",
         "incomplete": True},
    ),
    (
        "seen only from its middle and timed out: not an exit before video start",
        [ev("heartbeat", 0), ev("bitrate_changed", 0.5, bitrate=3000), ev("heartbeat", 1)],
        {"ebvs": False, "vsf": False, "endReason": "timeout", "state": "ended"},
    ),
    (
        "seen only from its middle, then a fatal error: a playback failure, not a start failure",
        [ev("heartbeat", 0), ev("error", 1, code=3016)],
        {"vsf": False, "ebvs": False, "playbackFailure": True, "state": "failed"},
    ),
    (
        "metadata and player are kept",
        [ev("init", 0), ev("metadata", 0.1, contentId="c-42", contentTitle="Big Buck Bunny", live=False,
                            deviceType="tv", deviceModel="Bravia"),
         ev("playing", 1), ev("stopped", 2, reason="ended")],
        {"contentId": "c-42", "contentTitle": "Big Buck Bunny", "live": False, "deviceType": "tv",
         "deviceModel": "Bravia", "player": "prism-web/3.1"},
    ),
]  # fmt: skip


@pytest.mark.parametrize(("events", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_session_metrics(events: list[Event], expected: dict[str, Any]) -> None:
    record = final_record(events)
    assert record["final"] is True
    assert {key: record[key] for key in expected} == expected


@pytest.mark.parametrize(("events", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_arrival_order_does_not_matter_within_the_lateness(events: list[Event], expected: dict[str, Any]) -> None:
    shuffled = list(events)
    random.Random(len(events)).shuffle(shuffled)
    assert final_record(shuffled) == final_record(events)


EVENT_NAMES = ["playing", "paused", "resume", "buffering", "buffered", "seeking", "seeked", "heartbeat",
               "bitrate_changed", "warning", "loading", "loaded"]  # fmt: skip


@st.composite
def sessions(draw: st.DrawFn) -> list[Event]:
    steps = draw(st.lists(st.tuples(st.sampled_from(EVENT_NAMES), st.integers(0, 20_000)), max_size=40))
    events, t = [ev("init", 0)], 0.0
    for name, gap_ms in steps:
        t += gap_ms / 1000
        event = ev(name, t, bitrate=draw(st.integers(100, 8000))) if name == "bitrate_changed" else ev(name, t)
        # Same name and time is a duplicate whatever its payload: the first to arrive counts.
        if all(event.key != seen.key for seen in events):
            events.append(event)
    ending = draw(st.sampled_from(["stopped", "error", "timeout"]))
    if ending == "stopped":
        events.append(ev("stopped", t + 1, reason="ended"))
    elif ending == "error":
        events.append(ev("error", t + 1, code="E"))
    return events


@settings(max_examples=300, deadline=None)
@given(sessions())
def test_playing_and_rebuffer_time_never_exceed_the_session_wall_time(events: list[Event]) -> None:
    record = final_record(events)
    wall = record["lastEventTime"] - record["firstEventTime"]
    assert record["playingMs"] + record["rebufferMs"] <= wall
    assert 0.0 <= record["rebufferRatio"] <= 1.0
    assert not (record["ebvs"] and record["vsf"])


@settings(max_examples=300, deadline=None)
@given(sessions(), st.randoms(use_true_random=False))
def test_a_shuffled_arrival_within_the_lateness_gives_the_sorted_result(
    events: list[Event], rng: random.Random
) -> None:
    shuffled = list(events)
    rng.shuffle(shuffled)
    assert final_record(shuffled) == final_record(events)


@pytest.mark.parametrize("name", ["init", "loading", "loaded", "metadata", "playing", "resume", "paused", "buffering",
                                  "buffered", "seeking", "seeked", "bitrate_changed", "warning", "error", "stopped",
                                  "heartbeat", "something_new"])  # fmt: skip
def test_exactly_the_ending_events_end_a_session(name: str) -> None:
    """The sessionizer's end timer looks only for ENDING_EVENTS: no other event may end a session."""
    playback = Playback()
    for event in (ev("init", 0), ev("playing", 1), ev(name, 2, reason="ended", code="E")):
        playback.apply(event)
    assert playback.ended == (name in ENDING_EVENTS)
