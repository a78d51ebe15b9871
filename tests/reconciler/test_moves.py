"""The reconciler's rule: a session split between regions, made whole once both parts ended."""

from __future__ import annotations

import dataclasses
from typing import Any

from runtime.events import MOVED_STATE
from runtime.reconciler.moves import SessionParts, keep_newest, reconciled, split_sessions, whole_session
from runtime.sessionizer.playback import Event
from runtime.sessionizer.session import NO_WATERMARK, SessionSettings, Tracker
from tests.sessionizer.sequences import SETTINGS, ev

EAST, WEST = "us-east-1", "us-west-2"
# A player in us-west-2 starts, plays 20 s, rebuffers, and goes on in us-east-1 after its region failed.
SESSION = [
    ev("init", 0), ev("loading", 0.1), ev("playing", 1.0, bitrate=3000),
    ev("buffering", 10.0), ev("buffered", 12.0), ev("heartbeat", 20.0),
]  # fmt: skip
CONTINUATION = [ev("heartbeat", 40.0), ev("playing", 41.0), ev("heartbeat", 50.0), ev("stopped", 55.0)]


def in_region(region: str) -> SessionSettings:
    return dataclasses.replace(SETTINGS, region=region)


def streamed(events: list[Event], region: str) -> dict[str, Any]:
    """The final record the region's sessionizer gives its part: all its events on time, then the end."""
    tracker = Tracker("s1")
    for event in events:
        tracker.accept(event, NO_WATERMARK, in_region(region))
    tracker.advance(2**62, in_region(region))
    return tracker.record(in_region(region))


def test_only_sessions_with_records_from_two_regions_are_split_and_each_region_keeps_its_newest() -> None:
    west_old = {**streamed(SESSION[:3], WEST), "final": False}
    west, east = streamed(SESSION, WEST), streamed(CONTINUATION, EAST)
    alone = {**streamed(SESSION, EAST), "sessionId": "s2"}
    [parts] = split_sessions(keep_newest({}, [west, east, west_old, alone]))
    assert parts.session_id == "s1"
    assert parts.newest == {WEST: west, EAST: east}


def test_the_whole_session_is_the_state_machine_over_both_parts_and_outranks_either() -> None:
    west, east = streamed(SESSION, WEST), streamed(CONTINUATION, EAST)
    parts = SessionParts("s1", {WEST: west, EAST: east})
    assert parts.owner == EAST  # the session ended there
    written = reconciled(parts, [*CONTINUATION, *SESSION], set(), in_region)
    whole = streamed(SESSION + CONTINUATION, EAST)
    assert written[EAST] == whole
    assert whole["version"] > max(west["version"], east["version"])
    # The continuation alone judged nothing of the start; the whole session has it.
    assert east["startupMs"] is None and whole["startupMs"] == west["startupMs"]
    assert whole["playingMs"] > west["playingMs"] + east["playingMs"] - 1
    assert whole["rebufferCount"] == 1 and whole["state"] == "ended" and whole["final"]


def test_the_other_region_gets_its_final_row_replaced_by_a_moved_row_above_the_whole_session() -> None:
    west, east = streamed(SESSION, WEST), streamed(CONTINUATION, EAST)
    written = reconciled(SessionParts("s1", {WEST: west, EAST: east}), SESSION + CONTINUATION, set(), in_region)
    moved = written[WEST]
    assert moved["state"] == MOVED_STATE and moved["final"] is False and moved["endReason"] is None
    assert moved["version"] == written[EAST]["version"] + 1
    # The same point as the row it replaces: same session, region and time.
    assert (moved["sessionId"], moved["region"], moved["updateTime"]) == ("s1", WEST, west["updateTime"])


def test_nothing_until_every_part_ended() -> None:
    west = {**streamed(SESSION, WEST), "final": False, "state": "playing"}
    east = streamed(CONTINUATION, EAST)
    assert reconciled(SessionParts("s1", {WEST: west, EAST: east}), SESSION + CONTINUATION, set(), in_region) == {}


def test_what_is_written_once_is_not_asked_for_again_and_more_events_raise_the_versions() -> None:
    west, east = streamed(SESSION, WEST), streamed(CONTINUATION, EAST)
    first = reconciled(SessionParts("s1", {WEST: west, EAST: east}), SESSION + CONTINUATION, set(), in_region)
    assert reconciled(SessionParts("s1", first), SESSION + CONTINUATION, set(), in_region) == {}
    # Events the dead region held come later (it came back): the whole session grows, its versions too.
    held = [ev("heartbeat", 25.0), ev("heartbeat", 30.0)]
    again = reconciled(SessionParts("s1", first), SESSION + held + CONTINUATION, set(), in_region)
    assert again[EAST]["version"] > first[EAST]["version"] and again[WEST]["version"] > first[WEST]["version"]
    assert again[EAST] == streamed(SESSION + held + CONTINUATION, EAST)


def test_late_events_stay_out_of_the_whole_session_and_copies_count_once() -> None:
    west, east = streamed(SESSION, WEST), streamed(CONTINUATION, EAST)
    straggler = ev("buffering", 45.0)
    late = {straggler.key}
    whole = whole_session("s1", [*SESSION, *SESSION, *CONTINUATION, straggler], late, in_region(EAST))
    assert whole == streamed(SESSION + CONTINUATION, EAST)
    assert reconciled(SessionParts("s1", {WEST: west, EAST: east}), [*SESSION, straggler, *CONTINUATION],
                      late, in_region)[EAST] == whole  # fmt: skip
