"""Replaying into an ingest URL: EPAS batches the real service accepts; 503 retried, 4xx counted."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from runtime.ingest.settings import load_settings
from runtime.replay.replay import arrival_ms, now_ms, replay_object
from runtime.replay.targets import Route, Routes, TargetRefused, UrlTarget
from runtime.replay.transform import Transform
from tests.ingest.fakes import FakeKinesis
from tests.ingest.live_server import serving
from tests.recording_server import Answer, Recording, answering_in_turn, recording_server
from tests.replay.objects import object_bytes, recorded_events

pytestmark = pytest.mark.integration


def test_replayed_events_are_accepted_by_the_running_ingest_service() -> None:
    events = recorded_events(20)
    events[7]["payload"] = "not an object"  # one event the service refuses, alone
    kinesis = FakeKinesis()
    settings = load_settings({"INGEST_STREAM_NAME": "raw", "INGEST_LINGER_MS": "0"})
    with serving(settings, kinesis) as (host, port):
        target = UrlTarget("dev/us-east-1", f"http://{host}:{port}/")

        def routes(shift: int) -> Routes:
            return Routes([Route(target, Transform(shift, "url-test", multiplier=2))])

        result = asyncio.run(replay_object("k", io.BytesIO(object_bytes(events)), routes, chunk_events=50))
    assert (result.read.events, target.sent, target.rejected) == (120, 238, 2)
    received = kinesis.events()
    assert len(received) == 238
    assert len({event["sessionId"] for event in received}) == 40
    assert all(abs(event["server"]["receivedAt"] - now_ms()) < 60_000 for event in received), "stamped by the service"
    shift = min(event["timestamp"] for event in received) - min(event["timestamp"] for event in events)
    assert abs(shift - (now_ms() - arrival_ms(events[0]))) < 60_000, "timestamps moved so the replay is live now"


@contextmanager
def answering(statuses: list[int]) -> Iterator[Recording]:
    """An ingest URL's stand-in answering with these statuses in turn (then 200); refusals say "retry now"."""
    answers = [Answer(status, b"{}", {"Retry-After": "0"} if status in (429, 503) else {}) for status in statuses]
    with recording_server(answering_in_turn(answers)) as recording:
        yield recording


def test_503_and_429_are_retried_and_a_4xx_counts_the_batch_as_rejected() -> None:
    events = recorded_events(2)
    with answering([503, 429, 200, 400]) as ingest:
        target = UrlTarget("x", f"{ingest.url}/")
        asyncio.run(target.send(events))  # 503, 429, then taken
        asyncio.run(target.send(events))  # 400: the target's validation said no
    assert (target.sent, target.rejected, len(ingest.requests)) == (12, 12, 4)
    assert b'"server"' not in ingest.requests[0].body, "the service adds its own server fields"


def test_a_url_that_keeps_refusing_fails_the_send(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("runtime.replay.targets.URL_ATTEMPTS", 3)
    with answering([503, 503, 503]) as ingest, pytest.raises(TargetRefused):
        asyncio.run(UrlTarget("x", f"{ingest.url}/").send(recorded_events(1)))
