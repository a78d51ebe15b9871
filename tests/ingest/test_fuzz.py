"""Arbitrary bodies and headers never produce a 5xx or an unhandled exception."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from runtime.ingest.app import create_app
from runtime.ingest.settings import load_settings
from tests.ingest.fakes import FakeKinesis

CONTENT_TYPES = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "text/plain", "", "application/x-www-form-urlencoded"]
) | st.text(max_size=40)
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
BODIES = (
    st.binary(max_size=2_000)
    | JSON_VALUES.map(lambda v: json.dumps(v).encode())
    | EVENTISH.map(lambda v: json.dumps(v).encode())
    | st.lists(EVENTISH, max_size=20).map(lambda v: json.dumps(v).encode())
)


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    environ = {"INGEST_STREAM_NAME": "raw", "INGEST_LINGER_MS": "0", "INGEST_MAX_BODY_BYTES": "4096"}
    with TestClient(create_app(load_settings(environ), FakeKinesis()), raise_server_exceptions=True) as test_client:
        yield test_client


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=BODIES,
    content_type=CONTENT_TYPES,
    path=st.sampled_from(["/", "/events"]),
    extra=st.dictionaries(
        st.sampled_from(["X-Forwarded-For", "User-Agent", "X-EPAS-Event", "Origin"]),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60),
    ),
)
def test_no_body_or_header_makes_the_service_fail(
    client: TestClient, body: bytes, content_type: str, path: str, extra: dict[str, str]
) -> None:
    headers = {**extra}
    if content_type and content_type.isprintable() and content_type.isascii():
        headers["Content-Type"] = content_type
    response = client.post(path, content=body, headers=headers)
    assert response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/json"
    assert isinstance(response.json(), dict)
