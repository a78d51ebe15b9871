"""The live replayer against moto (S3) and kinesis-mock: an object lands, its events reach the target stream."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator

import pytest

from runtime.ingest.sink import SinkUnavailable
from runtime.local.kinesis_mock import KinesisMock
from runtime.local.moto_server import MotoServer
from runtime.replay import handler as lambda_module
from runtime.replay.settings import ReplaySettings, TargetSpec, environment
from tests.kinesis import stream_events
from tests.lambda_context import FakeLambdaContext
from tests.replay.objects import object_bytes, recorded_events

pytestmark = pytest.mark.integration
REGION = "us-east-1"
BUCKET = "prism-loadtest-use1-raw-123456789012"
KEY = "raw/year=2026/month=11/day=30/hour=08/prism-loadtest-use1-raw-to-s3-1-2026-11-30-08-05-01-abc.gz"
_numbers = itertools.count()


def object_created(bucket: str, key: str) -> dict[str, object]:
    """What EventBridge delivers for an S3 object created with notifications to EventBridge on."""
    return {
        "version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103", "detail-type": "Object Created",
        "source": "aws.s3", "account": "123456789012", "time": "2026-11-30T08:05:01Z", "region": REGION,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {"version": "0", "bucket": {"name": bucket}, "object": {"key": key, "size": 1234},
                   "reason": "PutObject"},
    }  # fmt: skip


@pytest.fixture
def target_stream(kinesis_mock: KinesisMock) -> str:
    name = f"prism-datamart-use1-raw-{next(_numbers)}"
    kinesis_mock.create_streams(REGION, {name: 2})
    return name


@pytest.fixture
def source(moto_server: MotoServer) -> Iterator[object]:
    s3 = moto_server.client("s3", REGION)
    if BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=BUCKET)
    yield s3


def configure(
    monkeypatch: pytest.MonkeyPatch, kinesis_mock: KinesisMock, moto: MotoServer, *targets: TargetSpec
) -> None:
    settings = ReplaySettings(targets=targets, salt="live-test", region=REGION, chunk_events=100,
                              kinesis_endpoint=kinesis_mock.endpoint, s3_endpoint=moto.endpoint)  # fmt: skip
    for variable, value in {**environment(settings), "AWS_ACCESS_KEY_ID": "local",
                            "AWS_SECRET_ACCESS_KEY": "local"}.items():  # fmt: skip
        monkeypatch.setenv(variable, value)
    lambda_module.settings.cache_clear()


def test_an_object_created_is_fired_into_the_target_stream_times_the_multiplier(
    monkeypatch: pytest.MonkeyPatch, kinesis_mock: KinesisMock, moto_server: MotoServer, source: object,
    target_stream: str,
) -> None:  # fmt: skip
    events = recorded_events(40)
    source.put_object(Bucket=BUCKET, Key=KEY, Body=object_bytes(events, extra_lines=(b"garbage\n",)))  # type: ignore[attr-defined]
    configure(monkeypatch, kinesis_mock, moto_server,
              TargetSpec("datamart", REGION, stream=target_stream, multiplier=2))  # fmt: skip

    summary = lambda_module.handler(object_created(BUCKET, KEY), FakeLambdaContext("prism-loadtest-use1-replayer"))

    assert (summary["events"], summary["malformed"], summary["sent"]) == (240, 1, 480)
    replayed = stream_events(kinesis_mock.client(REGION), target_stream)
    assert len(replayed) == 240 * 2, "exactly the object's events times the multiplier"
    per_session = Counter(event["sessionId"] for event in replayed)
    assert len(per_session) == 80 and set(per_session.values()) == {6}
    originals = Counter(event["server"]["replayOf"] for event in replayed)
    assert set(originals.values()) == {12}, "each original session twice"


def test_a_target_that_stays_unavailable_fails_the_invocation(
    monkeypatch: pytest.MonkeyPatch, kinesis_mock: KinesisMock, moto_server: MotoServer, source: object
) -> None:
    """Lambda then retries the event and sends it, with the object key, to the on-failure queue."""
    source.put_object(Bucket=BUCKET, Key=KEY, Body=object_bytes(recorded_events(2)))  # type: ignore[attr-defined]
    configure(monkeypatch, kinesis_mock, moto_server, TargetSpec("datamart", REGION, stream="no-such-stream"))
    monkeypatch.setattr("runtime.replay.targets.ACK_TIMEOUT_SECONDS", 2.0)
    with pytest.raises(SinkUnavailable):
        lambda_module.handler(object_created(BUCKET, KEY), FakeLambdaContext("prism-loadtest-use1-replayer"))
