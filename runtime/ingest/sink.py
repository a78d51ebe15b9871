"""The Kinesis sink: a request is acknowledged only after all its events are in Kinesis.

Requests hand their events to ``put``; a flusher groups what arrived while the previous
PutRecords call was in flight (for the linger time at most) into KPL aggregates
(aggregation.py) and ships them with PutRecords, several calls in flight. An event is
acknowledged when the Kinesis record holding it is accepted. Records refused in a
partially failed PutRecords, and whole calls that failed, put their events back in the
queue with jittered exponential backoff (runtime/retries.py, KINESIS_PUTS); they are
re-aggregated with newer events, so a retry is always a fresh, well-formed aggregate.

A request whose events are not all durable within the ack timeout gets
``SinkUnavailable`` (the app answers 503 with Retry-After): nothing is acknowledged
that was not written. Events of such a request that were not sent yet are dropped
from the queue, since the client was told to send them again; events already in
flight may still land, so a client retry can duplicate them (at-least-once). When the
queue holds ``buffer_max_events`` unacknowledged events, ``put`` refuses at once
(``Backpressure``, also a 503) instead of dropping anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from runtime.ingest.acks import AckDeadlines, Ticket
from runtime.ingest.aggregation import Aggregator, KinesisRecord, ShardMap, put_records_batches
from runtime.ingest.metrics import IngestMetrics
from runtime.ingest.settings import IngestSettings
from runtime.ingest.transport import KinesisClient
from runtime.retries import KINESIS_PUTS, backoff_seconds

log = logging.getLogger("prism.ingest.sink")

THROTTLED = "ProvisionedThroughputExceededException"
_SHARD_MAP_REFRESH_SECONDS = 60.0
# Until the stream was reached once, ListShards is tried again sooner, doubling up to the refresh interval.
_FIRST_CONTACT_RETRY_SECONDS = 1.0


class SinkUnavailable(Exception):
    """Kinesis did not take the events in time, or the service is shutting down."""


class Backpressure(SinkUnavailable):
    """Too many events wait for Kinesis already."""


@dataclass(frozen=True)
class SinkSettings:
    stream_name: str
    linger_seconds: float
    aggregation_max_bytes: int
    put_records_max_count: int
    put_records_max_bytes: int
    max_in_flight_calls: int
    buffer_max_events: int
    ack_timeout_seconds: float
    # Unhealthy (GET /ready answers 503) once Kinesis has refused everything for this long.
    unhealthy_after_seconds: float = 3.0


def sink_settings(settings: IngestSettings) -> SinkSettings:
    """The sink of a service with these settings (the ingest app's, and a replay's)."""
    return SinkSettings(
        stream_name=settings.stream_name,
        linger_seconds=settings.linger_ms / 1000,
        aggregation_max_bytes=settings.aggregation_max_bytes,
        put_records_max_count=settings.put_records_max_count,
        put_records_max_bytes=settings.put_records_max_bytes,
        max_in_flight_calls=settings.max_in_flight_calls,
        buffer_max_events=settings.buffer_max_events,
        ack_timeout_seconds=settings.ack_timeout_seconds,
        unhealthy_after_seconds=settings.unhealthy_after_seconds,
    )


@dataclass(slots=True)
class _UserRecord:
    partition_key: str
    data: bytes
    ticket: Ticket
    attempts: int = 0
    not_before: float = 0.0  # monotonic time before which a retry waits


@dataclass
class _Queue:
    fresh: deque[_UserRecord] = field(default_factory=deque)
    retry: deque[_UserRecord] = field(default_factory=deque)


class KinesisSink:
    def __init__(
        self,
        client: KinesisClient,
        settings: SinkSettings,
        metrics: IngestMetrics,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not inspect.iscoroutinefunction(client.put_records):
            raise TypeError("the sink's Kinesis client answers asynchronously (runtime/ingest/transport); "
                            f"{type(client).__name__}.put_records does not (a boto3 client?)")  # fmt: skip
        self.client = client
        self.settings = settings
        self.metrics = metrics
        self.clock = clock
        self.shard_map = ShardMap([])
        self._queue = _Queue()
        self._unacknowledged = 0
        self._deadlines = AckDeadlines(settings.ack_timeout_seconds)
        metrics.buffered_events.set_function(lambda: self._unacknowledged)
        self._wakeup = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._calls = asyncio.Semaphore(settings.max_in_flight_calls)
        self._closing = False
        self._flusher: asyncio.Task[None] | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._failing_since: float | None = None
        # Ready only once Kinesis answered: a task that cannot reach its stream (no route,
        # no credentials) must not get players from the load balancer.
        self._reached = False
        self._fresh_since = 0.0  # arrival of the oldest fresh event
        self._fresh_bytes = 0

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        await self.refresh_shard_map()
        self._flusher = asyncio.create_task(self._flush_loop(), name="kinesis-sink-flusher")
        self._refresher = asyncio.create_task(self._refresh_loop(), name="kinesis-sink-shard-map")

    async def stop(self, drain_seconds: float) -> None:
        """Refuse new events, send what is queued (within drain_seconds), then stop."""
        self._closing = True
        self._wakeup.set()
        if self._refresher is not None:
            self._refresher.cancel()
        if self._flusher is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._flusher), drain_seconds)
            except TimeoutError:
                log.error("sink_drain_timeout", extra={"unacknowledged": self._unacknowledged})
                self._flusher.cancel()
        for ticket_future in self._waiting_futures():
            ticket_future.set_exception(SinkUnavailable("the service stopped before Kinesis took the events"))
        self._deadlines.cancel()
        await self.client.close()

    @property
    def healthy(self) -> bool:
        return not self.unhealthy_reason

    @property
    def unhealthy_reason(self) -> str:
        """Why the sink should get no traffic; empty when it is healthy."""
        if self._closing:
            return "shutting down"
        if not self._reached:
            return "the stream was not reached yet"
        if (
            self._failing_since is not None
            and self.clock() - self._failing_since >= self.settings.unhealthy_after_seconds
        ):
            return "Kinesis refuses every write"
        return ""

    @property
    def unacknowledged(self) -> int:
        return self._unacknowledged

    # -- requests --------------------------------------------------------------

    async def put(self, records: Sequence[tuple[str, bytes]]) -> None:
        """Wait until every (partition key, data) is in Kinesis; raise SinkUnavailable if not in time."""
        if not records:
            return
        if self._closing:
            raise SinkUnavailable("the service is shutting down")
        if self._unacknowledged + len(records) > self.settings.buffer_max_events:
            self.metrics.backpressure.inc()
            raise Backpressure(f"{self._unacknowledged} events already wait for Kinesis")
        loop = asyncio.get_running_loop()
        ticket = Ticket(len(records), loop.create_future())
        first = not self._queue.fresh
        if first:
            self._fresh_since = self.clock()
        for pk, data in records:
            self._queue.fresh.append(_UserRecord(pk, data, ticket))
            self._fresh_bytes += len(data)
        self._unacknowledged += len(records)
        self._deadlines.add(loop, ticket)
        # The flusher waits for the first fresh event, then lingers until its time is up or a
        # whole call is waiting: waking it for every event in between cost a wait per request.
        if first or self._fresh_bytes >= self.settings.put_records_max_bytes:
            self._wakeup.set()
        try:
            await ticket.future
        except TimeoutError:
            self.metrics.unavailable.inc()
            raise SinkUnavailable(
                f"Kinesis did not take the events within {self.settings.ack_timeout_seconds:g} s"
            ) from None

    # -- flushing --------------------------------------------------------------

    async def _flush_loop(self) -> None:
        while True:
            await self._wait_for_work()
            if self._closing and not self._queue.fresh and not self._queue.retry and not self._in_flight:
                return
            await self._linger()
            self._ship(self._take_ready())

    async def _linger(self) -> None:
        """Let concurrent requests join while a PutRecords call is in flight: until one returns,
        the oldest fresh event has waited the linger time, or a whole call is waiting.

        With no call in flight the events go at once: waiting would only add latency, and
        every request the event loop had already read has joined by then (the flusher runs
        after them). Under load calls go back to back and each carries what arrived during
        the previous one, so a task makes at most one call per round trip plus one per
        linger time, whatever the event rate: that bounds the records per second a shard
        gets (1,000 at most) as the fixed linger did. A fixed linger also made every
        acknowledgement wait for it, which capped each connection at one request per linger
        time plus the work, even for an endpoint doing nothing else.
        """
        while not self._closing and self._queue.fresh and self._fresh_bytes < self.settings.put_records_max_bytes:
            if not self._in_flight:
                return
            remaining = self._fresh_since + self.settings.linger_seconds - self.clock()
            if remaining <= 0:
                return
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), remaining)

    async def _wait_for_work(self) -> None:
        """Return when there are fresh events, a retry is due, or a shutdown has nothing left to wait for."""
        while True:
            if self._queue.fresh:
                return
            if self._closing and not self._queue.retry and not self._in_flight:
                return
            timeout: float | None = None
            if self._queue.retry:
                timeout = min(r.not_before for r in self._queue.retry) - self.clock()
                if timeout <= 0:
                    return
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout)
            except TimeoutError:
                return

    def _take_ready(self) -> list[_UserRecord]:
        now = self.clock()
        ready: list[_UserRecord] = []
        waiting: deque[_UserRecord] = deque()
        # Retries first: they are the oldest events.
        for record in self._queue.retry:
            (ready if record.not_before <= now else waiting).append(record)
        self._queue.retry = waiting
        ready.extend(self._queue.fresh)
        self._queue.fresh = deque()
        self._fresh_bytes = 0
        kept = [r for r in ready if not r.ticket.abandoned]
        self._unacknowledged -= len(ready) - len(kept)
        return kept

    def _ship(self, records: list[_UserRecord]) -> None:
        aggregator: Aggregator[_UserRecord] = Aggregator(self.settings.aggregation_max_bytes, self.shard_map)
        aggregates: list[KinesisRecord[_UserRecord]] = []
        for record in records:
            aggregates.extend(aggregator.add(record.partition_key, record.data, record))
        aggregates.extend(aggregator.flush())
        for batch in put_records_batches(
            aggregates, self.settings.put_records_max_count, self.settings.put_records_max_bytes
        ):
            task = asyncio.create_task(self._send(batch))
            self._in_flight.add(task)
            task.add_done_callback(self._call_done)

    def _call_done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("sink_send_crashed", exc_info=task.exception())
        self._wakeup.set()  # a lingering batch can go, or a shutdown finish

    async def _send(self, batch: list[KinesisRecord[_UserRecord]]) -> None:
        async with self._calls:
            started = time.perf_counter()
            self.metrics.put_records_calls.inc()
            try:
                response = await self.client.put_records(
                    StreamName=self.settings.stream_name,
                    Records=[record.put_records_entry() for record in batch],
                )
            except Exception as error:  # the call as a whole failed: endpoint down, throttled, 5xx
                code = getattr(error, "response", {}).get("Error", {}).get("Code") or type(error).__name__
                log.warning("put_records_failed", extra={"error": code, "records": len(batch)})
                self._retry(batch, code)
                return
            finally:
                self.metrics.put_records_latency.observe(time.perf_counter() - started)
        results = response.get("Records", [])
        failed: list[KinesisRecord[_UserRecord]] = []
        for record, result in zip(batch, results, strict=True):
            if "ErrorCode" in result:
                failed.append(record)
                self.metrics.put_records_retries.labels(result["ErrorCode"]).inc()
                if result["ErrorCode"] == THROTTLED:
                    self.metrics.put_records_throttles.inc()
                continue
            self.metrics.aggregated_records.inc()
            self.metrics.user_records_per_record.observe(len(record.items))
            for item in record.items:
                item.ticket.event_written()
            self._unacknowledged -= len(record.items)
        if failed:
            self._retry(failed, None)
        if len(failed) < len(batch):
            self._failing_since = None
            self._reached = True

    def _retry(self, failed: list[KinesisRecord[_UserRecord]], call_error: str | None) -> None:
        if self._failing_since is None:
            self._failing_since = self.clock()
        if call_error is not None:
            self.metrics.put_records_retries.labels(call_error).inc(len(failed))
        # One jittered delay for everything this call failed, so it comes back as one
        # batch (and re-aggregates as densely as it went out).
        attempts = 1 + max(item.attempts for record in failed for item in record.items)
        not_before = self.clock() + backoff_seconds(KINESIS_PUTS, attempts)
        for record in failed:
            for item in record.items:
                item.attempts = attempts
                item.not_before = not_before
                self._queue.retry.append(item)
        self._wakeup.set()

    def _waiting_futures(self) -> list[asyncio.Future[None]]:
        futures = {id(r.ticket): r.ticket.future for r in (*self._queue.fresh, *self._queue.retry)}
        return [f for f in futures.values() if not f.done()]

    # -- shard map -------------------------------------------------------------

    async def refresh_shard_map(self) -> bool:
        """Reads the stream's shards; False when Kinesis could not be asked."""
        try:
            shards: list[dict[str, Any]] = []
            kwargs: dict[str, Any] = {"StreamName": self.settings.stream_name}
            while True:
                page = await self.client.list_shards(**kwargs)
                shards.extend(page.get("Shards", []))
                token = page.get("NextToken")
                if not token:
                    break
                kwargs = {"NextToken": token}
        except Exception as error:
            # Without the layout every aggregate goes out under its first partition key:
            # still correct, only a session's events may then spread over shards.
            log.warning("list_shards_failed", extra={"error": str(error), "known_shards": len(self.shard_map)})
            return False
        self.shard_map = ShardMap.from_list_shards(shards)
        self._reached = True
        return True

    async def _refresh_loop(self) -> None:
        delay = _FIRST_CONTACT_RETRY_SECONDS
        while True:
            await asyncio.sleep(_SHARD_MAP_REFRESH_SECONDS if self._reached else delay)
            if not await self.refresh_shard_map():
                delay = min(_SHARD_MAP_REFRESH_SECONDS, delay * 2)
