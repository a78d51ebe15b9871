"""The real HTTP server against kinesis-mock: what was acknowledged is exactly what is in the stream."""

from __future__ import annotations

import itertools
import json
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from runtime.kpl import user_records
from runtime.local.fault_proxy import FaultProxy
from runtime.local.kinesis_mock import LOCAL_CREDENTIALS, KinesisMock
from runtime.local.processes import Started, free_port, start, wait_until
from tests.graph import ROOT
from tests.kinesis import stream_events

pytestmark = pytest.mark.integration
REGION = "us-east-1"
_stream_numbers = itertools.count()


@dataclass
class IngestServer:
    url: str
    stream: str
    process: Started


def start_ingest(stream: str, kinesis_endpoint: str, log_dir: Path, **env: str) -> IngestServer:
    port = free_port()
    process = start(
        "ingest",
        [sys.executable, "-m", "runtime.ingest"],
        {
            "INGEST_STREAM_NAME": stream,
            "INGEST_REGION": REGION,
            "INGEST_KINESIS_ENDPOINT": kinesis_endpoint,
            "INGEST_HOST": "127.0.0.1",
            "INGEST_PORT": str(port),
            "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["aws_secret_access_key"],
            **env,
        },
        cwd=ROOT,
        log_dir=log_dir,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: httpx.get(f"{url}/ready").status_code == 200, process, 30, "ingest service")
    return IngestServer(url, stream, process)


@pytest.fixture
def stream(kinesis_mock: KinesisMock) -> str:
    name = f"prism-test-raw-{next(_stream_numbers)}"
    kinesis_mock.create_streams(REGION, {name: 2})
    return name


@pytest.fixture
def server(kinesis_mock: KinesisMock, stream: str, tmp_path: Path) -> Iterator[IngestServer]:
    ingest = start_ingest(stream, kinesis_mock.endpoint, tmp_path)
    yield ingest
    ingest.process.stop()


def read_stream(kinesis_mock: KinesisMock, stream: str) -> list[dict[str, Any]]:
    return stream_events(kinesis_mock.client(REGION), stream)


def epas(event: str, session: str, **fields: Any) -> dict[str, Any]:
    return {"event": event, "sessionId": session, "timestamp": int(time.time() * 1000), "playhead": 0,
            "duration": 600, "eventId": str(uuid.uuid4()), **fields}  # fmt: skip


def test_acknowledged_events_are_exactly_what_the_stream_holds(server: IngestServer, kinesis_mock: KinesisMock) -> None:
    acknowledged: list[str] = []
    rejected: list[str] = []
    with httpx.Client(base_url=server.url) as client:
        for i in range(30):  # single events, as the web SDK posts them
            event = epas(["init", "playing", "heartbeat"][i % 3], f"single-{i % 5}")
            response = client.post("/", json=event, headers={"X-EPAS-Event": event["event"]})
            assert response.status_code == 200
            acknowledged.append(event["eventId"])
        for b in range(10):  # batches
            batch = [epas("heartbeat", f"batch-{b}") for _ in range(20)]
            assert client.post("/events", json=batch).json() == {"accepted": 20, "rejected": []}
            acknowledged += [e["eventId"] for e in batch]
        for m in range(5):  # mixed batches: the valid ones are written, the invalid ones are not
            batch = [epas("playing", f"mixed-{m}"), epas("stopped", f"mixed-{m}", payload={"reason": "?"}),
                     epas("paused", f"mixed-{m}")]  # fmt: skip
            answer = client.post("/events", json=batch).json()
            assert answer["accepted"] == 2 and [r["index"] for r in answer["rejected"]] == [1]
            acknowledged += [batch[0]["eventId"], batch[2]["eventId"]]
            rejected.append(batch[1]["eventId"])

    in_stream = [e["eventId"] for e in read_stream(kinesis_mock, server.stream)]
    assert sorted(in_stream) == sorted(acknowledged), "nothing lost, nothing duplicated"
    assert not set(rejected) & set(in_stream)


def test_events_of_a_session_stay_in_order_on_one_shard(server: IngestServer, kinesis_mock: KinesisMock) -> None:
    sessions = [f"ordered-{i}" for i in range(8)]
    with httpx.Client(base_url=server.url) as client:
        for n in range(15):
            batch = [epas("heartbeat", s, playhead=n) for s in sessions]
            assert client.post("/events", json=batch).status_code == 200
    client = kinesis_mock.client(REGION)
    for shard in client.list_shards(StreamName=server.stream)["Shards"]:
        iterator = client.get_shard_iterator(StreamName=server.stream, ShardId=shard["ShardId"],
                                             ShardIteratorType="TRIM_HORIZON")["ShardIterator"]  # fmt: skip
        records = client.get_records(ShardIterator=iterator, Limit=10_000)["Records"]
        seen: dict[str, list[float]] = {}
        for _, data in user_records(records):
            event = json.loads(data)
            seen.setdefault(event["sessionId"], []).append(event["playhead"])
        for session, playheads in seen.items():
            assert playheads == list(map(float, range(15))), session
    total = sum(1 for _ in read_stream(kinesis_mock, server.stream))
    assert total == 8 * 15


def test_sigterm_answers_in_flight_requests_then_exits(kinesis_mock: KinesisMock, stream: str, tmp_path: Path) -> None:
    with FaultProxy(kinesis_mock.endpoint) as proxy:
        proxy.mode = "hold"  # the requests stay in flight until the service got SIGTERM
        ingest = start_ingest(stream, proxy.endpoint, tmp_path)
        answers: list[int] = []

        def post(i: int) -> None:
            answers.append(httpx.post(f"{ingest.url}/", json=epas("heartbeat", f"drain-{i}"), timeout=30).status_code)

        posters = [threading.Thread(target=post, args=(i,)) for i in range(5)]
        for poster in posters:
            poster.start()
        wait_until(lambda: "ingest_buffered_events 5.0" in httpx.get(f"{ingest.url}/metrics").text, ingest.process,
                   30, "five requests in flight")  # fmt: skip
        ingest.process.process.terminate()
        time.sleep(0.2)  # the service stops accepting before Kinesis answers
        proxy.release()
        for poster in posters:
            poster.join()
    # uvicorn re-raises SIGTERM once it has shut down cleanly, so the exit status says how it ended.
    assert ingest.process.process.wait(15) in (0, -signal.SIGTERM)
    tail = ingest.process.log_tail()
    assert '"message":"ingest_stopped"' in tail and '"unacknowledged":0' in tail
    assert answers == [200] * 5
    assert len(read_stream(kinesis_mock, stream)) == 5


def test_every_200_survives_throttling_and_an_outage(kinesis_mock: KinesisMock, stream: str, tmp_path: Path) -> None:
    with FaultProxy(kinesis_mock.endpoint) as proxy:
        ingest = start_ingest(stream, proxy.endpoint, tmp_path, INGEST_ACK_TIMEOUT_SECONDS="1",
                              INGEST_UNHEALTHY_AFTER_SECONDS="0.5")  # fmt: skip
        outcomes: list[tuple[str, str, int]] = []  # (phase, eventId, status)
        phase = ["normal"]
        stop = threading.Event()

        def client_loop(worker: int) -> None:
            with httpx.Client(base_url=ingest.url, timeout=10) as client:
                for n in itertools.count():
                    if stop.is_set():
                        return
                    event = epas("heartbeat", f"load-{worker}-{n % 3}")
                    current = phase[0]
                    status = client.post("/", json=event).status_code
                    outcomes.append((current, event["eventId"], status))

        workers = [threading.Thread(target=client_loop, args=(w,)) for w in range(6)]
        for worker in workers:
            worker.start()
        ready_during_outage: list[int] = []
        for name, mode, seconds in (("normal", "pass", 1.0), ("throttle", "throttle", 1.5), ("down", "down", 3.0),
                                    ("recovered", "pass", 2.0)):  # fmt: skip
            phase[0], proxy.mode = name, mode
            if name == "down":
                time.sleep(2.0)
                ready_during_outage.append(httpx.get(f"{ingest.url}/ready").status_code)
                time.sleep(seconds - 2.0)
            else:
                time.sleep(seconds)
        stop.set()
        for worker in workers:
            worker.join()
        ingest.process.stop()

    statuses = {status for _, _, status in outcomes}
    assert statuses <= {200, 503}, statuses
    acknowledged = {event_id for _, event_id, status in outcomes if status == 200}
    in_stream = [e["eventId"] for e in read_stream(kinesis_mock, stream)]
    assert acknowledged <= set(in_stream), f"{len(acknowledged - set(in_stream))} acknowledged events lost"
    assert any(status == 503 for p, _, status in outcomes if p == "down"), "the outage answered 503"
    assert any(status == 200 for p, _, status in outcomes if p == "recovered"), "the service recovered"
    assert ready_during_outage == [503], "the ALB would drain the task"
    duplicates = len(in_stream) - len(set(in_stream))
    assert duplicates == 0, "the client never retried, so nothing may be duplicated"
