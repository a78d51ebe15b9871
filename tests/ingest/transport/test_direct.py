"""PutRecordsClient writes the body botocore would, signs it as botocore would, and fails the way botocore does."""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.credentials import ReadOnlyCredentials
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.ingest.transport.direct import CREDENTIALS_MAX_AGE_SECONDS, PutRecordsClient, put_records_body
from tests.recording_server import Answer, Recording, Request, answering_in_turn, recording_server

REGION = "eu-west-1"
CONFIG = Config(retries={"total_max_attempts": 1}, connect_timeout=1, read_timeout=2, max_pool_connections=2)


class _Sent(Exception):
    """Stops a boto3 call once its request is built."""


_sent: list[bytes] = []


def _capture(request: Any, **_: Any) -> None:
    _sent.append(request.body)
    raise _Sent


@functools.cache
def _capturing_client() -> Any:
    client = boto3.session.Session(aws_access_key_id="a", aws_secret_access_key="b").client(
        "kinesis", region_name=REGION, endpoint_url="http://127.0.0.1:9"
    )
    client.meta.events.register("before-send.kinesis.PutRecords", _capture)
    return client


def botocore_body(stream: str, records: list[dict[str, Any]]) -> bytes:
    with pytest.raises(_Sent):
        _capturing_client().put_records(StreamName=stream, Records=records)
    return _sent.pop()


records_strategy = st.lists(
    st.fixed_dictionaries(
        {"Data": st.binary(max_size=300), "PartitionKey": st.text(min_size=1, max_size=40)},
        optional={"ExplicitHashKey": st.integers(0, 2**128 - 1).map(str)},
    ),
    min_size=1,
    max_size=20,
)


@settings(max_examples=150, deadline=None)
@given(stream=st.text(min_size=1, max_size=30), records=records_strategy)
def test_the_body_is_the_one_botocore_would_send(stream: str, records: list[dict[str, Any]]) -> None:
    assert json.loads(put_records_body(stream, records)) == json.loads(botocore_body(stream, records))


AMZ_JSON = {"Content-Type": "application/x-amz-json-1.1"}


@dataclass
class Recorder:
    """Kinesis's stand-in: records each request and answers with the next canned (status, body)."""

    answers: list[Answer]
    recording: Recording

    @property
    def url(self) -> str:
        return self.recording.url

    @property
    def requests(self) -> list[Request]:
        return self.recording.requests

    def answer(self, status: int, body: bytes) -> None:
        self.answers.append(Answer(status, body, AMZ_JSON))


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    answers: list[Answer] = []
    with recording_server(answering_in_turn(answers)) as recording:
        yield Recorder(answers, recording)


def client_for(recorder: Recorder, token: str | None = None, clock: Callable[[], float] = time.monotonic
               ) -> PutRecordsClient:  # fmt: skip
    session = boto3.session.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",
                                    aws_session_token=token)  # fmt: skip
    return PutRecordsClient(session, session.client("kinesis", region_name=REGION, endpoint_url=recorder.url,
                                                    config=CONFIG), CONFIG, clock)  # fmt: skip


RECORDS = [{"Data": b"\x00\x01", "PartitionKey": "s-1", "ExplicitHashKey": "0"}]


def test_a_call_is_signed_for_kinesis_in_the_clients_region_and_nulls_are_left_out(recorder: Recorder) -> None:
    recorder.answer(200, b'{"FailedRecordCount":0,"Records":[{"SequenceNumber":"1","ShardId":"shardId-0",'
                         b'"ErrorCode":null,"ErrorMessage":null}],"EncryptionType":null}')  # fmt: skip
    answer = asyncio.run(client_for(recorder, token="session-token").put_records(StreamName="raw", Records=RECORDS))
    assert answer == {"FailedRecordCount": 0, "Records": [{"SequenceNumber": "1", "ShardId": "shardId-0"}]}
    headers, body = recorder.requests[0].headers, recorder.requests[0].body
    assert headers["x-amz-target"] == "Kinesis_20131202.PutRecords"
    assert headers["content-type"] == "application/x-amz-json-1.1"
    assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert f"/{REGION}/kinesis/aws4_request" in headers["authorization"]
    assert headers["x-amz-security-token"] == "session-token"
    assert json.loads(body) == json.loads(botocore_body("raw", RECORDS))


def test_list_shards_is_the_boto3_clients(recorder: Recorder) -> None:
    recorder.answer(200, b'{"Shards":[{"ShardId":"shardId-0","HashKeyRange":{"StartingHashKey":"0",'
                         b'"EndingHashKey":"1"},"SequenceNumberRange":{"StartingSequenceNumber":"0"}}]}')  # fmt: skip
    answer = asyncio.run(client_for(recorder).list_shards(StreamName="raw"))
    assert [shard["ShardId"] for shard in answer["Shards"]] == ["shardId-0"]
    assert recorder.requests[0].headers["x-amz-target"] == "Kinesis_20131202.ListShards"


def test_rotated_credentials_are_used_once_frozen_again(recorder: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    readings = iter([0.0, 1.0, CREDENTIALS_MAX_AGE_SECONDS + 1.0])
    client = client_for(recorder, clock=lambda: next(readings))
    keys = iter(["FIRSTKEY", "SECONDKEY"])
    monkeypatch.setattr(client._credentials, "get_frozen_credentials",
                        lambda: ReadOnlyCredentials(next(keys), "secret", None))  # fmt: skip

    async def three_calls() -> None:
        for _ in range(3):
            recorder.answer(200, b'{"FailedRecordCount":0,"Records":[{"SequenceNumber":"1","ShardId":"s"}]}')
            await client.put_records(StreamName="raw", Records=RECORDS)

    asyncio.run(three_calls())
    credentials = [r.headers["authorization"].split("Credential=")[1].split("/")[0] for r in recorder.requests]
    assert credentials == ["FIRSTKEY", "FIRSTKEY", "SECONDKEY"]


@pytest.mark.parametrize(
    ("status", "answer", "code"),
    [
        (400, b'{"__type":"ProvisionedThroughputExceededException","message":"slow down"}',
         "ProvisionedThroughputExceededException"),
        (400, b'{"__type":"com.amazon.coral.service#ThrottlingException"}', "ThrottlingException"),
        (400, b'{"__type":"ResourceNotFoundException","message":"Stream raw not found"}', "ResourceNotFoundException"),
        (503, b"<html>Service Unavailable</html>", "503"),
        (500, b"", "500"),
    ],
)  # fmt: skip
def test_a_refused_call_is_a_client_error_with_the_services_code(
    recorder: Recorder, status: int, answer: bytes, code: str
) -> None:
    recorder.answer(status, answer)
    with pytest.raises(ClientError) as raised:
        asyncio.run(client_for(recorder).put_records(StreamName="raw", Records=RECORDS))
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_an_endpoint_that_does_not_answer_raises(recorder: Recorder) -> None:
    session = boto3.session.Session(aws_access_key_id="a", aws_secret_access_key="b")
    closed = session.client("kinesis", region_name=REGION, endpoint_url="http://127.0.0.1:9", config=CONFIG)
    with pytest.raises(Exception) as raised:
        asyncio.run(PutRecordsClient(session, closed, CONFIG).put_records(StreamName="raw", Records=RECORDS))
    assert not isinstance(raised.value, ClientError)  # the sink retries it under the exception's own name


@pytest.mark.parametrize("count", [0, 501])
def test_a_call_outside_putrecords_limits_is_refused_before_sending(recorder: Recorder, count: int) -> None:
    with pytest.raises(ValueError, match="1 to 500 records"):
        asyncio.run(client_for(recorder).put_records(StreamName="raw", Records=RECORDS * count))
    assert recorder.requests == []
