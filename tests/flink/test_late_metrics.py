"""Late events are counted by reason as Flink counters, under the group Managed Flink publishes to CloudWatch.

The alarms (components/operations/signals.py) watch exactly these: metric `lateEvents`,
dimension `LateReason`, in the `kinesisanalytics` group. The function is driven directly,
with a runtime context that records what it registers: no cluster needed.
"""

from __future__ import annotations

import json
from typing import Any

from runtime.sessionizer.job import LATE_EVENTS, NO_WATERMARK, UNPARSEABLE, SessionFunction
from runtime.sessionizer.metrics import (
    LATE_EVENTS_METRIC,
    LATE_REASON_DIMENSION,
    LATE_REASONS,
    MANAGED_FLINK_METRIC_GROUP,
)
from tests.flink.function_fakes import Context, RuntimeContext, batch, late_outputs
from tests.flink.java_parser import JavaParser
from tests.sessionizer.sequences import SETTINGS, T0, ev, raw


def parsed(event: Any) -> tuple[str, int, int, int, str]:
    """The parse step's record of an event, from a reader that has read nothing newer."""
    session_id, event_ms, arrival_ms, _, text = JavaParser(0).map(json.dumps(raw(event)))
    return session_id, event_ms, arrival_ms, NO_WATERMARK, text


def late_count(context: RuntimeContext, reason: str) -> int:
    return context.counters[(MANAGED_FLINK_METRIC_GROUP, (LATE_REASON_DIMENSION, reason), LATE_EVENTS_METRIC)].count


def test_every_late_reason_has_a_counter_in_the_managed_flink_group() -> None:
    context = RuntimeContext()
    SessionFunction(SETTINGS).open(context)
    assert {path[1][1] for path in context.counters} == set(LATE_REASONS)
    assert all(path[0] == MANAGED_FLINK_METRIC_GROUP and path[-1] == LATE_EVENTS_METRIC for path in context.counters)


def test_each_late_event_counts_once_under_its_reason() -> None:
    context = RuntimeContext()
    function = SessionFunction(SETTINGS)
    function.open(context)
    late_watermark = T0 + 10 * 60_000  # ten minutes past the events: behind the allowed lateness

    not_json = (UNPARSEABLE, 0, 0, NO_WATERMARK, "{not json")
    unparseable = late_outputs(function.process_element(batch(not_json), Context(late_watermark)))
    behind = late_outputs(function.process_element(batch(parsed(ev("init", 0, "s1"))), Context(late_watermark)))
    on_time = late_outputs(function.process_element(batch(parsed(ev("init", 0, "s2"))), Context(T0)))

    assert [tag for tag, _ in unparseable + behind] == [LATE_EVENTS, LATE_EVENTS]
    assert on_time == []
    assert late_count(context, "unparseable") == 1
    assert late_count(context, "behind_watermark") == 1
    assert late_count(context, "session_finalised") == 0
