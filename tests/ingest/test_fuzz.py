"""Arbitrary bodies, headers and encodings never produce a 5xx, an unhandled exception or no answer.

Two levels: hypothesis against the app in-process (every answer is our JSON error shape),
and a seeded mutation run against the service on a real socket (uvicorn), where a body
the service did not read can turn into a connection reset instead of an answer.
"""

from __future__ import annotations

import gzip
import json
import random
import socket
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from runtime.ingest.app import create_app
from runtime.ingest.settings import load_settings
from tests.ingest.fakes import FakeKinesis
from tests.ingest.live_server import serving

MAX_BODY_BYTES = 4096
ENVIRON = {"INGEST_STREAM_NAME": "raw", "INGEST_LINGER_MS": "0", "INGEST_MAX_BODY_BYTES": str(MAX_BODY_BYTES)}
KNOWN_CONTENT_TYPES = ["application/json", "application/json; charset=utf-8", "text/plain", "",
                       "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/html"]  # fmt: skip
CONTENT_TYPES = st.sampled_from(KNOWN_CONTENT_TYPES) | st.text(max_size=40)
ENCODINGS = st.sampled_from(["", "identity", "gzip", "x-gzip", "br", "deflate", "GZIP"]) | st.text(max_size=10)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=30,
)
EVENTISH = st.fixed_dictionaries(
    {},
    optional={
        "event": st.sampled_from(["init", "playing", "stopped", "bitrate_changed", "error", "x"]) | st.integers(),
        "sessionId": st.text(max_size=140) | st.integers(),
        "timestamp": st.integers(min_value=-(2**70), max_value=2**70)
        | st.floats(allow_nan=False)
        | st.text(max_size=5),
        "playhead": st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=3),
        "duration": st.floats(allow_nan=False, allow_infinity=False) | st.none(),
        "payload": JSON_VALUES,
    },
)
NESTED = st.tuples(st.integers(1, 4_000), st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")])).map(
    lambda depth_and_brackets: (
        depth_and_brackets[1][0] * depth_and_brackets[0] + b"1" + depth_and_brackets[1][1] * depth_and_brackets[0]
    )
)
PLAIN_BODIES = (
    st.binary(max_size=2_000)
    | JSON_VALUES.map(lambda v: json.dumps(v).encode())
    | EVENTISH.map(lambda v: json.dumps(v).encode())
    | st.lists(EVENTISH, max_size=20).map(lambda v: json.dumps(v).encode())
    | NESTED
    | st.integers(MAX_BODY_BYTES - 2, 3 * MAX_BODY_BYTES).map(lambda n: b"[" + b"1," * (n // 2) + b"1]")
)
BODIES = PLAIN_BODIES | PLAIN_BODIES.map(gzip.compress) | PLAIN_BODIES.map(lambda b: gzip.compress(b)[: len(b) // 2])


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(load_settings(ENVIRON), FakeKinesis()), raise_server_exceptions=True) as test_client:
        yield test_client


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=BODIES,
    content_type=CONTENT_TYPES,
    encoding=ENCODINGS,
    path=st.sampled_from(["/", "/events"]),
    extra=st.dictionaries(
        st.sampled_from(["X-Forwarded-For", "User-Agent", "X-EPAS-Event", "Origin"]),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60),
    ),
)
def test_no_body_or_header_makes_the_service_fail(
    client: TestClient, body: bytes, content_type: str, encoding: str, path: str, extra: dict[str, str]
) -> None:
    headers = {**extra}
    for name, value in (("Content-Type", content_type), ("Content-Encoding", encoding)):
        if value and value.isprintable() and value.isascii():
            headers[name] = value
    response = client.post(path, content=body, headers=headers)
    assert response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert isinstance(answer, dict)
    if response.status_code >= 400:
        assert answer["error"] and answer["message"], "every refusal names the problem"


# -- the running service -----------------------------------------------------------------


def _event(rng: random.Random) -> dict[str, object]:
    return {"event": rng.choice(["init", "playing", "heartbeat", "stopped"]), "sessionId": f"s{rng.randrange(50)}",
            "timestamp": int(time.time() * 1000), "playhead": rng.random() * 100, "duration": 3600}  # fmt: skip


def _mutated_body(rng: random.Random) -> bytes:
    valid = json.dumps([_event(rng) for _ in range(rng.randint(1, 20))]).encode()
    kind = rng.randrange(8)
    if kind == 0:
        return valid
    if kind == 1:  # bytes flipped
        data = bytearray(valid)
        for _ in range(rng.randint(1, 10)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)
    if kind == 2:  # cut short
        return valid[: rng.randrange(len(valid))]
    if kind == 3:  # nested deeper than any decoder recurses
        depth = rng.choice([10, 999, 1_001, 1_500])
        return b"[" * depth + b"]" * depth
    if kind == 4:  # around the size limit, and well past it
        size = rng.choice([MAX_BODY_BYTES, MAX_BODY_BYTES + 1, 2 * MAX_BODY_BYTES, 3 * MAX_BODY_BYTES, 50_000])
        return (valid * (size // len(valid) + 1))[:size]
    if kind == 5:
        return b""
    if kind == 6:
        return rng.randbytes(rng.randint(1, 3 * MAX_BODY_BYTES))
    return json.dumps(_event(rng)).encode()


def _mutated_request(rng: random.Random) -> bytes:
    body = _mutated_body(rng)
    headers = {"Host": "ingest.test", "User-Agent": "prism-fuzz"}
    content_type = rng.choice([*KNOWN_CONTENT_TYPES, "application/JSON", "text/plain;charset=UTF-8", ";;", "*/*"])
    if content_type:
        headers["Content-Type"] = content_type
    encoding = rng.choice(["", "", "gzip", "gzip", "x-gzip", "br", "deflate, gzip"])
    if encoding:
        headers["Content-Encoding"] = encoding
        if "gzip" in encoding and rng.random() < 0.7:
            body = gzip.compress(body)
            if rng.random() < 0.2:
                body = body[: len(body) // 2]  # a broken stream
    if rng.random() < 0.5:
        headers["Connection"] = "close"
    if rng.random() < 0.2:  # chunked, as a streaming client sends it
        headers["Transfer-Encoding"] = "chunked"
        step = max(1, len(body) // 3)
        chunks = [body[i : i + step] for i in range(0, len(body), step)]
        framed = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    else:
        headers["Content-Length"] = str(len(body))
        framed = body
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    path = rng.choice(["/", "/events"])
    return f"POST {path} HTTP/1.1\r\n{head}\r\n".encode() + framed


def _status_of(address: tuple[str, int], request: bytes) -> int:
    """The status the service answered, after sending the whole request and reading the whole
    answer (to the end of the connection when it closes); raises on a reset or no answer."""
    with socket.create_connection(address, timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = connection.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed without an answer after {len(answer)} bytes")
            answer += chunk
        head, body = answer.split(b"\r\n\r\n", 1)
        fields = dict(line.split(b":", 1) for line in head.split(b"\r\n")[1:])
        fields = {name.strip().lower(): value.strip().lower() for name, value in fields.items()}
        length = int(fields.get(b"content-length", b"0"))
        while len(body) < length:
            chunk = connection.recv(65536)
            if not chunk:
                raise ConnectionError("closed in the middle of the answer")
            body += chunk
        if fields.get(b"connection") == b"close" or b"Connection: close" in request.split(b"\r\n\r\n", 1)[0]:
            while connection.recv(65536):  # the close must be a clean end, not a reset
                pass
        return int(head.split(b" ", 2)[1])


@pytest.mark.timeout(120)
def test_every_mutated_request_to_the_running_service_gets_a_4xx_or_2xx_answer() -> None:
    rng = random.Random(20261130)
    statuses: dict[int, int] = {}
    with serving(load_settings(ENVIRON), FakeKinesis()) as address:
        for _ in range(600):
            request = _mutated_request(rng)
            status = _status_of(address, request)
            assert status < 500, request[:300]
            statuses[status] = statuses.get(status, 0) + 1
    # The run covers acceptance and each kind of refusal.
    assert {200, 400, 413, 415} <= set(statuses), statuses
