"""Replaying into an ingest URL: EPAS batches the real service accepts; 503 retried, 4xx counted."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from runtime.ingest.settings import load_settings
from runtime.replay.replay import arrival_ms, now_ms, replay_object
from runtime.replay.targets import Route, Routes, TargetRefused, UrlTarget
from runtime.replay.transform import Transform
from tests.ingest.fakes import FakeKinesis
from tests.ingest.live_server import serving
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


class _Answers(BaseHTTPRequestHandler):
    statuses: ClassVar[list[int]] = []
    posts: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        self.posts.append(self.rfile.read(int(self.headers["Content-Length"])))
        status = self.statuses.pop(0) if self.statuses else 200
        self.send_response(status)
        if status in (429, 503):
            self.send_header("Retry-After", "0")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_: object) -> None:
        pass


@contextmanager
def answering(statuses: list[int]) -> Iterator[str]:
    _Answers.statuses, _Answers.posts = list(statuses), []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


def test_503_and_429_are_retried_and_a_4xx_counts_the_batch_as_rejected() -> None:
    events = recorded_events(2)
    with answering([503, 429, 200, 400]) as url:
        target = UrlTarget("x", url)
        asyncio.run(target.send(events))  # 503, 429, then taken
        asyncio.run(target.send(events))  # 400: the target's validation said no
    assert (target.sent, target.rejected, len(_Answers.posts)) == (12, 12, 4)
    assert b'"server"' not in _Answers.posts[0], "the service adds its own server fields"


def test_a_url_that_keeps_refusing_fails_the_send(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("runtime.replay.targets.URL_ATTEMPTS", 3)
    with answering([503, 503, 503]) as url, pytest.raises(TargetRefused):
        asyncio.run(UrlTarget("x", url).send(recorded_events(1)))
