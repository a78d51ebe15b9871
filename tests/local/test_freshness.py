"""Freshness per event: the first stored row that reflects it, and a session's final row."""

from __future__ import annotations

from runtime.local.freshness import Freshness
from runtime.local.simulator import SessionTruth

T0 = 1_764_000_000_000


def truth(finished: bool = True) -> SessionTruth:
    """Three events at T0, T0+5 s, T0+10 s, each acknowledged 0.1 s after its time (wall seconds)."""
    session = SessionTruth("s-1", "us-east-1", finished=finished)
    for n in range(3):
        at = T0 + n * 5_000
        session.accepted.append({"sessionId": "s-1", "event": "heartbeat", "timestamp": at})
        session.posted_at[at] = at / 1000 + 0.1
    return session


def test_each_event_counts_once_at_the_first_row_that_reflects_it() -> None:
    freshness, session = Freshness(), truth()
    # A row with the first two events, stored 1 s after the second was posted.
    freshness.observe({"lastEventTime": T0 + 5_000, "final": False}, session, (T0 + 5_000) / 1000 + 1.1)
    assert [round(x) for x in freshness.first_row_ms] == [6_000, 1_000]
    # The same events again, and the third: only the third is new.
    freshness.observe({"lastEventTime": T0 + 10_000, "final": False}, session, (T0 + 10_000) / 1000 + 2.1)
    assert [round(x) for x in freshness.first_row_ms] == [6_000, 1_000, 2_000]
    assert freshness.final_row_ms == []


def test_a_row_stored_before_an_event_was_posted_does_not_reflect_it() -> None:
    freshness, session = Freshness(), truth()
    freshness.observe({"lastEventTime": T0 + 10_000, "final": False}, session, (T0 + 5_000) / 1000 + 0.5)
    assert len(freshness.first_row_ms) == 2  # the third event was not posted yet


def test_the_final_row_counts_from_the_sessions_last_post_once() -> None:
    freshness, session = Freshness(), truth()
    stored = (T0 + 10_000) / 1000 + 4.1
    freshness.observe({"lastEventTime": T0 + 10_000, "final": True}, session, stored)
    freshness.observe({"lastEventTime": T0 + 10_000, "final": True}, session, stored + 3)  # a repeat
    assert [round(x) for x in freshness.final_row_ms] == [4_000]


def test_replayed_copies_and_unfinished_sessions_give_no_final_figure() -> None:
    freshness = Freshness()
    freshness.observe({"lastEventTime": T0, "final": True}, None, T0 / 1000 + 1)
    freshness.observe({"lastEventTime": T0, "final": True}, truth(finished=False), T0 / 1000 + 1)
    assert freshness.final_row_ms == []
