"""The retry/acknowledgement state machine against a Kinesis that throttles, fails partially and goes down."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import boto3
import pytest

from runtime.ingest.metrics import IngestMetrics
from runtime.ingest.sink import Backpressure, KinesisSink, SinkSettings, SinkUnavailable
from tests.ingest.fakes import FakeKinesis


def sink_settings(**overrides: Any) -> SinkSettings:
    values: dict[str, Any] = {
        "stream_name": "raw",
        "linger_seconds": 0.005,
        "aggregation_max_bytes": 51_200,
        "put_records_max_count": 500,
        "put_records_max_bytes": 5_242_880,
        "max_in_flight_calls": 4,
        "buffer_max_events": 10_000,
        "ack_timeout_seconds": 2.0,
        "unhealthy_after_seconds": 0.2,
    }
    values.update(overrides)
    return SinkSettings(**values)


def events(n: int, session: str = "s") -> list[tuple[str, bytes]]:
    return [(f"{session}-{i % 7}", json.dumps({"sessionId": f"{session}-{i % 7}", "n": i}).encode()) for i in range(n)]


def run(scenario: Callable[[KinesisSink, FakeKinesis], Awaitable[None]], fake: FakeKinesis | None = None,
        **overrides: Any) -> FakeKinesis:  # fmt: skip
    kinesis = fake or FakeKinesis()

    async def main() -> None:
        sink = KinesisSink(kinesis, sink_settings(**overrides), IngestMetrics())
        await sink.start()
        try:
            await scenario(sink, kinesis)
        finally:
            await sink.stop(drain_seconds=1.0)

    asyncio.run(main())
    return kinesis


def written(kinesis: FakeKinesis) -> list[int]:
    return sorted(e["n"] for e in kinesis.events())


def test_a_request_returns_only_after_its_events_are_in_kinesis() -> None:
    async def scenario(sink: KinesisSink, kinesis: FakeKinesis) -> None:
        await sink.put(events(30))
        assert written(kinesis) == list(range(30))

    run(scenario)


def test_concurrent_requests_share_aggregated_records_and_calls() -> None:
    async def scenario(sink: KinesisSink, kinesis: FakeKinesis) -> None:
        await asyncio.gather(*(sink.put([(f"s{i}", b'{"n": %d}' % i)]) for i in range(200)))
        assert written(kinesis) == list(range(200))
        assert kinesis.calls <= 5
        assert len(kinesis.records) <= 2 * kinesis.calls  # one aggregate per shard per call

    run(scenario, linger_seconds=0.02)


def test_partially_failed_put_records_retries_only_the_refused_records() -> None:
    fake = FakeKinesis(shards=4)
    fake.script = ["partial", "partial"]

    async def scenario(sink: KinesisSink, kinesis: FakeKinesis) -> None:
        await sink.put(events(400))
        assert written(kinesis) == list(range(400)), "each event exactly once"
        assert kinesis.refused > 0
        assert sink.metrics.put_records_retries.labels("ProvisionedThroughputExceededException")._value.get() > 0

    run(scenario, fake=fake)


def test_throttling_is_retried_with_backoff_until_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeKinesis()
    fake.script = ["throttle"] * 4
    # Every jitter draw at its top, so the backoff shows: 50 + 100 + 200 + 400 ms between the five calls.
    monkeypatch.setattr("runtime.retries.random.uniform", lambda low, high: high)

    async def scenario(sink: KinesisSink, kinesis: FakeKinesis) -> None:
        started = time.monotonic()
        await sink.put(events(10))
        assert written(kinesis) == list(range(10))
        assert kinesis.calls == 5, "the refused records come back together, once per backoff"
        assert time.monotonic() - started >= 0.75

    run(scenario, fake=fake)


def test_kinesis_down_past_the_ack_timeout_is_unavailable_and_nothing_is_written_later() -> None:
    fake = FakeKinesis()
    fake.mode = "down"

    async def scenario(sink: KinesisSink, kinesis: FakeKinesis) -> None:
        started = time.monotonic()
        with pytest.raises(SinkUnavailable, match=r"did not take the events within 0\.5 s"):
            await sink.put(events(5))
        assert 0.45 < time.monotonic() - started < 1.5
        assert not sink.healthy
        kinesis.mode = "ok"
        await sink.put(events(3, session="after"))
        await asyncio.sleep(0.3)
        # The abandoned events were answered 503: they are not sent behind the client's back.
        assert written(kinesis) == [0, 1, 2]
        assert sink.healthy

    run(scenario, fake=fake, ack_timeout_seconds=0.5)


def test_a_full_buffer_refuses_at_once_instead_of_dropping() -> None:
    fake = FakeKinesis()
    fake.mode = "down"

    async def scenario(sink: KinesisSink, kinesis: FakeKinesis) -> None:
        waiting = asyncio.create_task(sink.put(events(8)))
        await asyncio.sleep(0.05)
        with pytest.raises(Backpressure):
            await sink.put(events(5))
        kinesis.mode = "ok"
        await waiting
        assert written(kinesis) == list(range(8))
        assert sink.unacknowledged == 0

    run(scenario, fake=fake, buffer_max_events=10)


def test_stop_drains_what_is_queued() -> None:
    kinesis = FakeKinesis()
    results: list[object] = []

    async def main() -> None:
        sink = KinesisSink(kinesis, sink_settings(linger_seconds=0.2), IngestMetrics())
        await sink.start()
        puts = [asyncio.create_task(sink.put(events(4))) for _ in range(3)]
        await asyncio.sleep(0.01)
        await sink.stop(drain_seconds=2.0)
        results.extend(await asyncio.gather(*puts, return_exceptions=True))
        with pytest.raises(SinkUnavailable, match="shutting down"):
            await sink.put(events(1))

    asyncio.run(main())
    assert results == [None, None, None]
    assert len(kinesis.events()) == 12


def test_stop_fails_waiting_requests_when_kinesis_stays_down() -> None:
    kinesis = FakeKinesis()
    kinesis.mode = "down"
    results: list[BaseException | None] = []

    async def main() -> None:
        sink = KinesisSink(kinesis, sink_settings(ack_timeout_seconds=30), IngestMetrics())
        await sink.start()
        put = asyncio.create_task(sink.put(events(2)))
        await asyncio.sleep(0.05)
        await sink.stop(drain_seconds=0.3)
        results.extend(await asyncio.gather(put, return_exceptions=True))

    asyncio.run(main())
    (error,) = results
    assert isinstance(error, SinkUnavailable)
    assert kinesis.events() == []


def test_a_lone_event_goes_at_once_and_events_that_arrive_during_a_call_share_the_next() -> None:
    fake = SlowKinesis(delay=0.1)

    async def scenario(sink: KinesisSink, kinesis: FakeKinesis) -> None:
        started = time.monotonic()
        first = asyncio.create_task(sink.put(events(1, session="a")))
        await asyncio.sleep(0.02)  # the first call is in flight
        later = [asyncio.create_task(sink.put(events(1, session=f"b{i}"))) for i in range(20)]
        await first
        # No call was in flight: the linger (1 s here) was not waited for.
        assert time.monotonic() - started < 0.5
        await asyncio.gather(*later)
        assert kinesis.calls == 2, "the twenty that came during the first call went together in the second"
        assert time.monotonic() - started < 0.5

    run(scenario, fake=fake, linger_seconds=1.0)


def test_each_waiting_request_times_out_at_its_own_deadline() -> None:
    fake = FakeKinesis()
    fake.mode = "down"

    async def scenario(sink: KinesisSink, kinesis: FakeKinesis) -> None:
        started = time.monotonic()

        async def put_after(delay: float) -> float:
            await asyncio.sleep(delay)
            with pytest.raises(SinkUnavailable):
                await sink.put(events(1))
            return time.monotonic() - started

        first, second = await asyncio.gather(put_after(0.0), put_after(0.3))
        assert first >= 0.4 and second >= 0.7, "none answered before its own deadline"
        assert second - first >= 0.2 and second < 1.5, "the first did not wait for the second's deadline"

    run(scenario, fake=fake, ack_timeout_seconds=0.4)


class SlowKinesis(FakeKinesis):
    """Takes `delay` seconds to answer each PutRecords."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    async def put_records(self, *, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
        await asyncio.sleep(self.delay)
        return await super().put_records(StreamName=StreamName, Records=Records)


def test_a_blocking_client_is_refused_with_what_to_give_instead() -> None:
    boto3_client = boto3.client("kinesis", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    with pytest.raises(TypeError, match=r"answers asynchronously \(runtime/ingest/transport\)"):
        KinesisSink(boto3_client, sink_settings(), IngestMetrics())
