"""Historical replay: the objects of a prefix, in time order, fired at a pace set by their arrival times.

Objects are chosen by the arrival hour Firehose puts in their keys (``year=/month=/day=/hour=``;
an object without it, by its last-modified time) and read in key order, which is time
order within an hour. An event is due at ``start + (arrival - from) / speed``: the
replay keeps the gaps of the recorded traffic, compressed by the speed, and shifts every
timestamp by ``start - from``. Events outside [from, to) are skipped.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from runtime.replay.replay import arrival_ms, now_ms
from runtime.replay.source import ReadStats, read_events
from runtime.replay.targets import Routes

_HOUR_PARTITION = re.compile(r"year=(\d{4})/month=(\d{2})/day=(\d{2})/hour=(\d{2})/")
_HOUR_MS = 3_600_000
# Events due within this of each other go out together.
_BATCH_WINDOW_MS = 50


@dataclass(frozen=True)
class SourceObject:
    key: str
    hour_ms: int  # start of its arrival hour


@dataclass
class Progress:
    objects_total: int
    objects: int = 0
    read: ReadStats = field(default_factory=ReadStats)
    skipped: int = 0  # outside [from, to)
    sent: int = 0  # events handed to the targets (copies counted per target)
    lag_ms: int = 0  # how far the replay is behind the requested pace
    started: float = field(default_factory=time.monotonic)

    @property
    def events_per_second(self) -> float:
        return self.read.events / max(time.monotonic() - self.started, 1e-9)

    def line(self) -> str:
        return (f"objects {self.objects}/{self.objects_total}  events {self.read.events:,}  "
                f"{self.events_per_second:,.0f} events/s  lag {self.lag_ms / 1000:.1f} s  "
                f"malformed {self.read.malformed:,}  skipped {self.skipped:,}")  # fmt: skip


def hour_of(key: str, last_modified: datetime) -> int:
    match = _HOUR_PARTITION.search(key)
    if match is None:
        return int(last_modified.timestamp() * 1000) // _HOUR_MS * _HOUR_MS
    year, month, day, hour = map(int, match.groups())
    return int(datetime(year, month, day, hour, tzinfo=UTC).timestamp() * 1000)


def list_objects(s3: Any, bucket: str, prefix: str, from_ms: int, to_ms: int) -> list[SourceObject]:
    """Objects whose arrival hour overlaps [from, to), in time order."""
    chosen = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            hour = hour_of(item["Key"], item["LastModified"])
            if hour + _HOUR_MS > from_ms and hour < to_ms:
                chosen.append(SourceObject(item["Key"], hour))
    return sorted(chosen, key=lambda o: (o.hour_ms, o.key))


@dataclass(frozen=True)
class Pace:
    """When an event is due, for a replay that started at ``start_ms`` (wall clock)."""

    from_ms: int
    start_ms: int
    speed: float | None  # None: as fast as the targets take it

    def due_ms(self, arrival: int) -> int:
        if self.speed is None:
            return self.start_ms
        return self.start_ms + int((arrival - self.from_ms) / self.speed)


def batches(
    events: Iterator[tuple[int, dict[str, Any]]], pace: Pace, size: int
) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """(due time, events) of (arrival, event) pairs: up to `size` events due within a short window."""
    batch: list[dict[str, Any]] = []
    batch_due = 0
    for arrival, event in events:
        due = pace.due_ms(arrival)
        if batch and (len(batch) >= size or due - batch_due > _BATCH_WINDOW_MS):
            yield batch_due, batch
            batch = []
        if not batch:
            batch_due = due
        batch.append(event)
    if batch:
        yield batch_due, batch


async def replay_history(
    s3: Any,
    bucket: str,
    objects: list[SourceObject],
    window: tuple[int, int],
    pace: Pace,
    routes: Routes | None,  # None: a dry run, nothing is sent
    chunk_events: int,
    report: Callable[[Progress], None],
    clock_ms: Callable[[], int] = now_ms,
) -> Progress:
    from_ms, to_ms = window
    progress = Progress(objects_total=len(objects))
    for source in objects:
        body = s3.get_object(Bucket=bucket, Key=source.key)["Body"]
        events = read_events(body, progress.read)

        def in_window(events: Iterator[dict[str, Any]] = events) -> Iterator[tuple[int, dict[str, Any]]]:
            for event in events:
                arrival = arrival_ms(event)
                if from_ms <= arrival < to_ms:
                    yield arrival, event
                else:
                    progress.skipped += 1

        for due, batch in batches(in_window(), pace, chunk_events):
            wait_ms = due - clock_ms()
            if wait_ms > 0:
                await asyncio.sleep(wait_ms / 1000)
            progress.lag_ms = max(0, clock_ms() - due)
            if routes is not None:
                progress.sent += await routes.send(batch, clock_ms())
            report(progress)
        progress.objects += 1
        report(progress)
    return progress


def status_printer(stream: TextIO = sys.stderr, every_seconds: float = 0.5) -> Callable[[Progress], None]:
    """A progress line, redrawn in place on a terminal and printed every few seconds elsewhere."""
    last = [0.0]
    tty = stream.isatty()
    interval = every_seconds if tty else max(every_seconds, 5.0)

    def report(progress: Progress) -> None:
        now = time.monotonic()
        if now - last[0] < interval and progress.objects < progress.objects_total:
            return
        last[0] = now
        stream.write(("\r" + progress.line()) if tty else progress.line() + "\n")
        stream.flush()

    return report
