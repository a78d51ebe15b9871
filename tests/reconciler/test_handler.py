"""The reconciler Lambda against the stand-ins: session objects (gzip, as Firehose writes them) in
through SQS messages, the parts table in moto's DynamoDB, the archive search answered with the rows
Athena would give for the SQL it sends (fake_athena.py), and the region's share out to its session
stream in kinesis-mock."""

from __future__ import annotations

import gzip
import itertools
import json
from typing import Any

import pytest

from runtime.events import MOVED_STATE
from runtime.local.kinesis_mock import KinesisMock
from runtime.local.moto_server import MotoServer
from runtime.reconciler.handler import Clients, handle
from runtime.reconciler.parts_table import EXPIRES_AT, SESSION_KEY
from runtime.reconciler.settings import ReconcilerSettings
from runtime.sessionizer.session import NO_WATERMARK, late_record
from tests.reconciler.fake_athena import FakeAthena
from tests.reconciler.test_moves import CONTINUATION, EAST, SESSION, WEST, streamed
from tests.reconciler.test_reconcile import written
from tests.sessionizer.sequences import SETTINGS, ev, raw

pytestmark = pytest.mark.integration
_runs = itertools.count()
HOUR = "year=2025/month=11/day=24/hour=16"  # the arrival hour of the sequences' events


def settings_for(run: int, region: str) -> ReconcilerSettings:
    return ReconcilerSettings(
        environment=SETTINGS.environment,
        region=region,
        session_stream=f"handler-{run}-{region}-session",
        parts_table=f"handler-{run}-{region}-parts",
        workgroup="primary",
        archive_database="archive",
        search_margin_minutes=60,
        parts_retention_days=2,
        allowed_lateness_ms=SETTINGS.allowed_lateness_ms,
        inactivity_gap_ms=SETTINGS.inactivity_gap_ms,
        update_interval_ms=SETTINGS.update_interval_ms,
    )


def clients(moto_server: MotoServer, kinesis_mock: KinesisMock, region: str,
            athena: FakeAthena | None = None) -> Clients:  # fmt: skip
    return Clients(
        s3=moto_server.client("s3", region),
        dynamodb=moto_server.client("dynamodb", region),
        athena=athena or FakeAthena([], workgroup="primary", database="archive"),
        kinesis=kinesis_mock.client(region),
    )


def create_table(dynamodb: Any, table: str) -> None:
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": SESSION_KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": SESSION_KEY, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def land_gzip(s3: Any, bucket: str, key: str, documents: list[dict[str, Any]]) -> None:
    body = "".join(json.dumps(d) + "\n" for d in documents).encode()
    s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(body))


def notified(bucket: str, *keys: str) -> dict[str, Any]:
    """The SQS batch of EventBridge "Object Created" events, as the event source hands it over."""
    records = []
    for index, key in enumerate(keys):
        event = {"source": "aws.s3", "detail-type": "Object Created",
                 "detail": {"bucket": {"name": bucket}, "object": {"key": key}}}  # fmt: skip
        records.append({"messageId": f"m{index}", "receiptHandle": f"r{index}", "body": json.dumps(event),
                        "attributes": {}, "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": EAST})  # fmt: skip
    return {"Records": records}


def test_a_batch_that_ends_a_moved_session_writes_the_whole_session_where_it_ended(
    moto_server: MotoServer, kinesis_mock: KinesisMock
) -> None:
    run = next(_runs)
    settings = settings_for(run, EAST)
    straggler = ev("buffering", 45.0)
    late = late_record("behind_watermark", NO_WATERMARK, 0, "s1", raw(straggler))
    rows = [*(("raw", json.dumps(raw(e))) for e in [*SESSION, *CONTINUATION, straggler]), ("late", json.dumps(late))]
    athena = FakeAthena(rows, workgroup="primary", database="archive")
    aws = clients(moto_server, kinesis_mock, EAST, athena)
    bucket = f"handler-{run}-session"
    aws.s3.create_bucket(Bucket=bucket)
    create_table(aws.dynamodb, settings.parts_table)
    kinesis_mock.create_streams(EAST, {settings.session_stream: 1})
    west_final, east_final = streamed(SESSION, WEST), streamed(CONTINUATION, EAST)
    # us-east-1's own object and us-west-2's replica, each with a record that is not final beside it.
    land_gzip(aws.s3, bucket, f"session/{HOUR}/east", [{**east_final, "final": False, "version": 1}, east_final])
    land_gzip(aws.s3, bucket, f"session/{HOUR}/west", [west_final])

    answer = handle(notified(bucket, f"session/{HOUR}/east", f"session/{HOUR}/west"), None, settings, aws)

    assert answer == {"batchItemFailures": []}
    [whole] = written(kinesis_mock, EAST, settings.session_stream)
    assert whole == streamed(SESSION + CONTINUATION, EAST)
    item = aws.dynamodb.get_item(TableName=settings.parts_table, Key={SESSION_KEY: {"S": "s1"}})["Item"]
    assert {name for name in item if name.startswith("part:")} == {f"part:{EAST}", f"part:{WEST}"}
    assert int(item[EXPIRES_AT]["N"]) > 0
    # The search asked for this session's lines, in both tables, over the hours around its events.
    [query] = athena.queries
    assert "'s1'" in query and f"'{HOUR}'" in query
    assert '"archive"."raw_events"' in query and '"archive"."late_events"' in query


def test_the_region_where_the_session_began_writes_a_moved_row_and_an_unreadable_object_fails_alone(
    moto_server: MotoServer, kinesis_mock: KinesisMock
) -> None:
    run = next(_runs)
    settings = settings_for(run, WEST)
    athena = FakeAthena([("raw", json.dumps(raw(e))) for e in [*SESSION, *CONTINUATION]], workgroup="primary",
                        database="archive")  # fmt: skip
    aws = clients(moto_server, kinesis_mock, WEST, athena)
    bucket = f"handler-{run}-session"
    aws.s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": WEST})
    create_table(aws.dynamodb, settings.parts_table)
    kinesis_mock.create_streams(WEST, {settings.session_stream: 1})
    west_final, east_final = streamed(SESSION, WEST), streamed(CONTINUATION, EAST)
    land_gzip(aws.s3, bucket, f"session/{HOUR}/west", [west_final])
    land_gzip(aws.s3, bucket, f"session/{HOUR}/east", [east_final])

    batch = notified(bucket, f"session/{HOUR}/west", f"session/{HOUR}/gone", f"session/{HOUR}/east")
    answer = handle(batch, None, settings, aws)

    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}]}  # SQS gives that one again
    [moved] = written(kinesis_mock, WEST, settings.session_stream)
    whole = streamed(SESSION + CONTINUATION, EAST)
    assert moved["state"] == MOVED_STATE and moved["final"] is False
    assert moved["version"] == whole["version"] + 1 and moved["updateTime"] == west_final["updateTime"]


def test_a_session_with_parts_in_one_region_only_is_not_searched(
    moto_server: MotoServer, kinesis_mock: KinesisMock
) -> None:
    run = next(_runs)
    settings = settings_for(run, EAST)
    aws = clients(moto_server, kinesis_mock, EAST)
    bucket = f"handler-{run}-session"
    aws.s3.create_bucket(Bucket=bucket)
    create_table(aws.dynamodb, settings.parts_table)
    kinesis_mock.create_streams(EAST, {settings.session_stream: 1})
    land_gzip(aws.s3, bucket, f"session/{HOUR}/east", [streamed(SESSION, EAST)])

    assert handle(notified(bucket, f"session/{HOUR}/east"), None, settings, aws) == {"batchItemFailures": []}

    assert aws.athena.queries == []
    assert written(kinesis_mock, EAST, settings.session_stream) == []
