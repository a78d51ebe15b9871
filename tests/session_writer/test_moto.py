"""The session writer against moto server: the real handler, a real (emulated) Timestream table."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from runtime.local.moto_server import MotoServer
from runtime.session_writer import handler as lambda_module
from runtime.session_writer.records import parse_session_record, timestream_row
from tests.lambda_context import FakeLambdaContext
from tests.session_writer.fakes import aggregated, kinesis_event, plain, session_record

pytestmark = pytest.mark.integration
DATABASE = "prism-dev-use1-sessions"


def stored_rows(moto: MotoServer, table: str) -> list[dict[str, Any]]:
    tables = moto.state()["timestreamwrite"]["TimestreamTable"]
    return list(next(t for t in tables if (t["db_name"], t["name"]) == (DATABASE, table))["records"])


@pytest.fixture
def table(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[str]:
    client = moto_server.client("timestream-write", "us-east-1")
    name = f"sessions_{request.node.name[-20:].strip('_')}".replace("[", "_").replace("]", "_")
    if DATABASE not in [d["DatabaseName"] for d in client.list_databases()["Databases"]]:
        client.create_database(DatabaseName=DATABASE)
    client.create_table(DatabaseName=DATABASE, TableName=name)
    for variable, value in {
        "SESSION_STORE_DATABASE": DATABASE, "SESSION_STORE_TABLE": name, "AWS_REGION": "us-east-1",
        "SESSION_STORE_ENDPOINT": moto_server.endpoint, "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
    }.items():  # fmt: skip
        monkeypatch.setenv(variable, value)
    lambda_module.default_store.cache_clear()
    yield name
    lambda_module.default_store.cache_clear()


def test_the_lambda_writes_plain_and_aggregated_session_records(moto_server: MotoServer, table: str) -> None:
    records = [session_record(f"s{i}", final=i % 2 == 0) for i in range(130)]
    event = kinesis_event([*plain(records[:100]), aggregated(records[100:])])
    response = lambda_module.handler(event, FakeLambdaContext("prism-dev-use1-session-writer"))
    assert response == {"batchItemFailures": []}
    rows = stored_rows(moto_server, table)
    assert len(rows) == 130
    expected = {r["sessionId"]: timestream_row(parse_session_record(json.dumps(r).encode())) for r in records}
    for row in rows:
        session_id = next(d["Value"] for d in row["Dimensions"] if d["Name"] == "session_id")
        assert row == expected[session_id]


def test_malformed_records_are_reported_while_the_rest_lands(moto_server: MotoServer, table: str) -> None:
    event = kinesis_event([*plain([session_record("ok-1")]), b"{not json", *plain([session_record("ok-2")])])
    response = lambda_module.handler(event, FakeLambdaContext("prism-dev-use1-session-writer"))
    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == ["49600000000000000001"]
    sessions = sorted(next(d["Value"] for d in r["Dimensions"] if d["Name"] == "session_id")
                      for r in stored_rows(moto_server, table))  # fmt: skip
    assert sessions == ["ok-1", "ok-2"]
