"""Where replayed events go: an environment's raw stream, or its ingest URL.

Into a stream, events go through the ingest service's own sink (runtime/ingest/sink.py):
KPL aggregation by shard, PutRecords with several calls in flight, per-record retries of
partial failures with backoff; ``send`` returns once Kinesis holds every event, or raises
``SinkUnavailable``. Into a URL, events go as EPAS batches (a JSON array per POST), sized
to what the target accepts: at most its events per batch and bytes per body, and a 413
halves the batch (and the batches after it). 429 and 5xx answers are retried after their
Retry-After (or a backoff). Events the target's validation refuses are counted as
rejected; any other refusal (a WAF's 403, a 413 for one event alone, a 4xx the service
never gives to valid EPAS) raises ``TargetRefused``: replayed load never disappears quietly,
and the live replayer's invocation fails, for its retries, its on-failure queue and alarms.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec

from runtime.events import EVENT_ID_FIELD, PARTITION_KEY_FIELD, SERVER_FIELD
from runtime.ingest.metrics import IngestMetrics
from runtime.ingest.settings import DEFAULT_MAX_BATCH_EVENTS, DEFAULT_MAX_BODY_BYTES, base_settings
from runtime.ingest.sink import KinesisSink, SinkUnavailable, sink_settings
from runtime.ingest.transport import KinesisClient
from runtime.ingest.validation import INVALID_EVENT
from runtime.replay.transform import Transform
from runtime.retries import REPLAY_URL_POSTS, RetryLater, is_retry_later, retry_after_seconds, retrying

_encode = msgspec.json.Encoder().encode
# A replay keeps Kinesis busy with large batches: events wait for an aggregate of
# 50 KB at most this long, and a send may wait this long for all its events.
LINGER_SECONDS = 0.02
ACK_TIMEOUT_SECONDS = 120.0
URL_POSTS = REPLAY_URL_POSTS  # a name of this module's, so a test can shorten it


class Target(Protocol):
    """Where a route sends: events taken (`sent`) or refused by the target's validation (`rejected`)."""

    name: str
    sent: int
    rejected: int

    async def start(self) -> None: ...

    async def send(self, events: Sequence[dict[str, Any]]) -> None: ...

    async def stop(self) -> None: ...


class StreamTarget:
    """A raw stream, written exactly as the ingest service writes it."""

    def __init__(
        self, name: str, client: KinesisClient, stream_name: str, region: str, max_in_flight_calls: int = 8
    ) -> None:
        self.name = name
        self.sent = 0
        self.rejected = 0
        self.metrics = IngestMetrics(stream_name)
        # The ingest service's own sink, with its KPL sizes; only the waiting is a replay's.
        service = dataclasses.replace(
            base_settings(stream_name, region),
            linger_ms=LINGER_SECONDS * 1000,
            max_in_flight_calls=max_in_flight_calls,
            buffer_max_events=10_000_000,
            ack_timeout_seconds=ACK_TIMEOUT_SECONDS,
        )
        self.sink = KinesisSink(client, sink_settings(service), self.metrics)

    async def start(self) -> None:
        await self.sink.start()

    async def send(self, events: Sequence[dict[str, Any]]) -> None:
        await self.sink.put([(event[PARTITION_KEY_FIELD], _encode(event)) for event in events])
        self.sent += len(events)

    async def stop(self) -> None:
        await self.sink.stop(ACK_TIMEOUT_SECONDS)

    @property
    def kinesis_records(self) -> int:
        return int(self.metrics.registry.get_sample_value("ingest_aggregated_records_total") or 0)

    @property
    def put_records_calls(self) -> int:
        return int(self.metrics.registry.get_sample_value("ingest_put_records_calls_total") or 0)


class TargetRefused(SinkUnavailable):
    """The target's ingest URL refused a batch for good, or kept refusing it."""


class UrlTarget:
    """An environment's ingest URL, as a player SDK would post to it."""

    def __init__(
        self,
        name: str,
        url: str,
        timeout_seconds: float = 10.0,
        max_batch_events: int = DEFAULT_MAX_BATCH_EVENTS,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self.name = name
        self.url = url
        self.timeout_seconds = timeout_seconds
        self.batch_events = max_batch_events  # lowered by a 413, for the rest of the replay
        self.max_body_bytes = max_body_bytes
        self.sent = 0
        self.rejected = 0

    async def start(self) -> None:
        return None

    async def send(self, events: Sequence[dict[str, Any]]) -> None:
        encoded = [_encode(_as_player_sent(event)) for event in events]
        start = 0
        while start < len(encoded):
            batch = self._next_batch(encoded, start)
            await asyncio.to_thread(self._post_fitting, batch)
            start += len(batch)

    def _next_batch(self, encoded: Sequence[bytes], start: int) -> list[bytes]:
        """As many events from `start` as a body of the target takes: its count, and its bytes with `[`, `,`, `]`."""
        batch: list[bytes] = []
        size = 2
        for event in encoded[start : start + self.batch_events]:
            if batch and size + len(event) + 1 > self.max_body_bytes:
                break
            batch.append(event)
            size += len(event) + 1
        return batch

    def _post_fitting(self, batch: list[bytes]) -> None:
        if self._post(b"[" + b",".join(batch) + b"]", len(batch)) != 413:
            return
        if len(batch) == 1:
            raise TargetRefused(f"{self.url} refused one event of {len(batch[0])} bytes as too large (413)")
        self.batch_events = min(self.batch_events, len(batch) // 2)
        start = 0
        while start < len(batch):  # in parts of the size as it stands now: a part's own 413 lowers it again
            part = batch[start : start + self.batch_events]
            self._post_fitting(part)
            start += len(part)

    def _post(self, body: bytes, count: int) -> int:
        """200 (counted) or 413 (for the caller to split); raises TargetRefused for any other refusal,
        and once 429, 5xx or no answer lasted every attempt of URL_POSTS."""
        try:
            for attempt in retrying(URL_POSTS, is_retry_later):
                with attempt:
                    return self._post_once(body, count)
        except RetryLater as error:
            raise TargetRefused(f"{self.url} refused a batch of {count} events {URL_POSTS.attempts} times: "
                                f"{error}") from None  # fmt: skip
        raise AssertionError("not reached: the last attempt returns or raises")

    def _post_once(self, body: bytes, count: int) -> int:
        request = urllib.request.Request(self.url, body, {"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
                answer = response.read()
        except urllib.error.HTTPError as error:
            if error.code == 413:
                return 413
            if error.code == 429 or error.code >= 500:
                raise RetryLater(f"{error.code}", retry_after_seconds(error.headers.get("Retry-After"))) from None
            code = _error_code(error.read())
            if error.code == 400 and code == INVALID_EVENT:
                self.rejected += count  # every event failed the target's validation
                return 400
            raise TargetRefused(f"{self.url} refused a batch of {count} events: {error.code} {code}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            raise RetryLater(f"no answer: {error}") from None
        # A batch is answered {"accepted": n, "rejected": [...]}: invalid events are refused one by one.
        accepted, rejected = _batch_outcome(answer, count)
        self.sent += accepted
        self.rejected += rejected
        return 200

    async def stop(self) -> None:
        return None


def _error_code(answer: bytes) -> str:
    """The "error" of the service's JSON error body, or what the answer starts with."""
    try:
        document = json.loads(answer)
    except ValueError:
        return answer[:80].decode("utf-8", "replace")
    return str(document.get("error", "")) if isinstance(document, dict) else ""


def _batch_outcome(answer: bytes, count: int) -> tuple[int, int]:
    """(accepted, rejected) of a batch's 200 answer; all accepted when the answer does not say."""
    try:
        document = json.loads(answer)
    except ValueError:
        return count, 0
    if isinstance(document, dict) and isinstance(document.get("accepted"), int):
        rejected = document.get("rejected")
        return document["accepted"], len(rejected) if isinstance(rejected, list) else count - document["accepted"]
    return count, 0


def _as_player_sent(event: dict[str, Any]) -> dict[str, Any]:
    """What a player posts: the service adds the event id and its server fields itself."""
    return {key: value for key, value in event.items() if key not in (SERVER_FIELD, EVENT_ID_FIELD)}


@dataclass
class Route:
    """A target and how events are changed for it."""

    target: Target
    transform: Transform


@contextlib.asynccontextmanager
async def running(targets: Iterable[Target]) -> AsyncIterator[None]:
    """Targets started together, and stopped (what they hold sent) together."""
    started = list(targets)
    await asyncio.gather(*(target.start() for target in started))
    try:
        yield
    finally:
        await asyncio.gather(*(target.stop() for target in started))


@dataclass
class Routes:
    """Every enabled target of a replay with its transform."""

    routes: list[Route]

    async def send(self, events: Sequence[dict[str, Any]], received_at_ms: int) -> int:
        """Each target gets its own copies of the events; returns how many were handed over in all."""
        batches = [
            [copy for event in events for copy in route.transform.copies(event, received_at_ms)]
            for route in self.routes
        ]
        await asyncio.gather(*(route.target.send(batch) for route, batch in zip(self.routes, batches, strict=True)))
        return sum(map(len, batches))
