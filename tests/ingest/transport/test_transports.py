"""Both transports behind the sink's interface: the same records stored, the same answers, chosen by one setting."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import boto3
import pytest

from runtime.ingest import clients, server
from runtime.ingest.settings import load_settings
from runtime.ingest.transport import TRANSPORTS, KinesisClient, Transport, kinesis_client
from runtime.ingest.transport.botocore_client import BotocoreKinesisClient
from runtime.ingest.transport.direct import PutRecordsClient
from runtime.local.kinesis_mock import LOCAL_CREDENTIALS, KinesisMock

REGION = "us-east-1"
BASE = {"INGEST_STREAM_NAME": "prism-dev-use1-raw", "INGEST_REGION": REGION}


def _client(mock: KinesisMock, transport: Transport) -> KinesisClient:
    return kinesis_client(REGION, mock.endpoint, transport, session=boto3.session.Session(**LOCAL_CREDENTIALS))


async def _put_and_list(client: KinesisClient, stream: str, records: list[dict[str, Any]]) -> tuple[Any, Any]:
    try:
        answer = await client.put_records(StreamName=stream, Records=records)
        shards = await client.list_shards(StreamName=stream)
        return answer, shards
    finally:
        await client.close()


@pytest.mark.integration
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_each_transport_stores_the_records_and_answers_as_boto3_does(
    kinesis_mock: KinesisMock, transport: Transport
) -> None:
    stream = f"transport-{transport}-{uuid.uuid4().hex[:8]}"
    kinesis_mock.create_streams(REGION, {stream: 1})
    records = [{"Data": f"event {n}".encode(), "PartitionKey": f"session-{n}"} for n in range(5)]
    answer, shards = asyncio.run(_put_and_list(_client(kinesis_mock, transport), stream, records))
    assert answer["FailedRecordCount"] == 0 and len(answer["Records"]) == 5
    assert all(set(r) == {"SequenceNumber", "ShardId"} for r in answer["Records"])  # no null ErrorCode either way
    [shard] = shards["Shards"]
    boto = kinesis_mock.client(REGION)
    iterator = boto.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
    stored = boto.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    assert [r["Data"] for r in stored] == [r["Data"] for r in records]


@pytest.mark.parametrize(("variable", "expected"), [(None, PutRecordsClient), ("botocore", BotocoreKinesisClient)])
def test_one_setting_chooses_the_transport(
    variable: str | None, expected: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in LOCAL_CREDENTIALS.items():
        monkeypatch.setenv(name.upper(), value)
    environ = {**BASE, **({"INGEST_KINESIS_TRANSPORT": variable} if variable else {})}
    assert isinstance(clients.kinesis_client(load_settings(environ)), expected)


def test_behind_a_proxy_the_botocore_transport_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The direct transport refuses a proxy (test_environment.py); the fallback goes through it."""
    for name, value in LOCAL_CREDENTIALS.items():
        monkeypatch.setenv(name.upper(), value)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    settings = load_settings({**BASE, "INGEST_KINESIS_TRANSPORT": "botocore"})
    assert isinstance(clients.kinesis_client(settings), BotocoreKinesisClient)
    for name, value in BASE.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("INGEST_KINESIS_TRANSPORT", "botocore")
    monkeypatch.setattr("runtime.ingest.server.uvicorn.run", lambda *args, **kwargs: None)
    assert server.main() == 0


def test_an_unknown_transport_is_refused_naming_the_variable() -> None:
    with pytest.raises(ValueError, match=r"^INGEST_KINESIS_TRANSPORT must be one of direct, botocore"):
        load_settings({**BASE, "INGEST_KINESIS_TRANSPORT": "carrier-pigeon"})
