"""Stand-ins for what Flink hands the session function: a runtime context that records the
counters and state it registers (one key's: a bucket of sessions), and a context whose timer
service gives a fixed watermark."""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Iterator
from typing import Any

from runtime.sessionizer import stored
from tests.flink.java_parser import ParsedEvent
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


class MapState:
    """Values are kept pickled, as Flink keeps them: a change not put back is lost, as in Flink."""

    def __init__(self) -> None:
        self.stored: dict[Any, bytes] = {}

    def get(self, key: Any) -> Any:
        value = self.stored.get(key)
        return None if value is None else pickle.loads(value)

    def put(self, key: Any, value: Any) -> None:
        self.stored[key] = pickle.dumps(value)

    def remove(self, key: Any) -> None:
        self.stored.pop(key, None)

    def keys(self) -> Iterator[Any]:
        return iter(list(self.stored))

    def items(self) -> Iterator[tuple[Any, Any]]:
        return iter([(key, pickle.loads(value)) for key, value in self.stored.items()])


class CountingMapState(MapState):
    """A map state over another's values that counts the sessions read (whole-map reads included)
    and notes the keys read and written one by one."""

    def __init__(self, stored: dict[Any, bytes]) -> None:
        super().__init__()
        self.stored = stored
        self.reads = 0
        self.read_keys: list[Any] = []
        self.written_keys: list[Any] = []

    def get(self, key: Any) -> Any:
        self.reads += 1
        self.read_keys.append(key)
        return super().get(key)

    def put(self, key: Any, value: Any) -> None:
        self.written_keys.append(key)
        super().put(key, value)

    def items(self) -> Any:
        self.reads += len(self.stored)
        return super().items()


class RuntimeContext:
    def __init__(self) -> None:
        self.counters: dict[tuple[Any, ...], Counter] = {}
        self.states: dict[str, State] = {}
        self.map_states: dict[str, MapState] = {}

    def get_state(self, descriptor: Any) -> State:
        return self.states.setdefault(descriptor.get_name(), State())

    def get_map_state(self, descriptor: Any) -> MapState:
        return self.map_states.setdefault(descriptor.get_name(), MapState())

    def session(self, session_id: str) -> Any:
        """A session's Tracker as stored."""
        return stored.decode(session_id, self.map_states["sessions"].get(session_id))

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

    def get_current_key(self) -> Any:
        return ("bucket",)  # the fakes keep one key's state

    def timer_service(self) -> Timers:
        return self.timers


def batch(*records: ParsedEvent) -> tuple[list[str], list[int], list[str]]:
    """Parsed events (ParsedEvents' records) as SessionBatches sends them to the session function."""
    return [r[0] for r in records], [r[3] for r in records], [r[4] for r in records]


def late_outputs(outputs: Iterable[Any]) -> list[tuple[Any, str]]:
    """What the session function yielded to its side output (late events, tagged); session records
    are plain strings, and one goes out with any event whose session's last record is an update
    interval old, as the first event of a session is."""
    return [output for output in outputs if isinstance(output, tuple)]
