"""Update records: with the event when the session's last record is an update interval old, else
from the worker's index of changed sessions at the bucket's update timer, not a walk over the bucket.

A bucket's update timer emits a record for each open session that changed since its last record;
the worker keeps which those are, so a bucket of many quiet sessions costs nothing per interval.
The index is not in state: a new worker (after a restore) rebuilds it from the sessions' state.
The function is driven directly with the fakes: no cluster needed.
"""

from __future__ import annotations

import json
from typing import Any

from pyflink.datastream import TimeDomain

from runtime.sessionizer.job import SessionFunction
from tests.flink.function_fakes import Context, CountingMapState, RuntimeContext, batch
from tests.flink.test_late_metrics import parsed
from tests.sessionizer.sequences import SETTINGS, T0, ev

WATERMARK = T0  # nothing ends: the sessions stay open


def start(sessions: int) -> tuple[SessionFunction, RuntimeContext]:
    context = RuntimeContext()
    function = SessionFunction(SETTINGS)
    function.open(context)
    events = [parsed(ev(name, seconds, f"s{i}")) for i in range(sessions) for name, seconds in
              (("init", 0), ("playing", 1))]  # fmt: skip
    # Each session's first record goes out with its first event; the second event waits for the timer.
    records = [json.loads(record) for record in function.process_element(batch(*events), Context(WATERMARK))]
    assert [(record["sessionId"], record["state"]) for record in records] == [(f"s{i}", "starting")
                                                                            for i in range(sessions)]  # fmt: skip
    return function, context


def updates(function: SessionFunction, now_ms: int) -> list[dict[str, Any]]:
    context = Context(WATERMARK, now_ms, TimeDomain.PROCESSING_TIME)
    return [json.loads(record) for record in function.on_timer(now_ms, context)]


def test_an_update_gives_a_record_for_each_changed_session_and_none_for_quiet_ones() -> None:
    function, context = start(50)
    first = updates(function, T0 + 10_000)
    assert sorted(record["sessionId"] for record in first) == sorted(f"s{i}" for i in range(50))

    heartbeats = [parsed(ev("heartbeat", 5, f"s{i}")) for i in (3, 7)]
    list(function.process_element(batch(*heartbeats), Context(WATERMARK)))
    sessions = CountingMapState(context.map_states["sessions"].stored)
    function.sessions = sessions
    second = updates(function, T0 + 20_000)

    assert sorted(record["sessionId"] for record in second) == ["s3", "s7"]
    assert sessions.reads == 2  # the two changed sessions, not the bucket's fifty
    assert updates(function, T0 + 30_000) == []
    assert context.states["update-timer"].value() == T0 + 40_000  # open sessions keep the timer going


def test_an_event_an_update_interval_after_the_last_record_brings_its_record_and_the_timer_skips_it() -> None:
    function, context = start(5)
    updates(function, T0 + 10_000)  # every session recorded at T0 + 10 s
    soon, due = Context(WATERMARK, T0 + 15_000), Context(WATERMARK, T0 + 20_000)
    assert list(function.process_element(batch(parsed(ev("heartbeat", 5, "s1"))), soon)) == []
    with_event = [json.loads(r) for r in function.process_element(batch(parsed(ev("heartbeat", 5, "s2"))), due)]
    assert [(record["sessionId"], record["lastEventTime"]) for record in with_event] == [("s2", T0 + 5_000)]
    sessions = CountingMapState(context.map_states["sessions"].stored)
    function.sessions = sessions
    assert [record["sessionId"] for record in updates(function, T0 + 20_000)] == ["s1"]
    assert sessions.reads == 1  # s2's record went out with its event


def test_a_new_worker_rebuilds_the_index_from_the_sessions_state() -> None:
    function, context = start(5)
    updates(function, T0 + 10_000)  # every session recorded: none changed now
    list(function.process_element(batch(parsed(ev("heartbeat", 5, "s2"))), Context(WATERMARK)))

    restored = SessionFunction(SETTINGS)
    restored.open(context)  # the same state, a worker that has read nothing yet

    assert [record["sessionId"] for record in updates(restored, T0 + 20_000)] == ["s2"]
