"""One object of a raw bucket through each target's transform into every target."""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, BinaryIO

from runtime.events import received_at
from runtime.replay.settings import TargetSpec
from runtime.replay.source import ReadStats, read_events
from runtime.replay.targets import Route, Routes, Target
from runtime.replay.transform import Transform


def now_ms() -> int:
    return int(time.time() * 1000)


def arrival_ms(event: dict[str, Any]) -> int:
    """When the event reached the ingest service (its clock), else the player's timestamp."""
    received = received_at(event)
    return int(event["timestamp"]) if received is None else received


@dataclass
class ObjectResult:
    key: str
    read: ReadStats = field(default_factory=ReadStats)
    sent: int = 0  # events sent to all targets together (copies included)


def chunks(events: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    while chunk := list(islice(events, size)):
        yield chunk


@contextlib.contextmanager
def long_lived_objects_frozen() -> Iterator[None]:
    """Hide every object alive now (modules, botocore's models, clients) from the cyclic collector.

    A replay allocates several dicts per event and frees them batch by batch, so full
    collections come often, and each one walks the hundreds of thousands of objects botocore
    keeps: a third of the replay's CPU in bench/replay.py. Unfrozen afterwards, so whatever
    the replay dropped is collected as usual (a warm Lambda leaks nothing).
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def build_routes(specs: tuple[TargetSpec, ...], salt: str, shift_ms: int,
                 targets: Mapping[str, Target]) -> Routes:  # fmt: skip
    """The routes of already created targets (by TargetSpec.name), with the run's time shift."""
    return Routes(
        [Route(targets[spec.name], Transform(shift_ms, salt, spec.multiplier, spec.sample)) for spec in specs]
    )


async def replay_object(
    key: str,
    body: BinaryIO,
    routes_for_shift: Callable[[int], Routes],
    chunk_events: int,
    clock_ms: Callable[[], int] = now_ms,
) -> ObjectResult:
    """Replays one object, shifted so that its first event arrives now (gaps kept)."""
    result = ObjectResult(key)
    events = read_events(body, result.read)
    first = next(events, None)
    if first is None:
        return result
    routes = routes_for_shift(clock_ms() - arrival_ms(first))

    def everything() -> Iterator[dict[str, Any]]:
        yield first
        yield from events

    for chunk in chunks(everything(), chunk_events):
        result.sent += await routes.send(chunk, clock_ms())
    return result
