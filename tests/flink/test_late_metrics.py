"""Late events are counted by reason as Flink counters, under the group Managed Flink publishes to CloudWatch.

The alarms (components/support/signals.py) watch exactly these: metric `lateEvents`,
dimension `LateReason`, in the `kinesisanalytics` group. The function is driven directly,
with a runtime context that records what it registers: no cluster needed.
"""

from __future__ import annotations

import json
from typing import Any

from runtime.sessionizer.job import LATE_EVENTS, UNPARSEABLE, SessionFunction, parse
from runtime.sessionizer.metrics import (
    LATE_EVENTS_METRIC,
    LATE_REASON_DIMENSION,
    LATE_REASONS,
    MANAGED_FLINK_METRIC_GROUP,
)
from tests.sessionizer.sequences import SETTINGS, T0, ev, raw


class Counter:
    def __init__(self) -> None:
        self.count = 0

    def inc(self, n: int = 1) -> None:
        self.count += n


class MetricGroup:
    def __init__(self, registry: dict[tuple[Any, ...], Counter], path: tuple[Any, ...] = ()) -> None:
        self.registry, self.path = registry, path

    def add_group(self, name: str, extra: str | None = None) -> MetricGroup:
        return MetricGroup(self.registry, (*self.path, name if extra is None else (name, extra)))

    def counter(self, name: str) -> Counter:
        return self.registry.setdefault((*self.path, name), Counter())


class State:
    def __init__(self) -> None:
        self.stored: Any = None

    def value(self) -> Any:
        return self.stored

    def update(self, value: Any) -> None:
        self.stored = value


class RuntimeContext:
    def __init__(self) -> None:
        self.counters: dict[tuple[Any, ...], Counter] = {}
        self.state = State()

    def get_state(self, _: Any) -> State:
        return self.state

    def get_metrics_group(self) -> MetricGroup:
        return MetricGroup(self.counters)


class Timers:
    def __init__(self, watermark: int) -> None:
        self.watermark = watermark

    def current_watermark(self) -> int:
        return self.watermark

    def current_processing_time(self) -> int:
        return T0

    def register_event_time_timer(self, _: int) -> None:
        pass

    def register_processing_time_timer(self, _: int) -> None:
        pass


class Context:
    def __init__(self, watermark: int) -> None:
        self.timers = Timers(watermark)

    def timer_service(self) -> Timers:
        return self.timers


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

    unparseable = list(function.process_element((UNPARSEABLE, 0, 0, "{not json"), Context(late_watermark)))
    behind = list(function.process_element(parse(json.dumps(raw(ev("init", 0, "s1")))), Context(late_watermark)))
    on_time = list(function.process_element(parse(json.dumps(raw(ev("init", 0, "s2")))), Context(T0)))

    assert [tag for tag, _ in unparseable + behind] == [LATE_EVENTS, LATE_EVENTS]
    assert on_time == []
    assert late_count(context, "unparseable") == 1
    assert late_count(context, "behind_watermark") == 1
    assert late_count(context, "session_finalised") == 0
