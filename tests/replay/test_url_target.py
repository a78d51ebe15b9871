"""Replaying into an ingest URL: batches the target takes; 503 retried, invalid events counted, refusals raised."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from runtime.ingest.settings import load_settings
from runtime.replay.replay import arrival_ms, now_ms, replay_object
from runtime.replay.targets import Route, Routes, TargetRefused, UrlTarget
from runtime.replay.transform import Transform
from runtime.retries import REPLAY_URL_POSTS
from tests.ingest.fakes import FakeKinesis
from tests.ingest.live_server import serving
from tests.recording_server import Answer, Recording, Request, answering_in_turn, recording_server
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
def answering(statuses: list[int], body: bytes = b"{}") -> Iterator[Recording]:
    """An ingest URL's stand-in answering with these statuses in turn (then 200); refusals say "retry now"."""
    answers = [Answer(status, body, {"Retry-After": "0"} if status in (429, 503) else {}) for status in statuses]
    with recording_server(answering_in_turn(answers)) as recording:
        yield recording


def test_503_and_429_are_retried_and_invalid_events_count_as_rejected() -> None:
    events = recorded_events(2)
    with answering([503, 429, 200, 400], b'{"error": "invalid_event", "valid": false}') as ingest:
        target = UrlTarget("x", f"{ingest.url}/")
        asyncio.run(target.send(events))  # 503, 429, then taken
        asyncio.run(target.send(events))  # 400 invalid_event: the target's validation said no to each
    assert (target.sent, target.rejected, len(ingest.requests)) == (12, 12, 4)
    assert b'"server"' not in ingest.requests[0].body, "the service adds its own server fields"


@pytest.mark.parametrize(("status", "body"), [(403, b"<html>Forbidden</html>"), (400, b'{"error": "invalid_json"}'),
                                              (415, b'{"error": "unsupported_media_type"}')])  # fmt: skip
def test_a_batch_the_target_refuses_for_any_other_reason_fails_the_send(status: int, body: bytes) -> None:
    """A WAF's 403 or a malformed request is the replayer's problem: never counted away as rejected events."""
    with (
        answering([status], body) as ingest,
        pytest.raises(TargetRefused, match=rf"refused a batch of 6 events: {status}"),
    ):
        asyncio.run(UrlTarget("x", f"{ingest.url}/").send(recorded_events(1)))


def _limited(max_events: int) -> Callable[[Request], Answer]:
    """A target that takes batches of at most `max_events`, as the service's 413 too_many_events says."""

    def answer(request: Request) -> Answer:
        count = len(json.loads(request.body))
        if count > max_events:
            return Answer(413, b'{"error": "too_many_events"}')
        return Answer(200, json.dumps({"accepted": count, "rejected": []}).encode())

    return answer


def test_a_413_halves_the_batch_until_the_target_takes_it_and_the_next_batches_start_there() -> None:
    with recording_server(_limited(2)) as ingest:
        target = UrlTarget("x", f"{ingest.url}/", max_batch_events=8)
        asyncio.run(target.send(recorded_events(2)))  # 12 events
    sizes = [len(json.loads(r.body)) for r in ingest.requests]
    assert target.sent == 12 and target.rejected == 0
    assert sizes == [8, 4, 2, 2, 2, 2, 2, 2], "after the first 413s, batches start at what the target took"


def test_batches_stay_within_the_targets_body_limit() -> None:
    events = recorded_events(2)
    with recording_server(_limited(500)) as ingest:
        target = UrlTarget("x", f"{ingest.url}/", max_body_bytes=400)
        asyncio.run(target.send(events))
    assert target.sent == 12
    assert len(ingest.requests) > 2
    assert all(len(r.body) <= 400 for r in ingest.requests)


def test_one_event_the_target_finds_too_large_fails_the_send() -> None:
    with recording_server(_limited(0)) as ingest, pytest.raises(TargetRefused, match=r"as too large \(413\)"):
        asyncio.run(UrlTarget("x", f"{ingest.url}/").send(recorded_events(1)))


def test_a_url_that_keeps_refusing_fails_the_send(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("runtime.replay.targets.URL_POSTS", dataclasses.replace(REPLAY_URL_POSTS, attempts=3))
    with answering([503, 503, 503]) as ingest, pytest.raises(TargetRefused):
        asyncio.run(UrlTarget("x", f"{ingest.url}/").send(recorded_events(1)))
