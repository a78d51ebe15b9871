"""The HTTP service as an EPAS client and a browser see it (in-process, fake Kinesis and Firehose)."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from runtime.ingest.app import create_app
from runtime.ingest.body import DRAIN_MIN_BYTES
from runtime.ingest.metrics import EMF_DIMENSION, EVENTS_REJECTED
from runtime.ingest.settings import IngestSettings, SettingsError, load_settings
from tests.ingest.fakes import FakeKinesis

ORIGIN = "https://player.prism.example"
WEB_SDK_HEADERS = {"Content-Type": "application/json", "X-EPAS-Event": "init", "X-EPAS-Version": "0.3.1"}


class FakeFirehose:
    def __init__(self) -> None:
        self.documents: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def put_record_batch(self, *, DeliveryStreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
        with self._lock:
            self.documents.extend(json.loads(r["Data"]) for r in Records)
        return {"FailedPutCount": 0, "RequestResponses": [{"RecordId": str(i)} for i, _ in enumerate(Records)]}

    def wait_for(self, count: int) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 5
        while len(self.documents) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.documents


def settings(**overrides: str) -> IngestSettings:
    environ = {
        "INGEST_STREAM_NAME": "prism-dev-use1-raw",
        "INGEST_REGION": "us-east-1",
        "INGEST_FAILED_EVENTS_STREAM": "prism-dev-use1-failed-events",
        "INGEST_CORS_ORIGINS": ORIGIN,
        "INGEST_LINGER_MS": "2",
        "INGEST_MAX_BODY_BYTES": "65536",
        **overrides,
    }
    return load_settings(environ)


class Service:
    def __init__(self, client: TestClient, kinesis: FakeKinesis, firehose: FakeFirehose) -> None:
        self.client, self.kinesis, self.firehose = client, kinesis, firehose


@pytest.fixture
def service() -> Iterator[Service]:
    yield from _service(settings())


def _service(ingest_settings: IngestSettings) -> Iterator[Service]:
    kinesis, firehose = FakeKinesis(), FakeFirehose()
    with TestClient(create_app(ingest_settings, kinesis, firehose)) as client:
        yield Service(client, kinesis, firehose)


def epas(event: str, session: str = "a1b2c3", **fields: Any) -> dict[str, Any]:
    body = {"event": event, "sessionId": session, "timestamp": int(time.time() * 1000), "playhead": -1,
            "duration": -1, **fields}  # fmt: skip
    return body


def test_init_from_the_web_sdk_gets_the_session_and_heartbeat_interval(service: Service) -> None:
    response = service.client.post("/", headers=WEB_SDK_HEADERS, json={**epas("init"), "shardId": "default"})
    assert response.status_code == 200
    assert response.json() == {"sessionId": "a1b2c3", "heartbeatInterval": 5000}
    (written,) = service.kinesis.events()
    assert written["event"] == "init" and written["shardId"] == "default"


def test_other_events_get_a_small_acknowledgement(service: Service) -> None:
    response = service.client.post("/", headers={**WEB_SDK_HEADERS, "X-EPAS-Event": "playing"}, json=epas("playing"))
    assert response.json() == {"sessionId": "a1b2c3", "accepted": 1}


def test_an_invalid_event_gets_400_naming_the_field_and_is_recorded(service: Service) -> None:
    body = epas("stopped", payload={"reason": "bored"})
    response = service.client.post("/", headers=WEB_SDK_HEADERS, json=body)
    assert response.status_code == 400
    answer = response.json()
    assert answer["valid"] is False and answer["sessionId"] == "a1b2c3" and answer["error"] == "invalid_event"
    assert answer["details"] == [{"index": None, "field": "payload.reason", "reason": answer["details"][0]["reason"]}]
    assert "payload.reason" in answer["message"]
    (failed,) = service.firehose.wait_for(1)
    assert failed["reason"] == "invalid_event" and json.loads(failed["original"]) == body
    assert service.kinesis.events() == []


def test_a_mixed_batch_writes_the_valid_events_and_lists_the_rejected(service: Service) -> None:
    batch = [epas("init", "s1"), epas("playing", "s1", timestamp="soon"), epas("heartbeat", "s2"), {"nonsense": 1}]
    response = service.client.post("/events", json=batch)
    assert response.status_code == 200
    answer = response.json()
    assert answer["accepted"] == 2
    assert [(r["index"], r["field"]) for r in answer["rejected"]] == [(1, "timestamp"), (3, "event")]
    assert sorted(e["sessionId"] for e in service.kinesis.events()) == ["s1", "s2"]
    assert len(service.firehose.wait_for(2)) == 2


def test_events_are_enriched_with_server_context(service: Service) -> None:
    headers = {"User-Agent": "prism-web/3.1", "X-Forwarded-For": "10.9.9.9, 203.0.113.7"}
    service.client.post("/", headers=headers, json=epas("loading"))
    (written,) = service.kinesis.events()
    server = written["server"]
    assert server["clientIp"] == "203.0.113.7", "the ALB's entry, not the client's claim"
    assert server["userAgent"] == "prism-web/3.1" and server["region"] == "us-east-1"
    assert abs(server["receivedAt"] - time.time() * 1000) < 5_000
    assert len(written["eventId"]) == 36


@pytest.mark.parametrize(
    ("headers", "body", "status", "code"),
    [
        ({"Content-Type": "application/xml"}, b"<event/>", 415, "unsupported_media_type"),
        ({}, b"{}", 415, "unsupported_media_type"),
        ({"Content-Type": "application/json"}, b'{"event": "init",', 400, "invalid_json"),
        ({"Content-Type": "application/json"}, b"[" + b'"x",' * 20_000 + b'"x"]', 413, "body_too_large"),
        ({"Content-Type": "application/json"}, b"[]", 400, "empty_batch"),
        ({"Content-Type": "application/json"}, b"[" * 5_000 + b"]" * 5_000, 400, "too_deeply_nested"),
        ({"Content-Type": "application/json"}, b'{"a":' * 3_000 + b"1" + b"}" * 3_000, 400, "too_deeply_nested"),
        ({"Content-Type": "application/x-www-form-urlencoded"}, b"event=init", 415, "unsupported_media_type"),
        ({"Content-Type": "application/json", "Content-Encoding": "br"}, b"{}", 415, "unsupported_encoding"),
        ({"Content-Type": "application/json", "Content-Encoding": "gzip"}, b"{}", 400, "invalid_encoding"),
        ({"Content-Type": "application/json", "Content-Encoding": "gzip"}, gzip.compress(b"{}")[:-4], 400,
         "invalid_encoding"),
        # 100 kB of zeros inflate past the 64 kB limit from a few hundred bytes.
        ({"Content-Type": "application/json", "Content-Encoding": "gzip"}, gzip.compress(b"0" * 100_000), 413,
         "body_too_large"),
    ],
)  # fmt: skip
def test_unusable_bodies_get_a_clear_error_and_are_recorded(
    service: Service, headers: dict[str, str], body: bytes, status: int, code: str
) -> None:
    response = service.client.post("/", headers=headers, content=body)
    assert response.status_code == status
    assert response.json()["error"] == code
    (failed,) = service.firehose.wait_for(1)
    assert failed["reason"] == code
    assert failed["originalBytes"] <= len(body)


def test_a_body_past_what_is_drained_is_refused_and_the_connection_closed(service: Service) -> None:
    body = b"[" + b"1," * (DRAIN_MIN_BYTES // 2) + b"1]"
    response = service.client.post("/", headers={"Content-Type": "application/json"}, content=body)
    assert response.status_code == 413 and response.headers["connection"] == "close"
    (failed,) = service.firehose.wait_for(1)
    assert failed["reason"] == "body_too_large" and failed["truncated"]


def test_gzip_bodies_are_inflated(service: Service) -> None:
    batch = [epas("init", "zipped"), epas("playing", "zipped")]
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    # Two gzip members, as a client that compresses in chunks sends them.
    body = gzip.compress(json.dumps(batch).encode()[:10]) + gzip.compress(json.dumps(batch).encode()[10:])
    response = service.client.post("/events", headers=headers, content=body)
    assert response.status_code == 200 and response.json()["accepted"] == 2
    assert [e["event"] for e in service.kinesis.events()] == ["init", "playing"]


def test_a_refused_media_type_keeps_the_body_as_a_failed_event(service: Service) -> None:
    response = service.client.post("/", headers={"Content-Type": "text/html"}, content=b"<p>init</p>")
    assert response.status_code == 415
    assert response.json()["message"] == "send events as application/json or text/plain, not text/html"
    (failed,) = service.firehose.wait_for(1)
    assert failed["original"] == "<p>init</p>"


def test_sendbeacon_text_plain_bodies_are_accepted(service: Service) -> None:
    response = service.client.post(
        "/",
        headers={"Content-Type": "text/plain;charset=UTF-8"},
        content=json.dumps(epas("stopped", payload={"reason": "ended"})),
    )
    assert response.status_code == 200


def test_cors_preflight_allows_the_listed_origin_and_epas_headers(service: Service) -> None:
    response = service.client.options(
        "/",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-epas-event,x-epas-version",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "x-epas-event" in allowed and "x-epas-version" in allowed


def test_cors_refuses_an_unlisted_origin(service: Service) -> None:
    response = service.client.options(
        "/", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


def test_a_cross_origin_post_exposes_the_epas_headers(service: Service) -> None:
    response = service.client.post("/", headers={**WEB_SDK_HEADERS, "Origin": ORIGIN}, json=epas("init"))
    assert response.headers["access-control-allow-origin"] == ORIGIN
    exposed = response.headers["access-control-expose-headers"].lower()
    assert "x-epas-event" in exposed and "x-epas-version" in exposed


def test_plain_options_lists_the_methods(service: Service) -> None:
    response = service.client.options("/")
    assert response.status_code == 204 and response.headers["allow"] == "POST, OPTIONS"


def test_health_ready_and_metrics(service: Service) -> None:
    assert service.client.get("/health").json() == {"status": "ok"}
    assert service.client.get("/ready").status_code == 200
    service.client.post("/", json=epas("init"))
    metrics = service.client.get("/metrics").text
    assert "ingest_events_accepted_total 1.0" in metrics
    assert 'ingest_requests_total{status="200"} 1.0' in metrics


def test_a_task_that_cannot_reach_its_stream_is_not_ready() -> None:
    """The load balancer must not send players to a task whose first ListShards failed."""
    kinesis = FakeKinesis()
    kinesis.mode = "down"
    with TestClient(create_app(settings(), kinesis, FakeFirehose())) as client:
        answer = client.get("/ready")
        assert answer.status_code == 503 and answer.json()["reason"] == "the stream was not reached yet"
        kinesis.mode = "ok"
        deadline = time.monotonic() + 10  # the first retry comes after 1 s
        while client.get("/ready").status_code != 200:
            assert time.monotonic() < deadline, "ready once the stream answers"
            time.sleep(0.1)


def test_kinesis_down_answers_503_with_retry_after_and_ready_fails() -> None:
    for service in _service(settings(INGEST_ACK_TIMEOUT_SECONDS="0.3", INGEST_UNHEALTHY_AFTER_SECONDS="0.1")):
        service.kinesis.mode = "down"
        response = service.client.post("/", json=epas("init"))
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert response.json()["error"] == "unavailable"
        assert service.client.get("/ready").status_code == 503
        service.kinesis.mode = "ok"
        assert service.client.post("/", json=epas("init", "s9")).status_code == 200
        assert service.client.get("/ready").status_code == 200
        assert [e["sessionId"] for e in service.kinesis.events()] == ["s9"]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("INGEST_STREAM_NAME", "", "INGEST_STREAM_NAME is required"),
        ("INGEST_LINGER_MS", "-5", "INGEST_LINGER_MS must be >= 0, got -5.0"),
        ("INGEST_PORT", "http", "INGEST_PORT must be a whole number, got 'http'"),
        ("INGEST_KINESIS_ENDPOINT", "localhost:4567", "INGEST_KINESIS_ENDPOINT must be an http:// or https:// URL"),
        ("INGEST_CORS_ORIGINS", "player.example", "INGEST_CORS_ORIGINS must list origins"),
        ("INGEST_PUT_RECORDS_MAX_COUNT", "501", "INGEST_PUT_RECORDS_MAX_COUNT must be <= 500"),
    ],
)
def test_bad_settings_stop_the_start_naming_the_variable(variable: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        settings(**{variable: value})
    assert str(raised.value).startswith(message)


def test_counters_ship_as_cloudwatch_emf_deltas(service: Service) -> None:
    metrics = service.client.app.state.ingest.metrics  # type: ignore[attr-defined]
    service.client.post("/", json=epas("init"))
    first = metrics.emf(now=1_764_000_000.0)
    assert first["_aws"]["Timestamp"] == 1_764_000_000_000
    (directive,) = first["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "prism/ingest"
    assert {"Name": "ingest_events_accepted", "Unit": "Count"} in directive["Metrics"]
    assert first["ingest_events_accepted"] == 1.0
    service.client.post("/", json=epas("init", "other"))
    service.client.post("/", json=epas("init", "third"))
    assert metrics.emf()["ingest_events_accepted"] == 2.0, "the increase since the last document"


def test_emf_ships_each_labelled_counter_and_its_sum_per_stream(service: Service) -> None:
    """Alarms watch a labelled counter's sum, under the counter's own name, for the service's stream."""
    metrics = service.client.app.state.ingest.metrics  # type: ignore[attr-defined]
    metrics.emf()
    service.client.post("/", json=[epas("init"), {"eventType": "nonsense"}])
    service.client.post("/", json={"eventType": "nonsense"})
    document = metrics.emf()
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Dimensions"] == [[EMF_DIMENSION]]
    assert document[EMF_DIMENSION] == service.client.app.state.ingest.settings.stream_name  # type: ignore[attr-defined]
    reasons = {k: v for k, v in document.items() if k.startswith(f"{EVENTS_REJECTED}.")}
    assert reasons and sum(reasons.values()) == document[EVENTS_REJECTED] == 2.0
    assert metrics.emf()[EVENTS_REJECTED] == 0.0, "the sum ships as a delta too"
