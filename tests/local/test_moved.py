"""The report of a region outage: events per region that acknowledged them, and how each moved session was counted."""

from __future__ import annotations

import dataclasses

from runtime.events import MOVED_STATE
from runtime.local.moved import moved_sessions, region_figures
from runtime.local.options import stack_file
from runtime.local.resources import names
from runtime.local.simulator import SessionTruth
from runtime.local.stores import StoredRow
from runtime.local.verify import compare
from runtime.stack import from_stack_file

SETTINGS = from_stack_file(stack_file("dev"))
EAST, WEST = (names(SETTINGS, region) for region in SETTINGS.regions)


def moved_truth() -> SessionTruth:
    truth = SessionTruth("s-1", "us-west-2", finished=True)
    for timestamp, name, region in (
        (1, "init", "us-west-2"),
        (2, "playing", "us-west-2"),
        (3, "heartbeat", "us-east-1"),
    ):
        truth.accepted.append({"event": name, "sessionId": "s-1", "timestamp": timestamp})
        truth.served_by[timestamp] = region
    return truth


def measures(playing: str, ebvs: str, final: str = "true") -> dict[str, tuple[str, str]]:
    return {"playing_ms": (playing, "BIGINT"), "ebvs": (ebvs, "BOOLEAN"), "final": (final, "BOOLEAN")}


def test_each_event_counts_for_the_region_that_acknowledged_it() -> None:
    truth = moved_truth()
    figures = region_figures([truth], missing={("s-1", "heartbeat", 3)})
    assert [(f.region, f.acknowledged, f.missing_raw) for f in figures] == [("us-east-1", 1, 1), ("us-west-2", 2, 0)]


def test_a_moved_session_in_both_stores_is_counted_twice_and_a_made_up_exit_before_start_is_called_so() -> None:
    truth = moved_truth()
    rows = [
        StoredRow("s-1", 5, measures("900", "false", final="false"), WEST.database),
        StoredRow("s-1", 3, measures("0", "true"), EAST.database),
    ]
    [moved] = moved_sessions([truth], rows, [EAST, WEST], lambda _: measures("2000", "false"), compare)
    assert (moved.regions, moved.counted, moved.exact, moved.invented_failure) == (
        ("us-west-2", "us-east-1"), 2, False, True,
    )  # fmt: skip
    assert moved.rows == (
        "us-east-1: final, ebvs expected false, got true; playing_ms expected 2000, got 0",
        "us-west-2: not final, final expected true, got false; playing_ms expected 2000, got 900",
    )


def test_a_moved_session_stored_once_with_the_whole_sessions_metrics_is_exact() -> None:
    rows = [StoredRow("s-1", 9, measures("2000", "false"), WEST.database)]
    [moved] = moved_sessions([moved_truth()], rows, [EAST, WEST], lambda _: measures("2000", "false"), compare)
    assert (moved.counted, moved.exact, moved.invented_failure) == (1, True, False)
    assert moved_sessions([SessionTruth("s-2", "us-east-1", finished=True)], rows, [EAST, WEST],
                          lambda _: {}, compare) == []  # fmt: skip


def test_a_part_replaced_by_a_moved_row_does_not_count_and_the_whole_record_elsewhere_is_exact() -> None:
    moved_row = {**measures("900", "false", final="false"), "state": (MOVED_STATE, "VARCHAR")}
    rows = [
        StoredRow("s-1", 12, moved_row, WEST.database),
        StoredRow("s-1", 11, measures("2000", "false"), EAST.database),
    ]
    [moved] = moved_sessions([moved_truth()], rows, [EAST, WEST], lambda _: measures("2000", "false"), compare)
    assert (moved.counted, moved.exact, moved.settled) == (1, True, True)
    assert moved.rows == ("us-east-1: final, as the truth", "us-west-2: moved (version 12)")


def test_while_its_region_is_down_a_session_shown_once_and_marked_incomplete_is_settled_but_not_exact() -> None:
    continuation = {**measures("1000", "false"), "incomplete": ("true", "BOOLEAN")}
    rows = [StoredRow("s-1", 7, continuation, EAST.database)]
    [moved] = moved_sessions([moved_truth()], rows, [EAST, WEST], lambda _: measures("2000", "false"), compare)
    assert (moved.counted, moved.exact, moved.incomplete, moved.settled) == (1, False, True, False)
    assert dataclasses.replace(moved, region_down=True).settled
    # Not marked incomplete, or with a failure the truth does not have: wrong even while the region is down.
    unmarked = moved_sessions([moved_truth()], [StoredRow("s-1", 7, measures("1000", "false"), EAST.database)],
                              [EAST, WEST], lambda _: measures("2000", "false"), compare)  # fmt: skip
    assert not dataclasses.replace(unmarked[0], region_down=True).settled
    failing = {**continuation, "ebvs": ("true", "BOOLEAN")}
    invented = moved_sessions([moved_truth()], [StoredRow("s-1", 7, failing, EAST.database)], [EAST, WEST],
                              lambda _: measures("2000", "false"), compare)  # fmt: skip
    assert not dataclasses.replace(invented[0], region_down=True).settled
