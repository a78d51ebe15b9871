"""The session writer's InfluxDB store against a real InfluxDB 1.x process (Debian `influxdb`).

Rows are read back by InfluxQL, as the dashboards read them; the recording server stands
in for InfluxDB only where InfluxDB cannot be made to answer so (429, 503).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator
from typing import Any

import pytest

from runtime.local.influxdb import InfluxServer, start_influxdb
from runtime.local.moto_server import MotoServer
from runtime.session_writer import handler as lambda_module
from runtime.session_writer.handler import handle
from runtime.session_writer.influxdb import InfluxCredentials, InfluxStore
from runtime.session_writer.records import (
    DIMENSIONS,
    INFLUX_MEASUREMENT,
    INFLUX_STARTS_MEASUREMENT,
    INFLUX_VERSION_FIELD,
    MEASURES,
    SessionRecord,
    influx_lines,
    influx_tag,
    parse_session_record,
)
from runtime.session_writer.settings import SettingsError, load_settings
from tests.lambda_context import FakeLambdaContext
from tests.recording_server import Answer, answering_in_turn, recording_server
from tests.session_writer.fakes import kinesis_event, plain, session_record
from tests.sessionizer.sequences import T0

_databases = itertools.count()


@pytest.fixture(scope="module")
def influxdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    directory = tmp_path_factory.mktemp("influxdb")
    server = start_influxdb(directory / "data", directory)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def database(influxdb: InfluxServer) -> str:
    name = f"sessions_{next(_databases)}"
    influxdb.query(f'CREATE DATABASE "{name}"')
    return name


def store(url: str, database: str, attempts: int = 5) -> InfluxStore:
    return InfluxStore(url, database, max_attempts=attempts, sleep=lambda _: None)


def record(document: dict[str, Any]) -> SessionRecord:
    return parse_session_record(json.dumps(document).encode())


def rows(influxdb: InfluxServer, database: str) -> list[dict[str, Any]]:
    series = influxdb.query(f"SELECT * FROM {INFLUX_MEASUREMENT}", database)
    if not series:
        return []
    columns = series[0]["columns"]
    return [dict(zip(columns, values, strict=True)) for values in series[0]["values"]]


def expected_row(document: dict[str, Any]) -> dict[str, Any]:
    """What InfluxQL gives back for a record: the mapping of records.py, typed."""
    row: dict[str, Any] = {"time": document["updateTime"], INFLUX_VERSION_FIELD: document["version"]}
    for name, field in DIMENSIONS.items():
        row[name] = influx_tag(document.get(field))
    for name, (field, kind) in MEASURES.items():
        value = document.get(field)
        if value is None:
            row[name] = None
        elif kind == "DOUBLE":
            row[name] = float(value)
        elif kind == "BIGINT":
            row[name] = int(value)
        else:
            row[name] = value
    return row


def test_records_in_rows_back_by_query_equal_to_the_mapping(influxdb: InfluxServer, database: str) -> None:
    documents = [session_record("s1"), session_record("s2", final=False, device=None),
                 {**session_record("s 3,=\\"), "lastErrorCode": 'say "3016"'}]  # fmt: skip
    outcome = store(influxdb.url, database).write([record(d) for d in documents])
    assert (outcome.failed, outcome.written, outcome.calls) == ({}, 3, 1)
    got = sorted(rows(influxdb, database), key=lambda row: row["session_id"])
    assert [row["session_id"] for row in got] == ["s 3,=/", "s1", "s2"]
    assert got[2]["device_type"] == "unknown" and got[0]["last_error_code"] == 'say "3016"'
    want = sorted((expected_row(d) for d in documents), key=lambda row: row["session_id"])
    # A field no point has is no column at all: both sides read it as None.
    for got_row, want_row in zip(got, want, strict=True):
        assert {key: got_row.get(key) for key in want_row} == want_row
        assert set(got_row) <= set(want_row)


def test_the_highest_version_of_a_point_in_a_batch_is_the_one_written(influxdb: InfluxServer, database: str) -> None:
    newest = {**session_record("s1"), "version": 9}
    batch = [record({**newest, "version": 7}), record(newest), record({**newest, "version": 8})]
    outcome = store(influxdb.url, database).write(batch)
    assert (outcome.written, outcome.superseded) == (1, 2)
    assert [row[INFLUX_VERSION_FIELD] for row in rows(influxdb, database)] == [9]


def test_influxdb_keeps_the_last_point_written_so_order_across_batches_decides(
    influxdb: InfluxServer, database: str
) -> None:
    """Why docs/session-store.md's ordering claim matters: a point is replaced by whatever comes later."""
    writer = store(influxdb.url, database)
    document = session_record("s1")
    writer.write([record({**document, "version": 5})])
    writer.write([record({**document, "version": 4})])
    assert [row[INFLUX_VERSION_FIELD] for row in rows(influxdb, database)] == [4]


def test_a_point_influxdb_refuses_fails_alone(influxdb: InfluxServer, database: str) -> None:
    """A field type conflict (last_error_code once written as an integer): InfluxDB writes the
    rest and answers 400; the store finds the refused point by halving."""
    # Field types are kept per shard (a span of time): the old point is in the records' span.
    influxdb_write(influxdb, database, f"{INFLUX_MEASUREMENT},session_id=old last_error_code=1i {T0}",
                   f"/write?db={database}&precision=ms")  # fmt: skip
    documents = [session_record(f"s{i}") for i in range(7)]
    documents[4] = {**documents[4], "lastErrorCode": "3016"}
    outcome = store(influxdb.url, database).write([record(d) for d in documents])
    assert list(outcome.failed) == [4]
    assert "field type conflict" in outcome.failed[4]
    assert outcome.written == 6
    assert {row["session_id"] for row in rows(influxdb, database)} == {f"s{i}" for i in range(7) if i != 4} | {"old"}


def test_a_malformed_kinesis_record_fails_alone_through_the_handler(influxdb: InfluxServer, database: str) -> None:
    event = kinesis_event(plain([session_record("s1"), {"not": "a session record"}, session_record("s3")]))
    response = handle(event, None, store(influxdb.url, database))
    assert len(response["batchItemFailures"]) == 1
    assert {row["session_id"] for row in rows(influxdb, database)} == {"s1", "s3"}


def test_throttling_and_server_errors_are_retried(influxdb: InfluxServer, database: str) -> None:
    """429 and 503 from in front of InfluxDB, then the write goes through to it."""
    refusals = [Answer(429, b'{"error":"too many requests"}', {"Retry-After": "0"}), Answer(503, b"")]

    def answer(request: Any) -> Answer:
        if refusals:
            return refusals.pop(0)
        influxdb_write(influxdb, database, request.body.decode(), request.path)
        return Answer(204, b"")

    with recording_server(answer) as front:
        outcome = store(front.url, database).write([record(session_record("s1"))])
    assert (outcome.failed, outcome.written, outcome.calls, outcome.throttled) == ({}, 1, 3, 2)
    assert len(rows(influxdb, database)) == 1


def test_refusals_past_the_attempts_fail_the_records_with_influxdbs_answer() -> None:
    with recording_server(answering_in_turn([Answer(503, b'{"error":"overloaded"}')] * 3)) as front:
        outcome = store(front.url, "sessions", attempts=3).write([record(session_record("s1"))])
    assert outcome.failed == {0: 'InfluxDB 503: {"error":"overloaded"}'}
    assert outcome.calls == 3


def test_wrong_credentials_fail_at_once() -> None:
    with recording_server(answering_in_turn([Answer(401, b'{"error":"authorization failed"}')])) as front:
        credentials = InfluxCredentials(username="writer", password="wrong")
        writer = InfluxStore(front.url, "sessions", credentials, sleep=lambda _: None)
        outcome = writer.write([record(session_record("s1"))])
        assert front.requests[0].headers["authorization"].startswith("Basic ")
    assert outcome.failed == {0: 'InfluxDB 401: {"error":"authorization failed"}'}
    assert outcome.calls == 1


def test_a_token_is_sent_in_the_token_scheme() -> None:
    assert InfluxCredentials(token="t0k").header() == {"Authorization": "Token t0k"}
    assert InfluxCredentials().header() == {}


def test_non_finite_and_null_metrics_are_left_out_of_the_line() -> None:
    document = {**session_record("s1"), "rebufferRatio": math.inf, "startupMs": None}
    line = influx_lines(record(json.loads(json.dumps(document))))[0]
    assert b"rebuffer_ratio" not in line and b"startup_ms" not in line
    assert line.startswith(f"{INFLUX_MEASUREMENT},content_id=".encode())


def influxdb_write(influxdb: InfluxServer, database: str, lines: str, path: str | None = None) -> None:
    import urllib.request

    target = f"{influxdb.url}{path}" if path else f"{influxdb.url}/write?db={database}"
    urllib.request.urlopen(urllib.request.Request(target, data=lines.encode()), timeout=10).close()


@pytest.mark.integration
def test_the_lambda_fills_influxdb_with_credentials_from_secrets_manager(
    influxdb: InfluxServer, database: str, moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = moto_server.client("secretsmanager", "us-east-1")
    secret = secrets.create_secret(Name=f"writer-{database}", SecretString='{"username": "w", "password": "p"}')
    for variable, value in {
        "SESSION_STORE_ENGINE": "influxdb", "SESSION_STORE_ENDPOINT": influxdb.url, "SESSION_STORE_DATABASE": database,
        "SESSION_STORE_CREDENTIALS_SECRET": secret["ARN"], "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto_server.endpoint, "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
    }.items():  # fmt: skip
        monkeypatch.setenv(variable, value)
    lambda_module.default_store.cache_clear()
    try:
        event = kinesis_event(plain([session_record("s1")]))
        response = lambda_module.handler(event, FakeLambdaContext("prism-dev-use1-session-writer"))
    finally:
        lambda_module.default_store.cache_clear()
    assert response == {"batchItemFailures": []}
    assert [row["session_id"] for row in rows(influxdb, database)] == ["s1"]


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"SESSION_STORE_ENGINE": "influx", "SESSION_STORE_DATABASE": "d"}, "SESSION_STORE_ENGINE"),
        ({"SESSION_STORE_ENGINE": "influxdb", "SESSION_STORE_DATABASE": "d"}, "SESSION_STORE_ENDPOINT"),
        ({"SESSION_STORE_DATABASE": "d"}, "SESSION_STORE_TABLE"),
    ],
)
def test_bad_writer_settings_name_the_variable(environ: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(environ)
    assert error.value.name == named


def test_a_credentials_secret_must_say_how_to_authenticate() -> None:
    assert InfluxCredentials.from_secret('{"token": "t"}') == InfluxCredentials(token="t")
    with pytest.raises(ValueError, match="needs"):
        InfluxCredentials.from_secret('{"organization": "prism"}')


def test_a_session_has_one_start_point_whatever_records_write_it(influxdb: InfluxServer, database: str) -> None:
    final = session_record("s1")
    update = {**final, "final": False, "version": final["version"] - 1, "updateTime": final["updateTime"] - 5_000}
    writer = store(influxdb.url, database)
    writer.write([record(update)])
    writer.write([record(final)])
    starts = influxdb.query(f"SELECT * FROM {INFLUX_STARTS_MEASUREMENT}", database)
    columns = starts[0]["columns"]
    assert [dict(zip(columns, values, strict=True)) for values in starts[0]["values"]] == [
        {**dict.fromkeys(columns, None), "time": final["firstEventTime"] + final["startupMs"],
         "startup_ms": final["startupMs"], "session_id": "s1", "content_id": "c-7", "device_type": "tv",
         "environment": "dev", "player": "prism-web/3.1", "region": "us-east-1"}
    ]  # fmt: skip
