"""Stand-ins for what Flink hands the session function: a runtime context that records the
counters and state it registers, and a context whose timer service gives a fixed watermark."""

from __future__ import annotations

from typing import Any

from tests.sessionizer.sequences import T0


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

    def clear(self) -> None:
        self.stored = None


class RuntimeContext:
    def __init__(self) -> None:
        self.counters: dict[tuple[Any, ...], Counter] = {}
        self.state = State()

    def get_state(self, _: Any) -> State:
        return self.state

    def get_metrics_group(self) -> MetricGroup:
        return MetricGroup(self.counters)


class Timers:
    """A fixed watermark and processing time; records the timers registered."""

    def __init__(self, watermark: int, now_ms: int = T0) -> None:
        self.watermark = watermark
        self.now_ms = now_ms
        self.event_time: list[int] = []
        self.processing_time: list[int] = []

    def current_watermark(self) -> int:
        return self.watermark

    def current_processing_time(self) -> int:
        return self.now_ms

    def register_event_time_timer(self, timestamp: int) -> None:
        self.event_time.append(timestamp)

    def register_processing_time_timer(self, timestamp: int) -> None:
        self.processing_time.append(timestamp)


class Context:
    def __init__(self, watermark: int, now_ms: int = T0, domain: Any = None) -> None:
        self.timers = Timers(watermark, now_ms)
        self.domain = domain  # of the timer that fired (on_timer)

    def time_domain(self) -> Any:
        return self.domain

    def timer_service(self) -> Timers:
        return self.timers
