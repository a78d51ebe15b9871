"""Lateness is judged by the watermark of the event's shard as of that event, not only by Flink's.

Flink's watermark reaches the session function late (periodically, and only between the
Python operator's bundles), and a job restored from a checkpoint starts with none. These
drive the parse step (ParsedEvents in the connector jar, through the gateway) and the
session function directly, as a restored job reading its
backlog would see them: Flink's watermark still at nothing.
"""

from __future__ import annotations

import json
from typing import Any

from pyflink.datastream import TimeDomain

from runtime.sessionizer.job import NO_WATERMARK, UNPARSEABLE, SessionFunction
from tests.flink.function_fakes import Context, CountingMapState, RuntimeContext, batch, late_outputs
from tests.flink.java_parser import JavaParser, connector
from tests.sessionizer.sequences import SETTINGS, T0, ev, raw

OUT_OF_ORDERNESS = 1_000


def shard_separator() -> str:
    return str(connector().ShardTaggedStrings.SEPARATOR)


def reader() -> JavaParser:
    return JavaParser(OUT_OF_ORDERNESS)


def read(parse_events: JavaParser, event: Any, shard: str | None = None) -> tuple[str, int, int, int, str]:
    text = json.dumps(raw(event))
    return parse_events.map(text if shard is None else f"{shard}{shard_separator()}{text}")


def watermark_of(seconds: float) -> int:
    return T0 + round(seconds * 1000) - OUT_OF_ORDERNESS - 1


def test_each_record_carries_its_readers_watermark_as_of_that_event() -> None:
    parse_events = reader()
    first = read(parse_events, ev("init", 10, "s1"))
    older = read(parse_events, ev("init", 4, "s2"))  # out of order: the watermark stays
    newer = read(parse_events, ev("loading", 12, "s1"))
    assert [record[3] for record in (first, older, newer)] == [watermark_of(10), watermark_of(10), watermark_of(12)]
    assert older[1] == T0 + 4_000


def test_each_shard_has_its_own_watermark_and_the_raw_record_loses_its_shard() -> None:
    """A shard fetched behind another is judged by its own events, not by the one ahead."""
    parse_events = reader()
    ahead = read(parse_events, ev("heartbeat", 60, "s1"), "shardId-000000000001")
    behind = read(parse_events, ev("heartbeat", 20, "s2"), "shardId-000000000002")
    again = read(parse_events, ev("heartbeat", 61, "s1"), "shardId-000000000001")
    assert [record[3] for record in (ahead, behind, again)] == [watermark_of(60), watermark_of(20), watermark_of(61)]
    assert json.loads(behind[4])["sessionId"] == "s2"


def test_the_shard_prefix_ends_at_the_first_separator() -> None:
    parse_events = reader()
    garbage = f"not json{shard_separator()}at all"
    record = parse_events.map(f"shardId-000000000001{shard_separator()}{garbage}")
    assert record[0] == UNPARSEABLE and record[4] == garbage


def test_unparseable_input_moves_nothing() -> None:
    parse_events = reader()
    record = parse_events.map("{not json")
    assert record[0] == UNPARSEABLE and record[3] == NO_WATERMARK
    assert read(parse_events, ev("init", 10))[3] == watermark_of(10)
    assert parse_events.map("{still not json")[3] == watermark_of(10)  # the shard's, unchanged


def test_a_restored_job_judges_a_too_late_event_by_the_events_read_before_it() -> None:
    """Flink's watermark is nothing (restored, or a bundle not yet done); the reader has read
    s1 up to 60 s; s2's event of 20 s is far behind that and goes to the late stream."""
    parse_events, function = reader(), SessionFunction(SETTINGS)
    function.open(RuntimeContext())
    restored = Context(NO_WATERMARK)
    for second in (50, 55, 60):
        assert (
            late_outputs(function.process_element(batch(read(parse_events, ev("heartbeat", second, "s1"))), restored))
            == []
        )
    late = late_outputs(function.process_element(batch(read(parse_events, ev("init", 20, "s2"))), restored))
    assert len(late) == 1
    document = json.loads(late[0][1])
    assert document["reason"] == "behind_watermark"
    assert document["watermark"] == watermark_of(60)


def test_within_the_lateness_an_event_is_taken() -> None:
    parse_events, function = reader(), SessionFunction(SETTINGS)
    function.open(RuntimeContext())
    restored = Context(NO_WATERMARK)
    list(function.process_element(batch(read(parse_events, ev("heartbeat", 60, "s1"))), restored))
    behind_by = (OUT_OF_ORDERNESS + SETTINGS.allowed_lateness_ms) / 1_000  # 1 ms inside the horizon
    assert (
        late_outputs(function.process_element(batch(read(parse_events, ev("init", 60 - behind_by, "s2"))), restored))
        == []
    )


def test_flinks_watermark_still_counts_when_it_is_ahead() -> None:
    """A reader that has read little (just started) is behind Flink's watermark of the others."""
    parse_events, function = reader(), SessionFunction(SETTINGS)
    function.open(RuntimeContext())
    late = late_outputs(function.process_element(batch(read(parse_events, ev("init", 0, "s1"))), Context(T0 + 600_000)))
    assert len(late) == 1 and json.loads(late[0][1])["watermark"] == T0 + 600_000


def test_an_update_timer_the_restored_state_names_but_flink_lost_is_set_again() -> None:
    """The bucket's state says its update timer is set; it is long overdue, so Flink never had it."""
    context = RuntimeContext()
    function = SessionFunction(SETTINGS)
    function.open(context)
    list(function.process_element(batch(read(reader(), ev("init", 0, "s1"))), Context(NO_WATERMARK, T0)))
    update_at = context.states["update-timer"].value()
    assert update_at is not None and update_at % SETTINGS.update_interval_ms == 0
    much_later = Context(NO_WATERMARK, update_at + 2 * SETTINGS.update_interval_ms)
    list(function.process_element(batch(read(reader(), ev("playing", 1, "s1"))), much_later))
    assert len(much_later.timers.processing_time) == 1 and much_later.timers.event_time == []
    assert much_later.timers.processing_time[0] % SETTINGS.update_interval_ms == 0


def test_timers_that_are_due_but_not_lost_are_not_set_again() -> None:
    context = RuntimeContext()
    function = SessionFunction(SETTINGS)
    function.open(context)
    first = Context(NO_WATERMARK, T0)
    list(function.process_element(batch(read(reader(), ev("init", 0, "s1"))), first))
    assert len(first.timers.processing_time) == 1 and len(first.timers.event_time) == 1
    on_time = Context(NO_WATERMARK, T0 + SETTINGS.update_interval_ms)
    list(function.process_element(batch(read(reader(), ev("loading", 0.5, "s1"))), on_time))
    assert on_time.timers.processing_time == [] and on_time.timers.event_time == []


def test_an_update_timer_ends_a_session_whose_end_check_flink_lost() -> None:
    """Restored with an end check whose timer Flink lost, and the session's stopped already read:
    the bucket's update timer (running while a session is open) does the check once overdue."""
    context = RuntimeContext()
    function = SessionFunction(SETTINGS)
    function.open(context)
    parse_events = reader()
    events = [ev("init", 0, "s1"), ev("playing", 1, "s1"), ev("stopped", 5, "s1", reason="ended")]
    list(function.process_element(batch(*(read(parse_events, event) for event in events)), Context(NO_WATERMARK, T0)))
    lost = context.session("s1").end_check_ms
    update_at = context.states["update-timer"].value()
    assert lost is not None and update_at is not None
    fired = Context(lost + 1, update_at, TimeDomain.PROCESSING_TIME)
    records = [json.loads(r) for r in function.on_timer(update_at, fired) if isinstance(r, str)]
    assert [r["final"] for r in records] == [True]
    assert context.session("s1").final
    assert fired.timers.processing_time == []  # no open session left in the bucket


def test_sessions_of_one_batch_keep_their_own_state() -> None:
    """A batch holds events of several sessions of the bucket, in the order they were read."""
    context = RuntimeContext()
    function = SessionFunction(SETTINGS)
    function.open(context)
    parse_events = reader()
    events = [ev("init", 0, "s1"), ev("init", 0.5, "s2"), ev("playing", 1, "s1"), ev("init", 0, "s1")]
    assert (
        late_outputs(function.process_element(batch(*(read(parse_events, e) for e in events)), Context(NO_WATERMARK)))
        == []
    )
    assert (context.session("s1").events_taken, context.session("s2").events_taken) == (2, 1)  # a duplicate


def test_a_batch_reads_and_writes_each_of_its_sessions_once() -> None:
    context = RuntimeContext()
    function = SessionFunction(SETTINGS)
    function.open(context)
    sessions = CountingMapState(context.map_states["sessions"].stored)
    function.sessions = sessions
    parse_events = reader()
    events = [ev(name, seconds, "s1") for name, seconds in (("init", 0), ("loading", 0.5), ("playing", 1))]
    list(function.process_element(batch(*(read(parse_events, e) for e in [*events, ev("init", 0, "s2")])),
                                  Context(NO_WATERMARK)))  # fmt: skip
    assert sorted(sessions.read_keys) == ["s1", "s2"] and sorted(sessions.written_keys) == ["s1", "s2"]
    assert context.session("s1").events_taken == 3


def test_the_parse_step_reads_the_ingest_contract_and_nothing_looser() -> None:
    parse_events = reader()
    event = {"sessionId": "s9", "event": "init", "timestamp": T0, "server": {"receivedAt": T0 + 250}}
    assert parse_events.map(json.dumps(event))[:3] == ("s9", T0, T0 + 250)
    for server in ({"receivedAt": True}, {"receivedAt": 1.5}, {"receivedAt": -1}, "not an object"):
        assert parse_events.map(json.dumps({**event, "server": server}))[2] == connector().ParsedEvents.NO_ARRIVAL
    for broken in ({**event, "sessionId": 7}, {**event, "timestamp": "soon"}, {**event, "timestamp": 1.5},
                   {"event": "init", "timestamp": T0}, [event]):  # fmt: skip
        record = parse_events.map(json.dumps(broken))
        assert record[0] == UNPARSEABLE and record[4] == json.dumps(broken)


def test_the_parse_step_reads_each_field_as_the_whole_document_holds_it() -> None:
    """Fields are read from a stream of tokens: other fields are skipped, a repeated name counts by
    its last value, and a document broken after the fields the job needs is still unparseable."""
    parse_events, no_arrival = reader(), connector().ParsedEvents.NO_ARRIVAL
    cases = {
        f'{{"payload":{{"a":[1,{{"sessionId":"x"}}]}},"sessionId":"s9","timestamp":{T0}}}': ("s9", T0, no_arrival),
        f'{{"sessionId":7,"sessionId":"s9","timestamp":{T0}}}': ("s9", T0, no_arrival),
        f'{{"sessionId":"s9","timestamp":{T0},"server":{{"receivedAt":5}},"server":{{}}}}': ("s9", T0, no_arrival),
        f'{{"server":{{"x":{{"receivedAt":1}},"receivedAt":{T0 + 1}}},"sessionId":"s9","timestamp":{T0}}}':
            ("s9", T0, T0 + 1),
    }  # fmt: skip
    for text, fields in cases.items():
        assert parse_events.map(text)[:3] == fields, text
    for broken in (f'{{"sessionId":"s9","sessionId":null,"timestamp":{T0}}}',
                   '{"sessionId":"s9","timestamp":100000000000000000000000}',
                   f'{{"sessionId":"s9","timestamp":{T0},"payload":{{"a":}}}}',
                   f'{{"sessionId":"s9","timestamp":{T0},"payload":"unterminated}}'):  # fmt: skip
        assert parse_events.map(broken)[0] == UNPARSEABLE, broken


def test_the_job_and_the_jar_agree_on_their_markers() -> None:
    parsed = connector().ParsedEvents
    assert (parsed.UNPARSEABLE, parsed.NO_WATERMARK) == (UNPARSEABLE, NO_WATERMARK)
