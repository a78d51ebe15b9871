"""The stack's resources of one region, created in the local stand-ins with the program's names.

Names come from runtime/names.py, as the Pulumi program's do, so a local run of
`--stack dev` has the streams, buckets, deliveries and table that `pulumi up` of dev
would have (with moto's account id).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runtime.names import FAILED_EVENTS, STREAM_KINDS, DeliveryKind, RegionNames, StreamKind, data_prefix, literal_head
from runtime.stack import RegionSettings, Settings

MOTO_ACCOUNT_ID = "123456789012"


@dataclass(frozen=True)
class RegionResources:
    region: RegionSettings
    streams: dict[StreamKind, str]
    buckets: dict[StreamKind, str]
    deliveries: dict[StreamKind, str]
    failed_events_delivery: str
    database: str
    table: str

    def stream_arn(self, kind: StreamKind) -> str:
        return f"arn:aws:kinesis:{self.region.name}:{MOTO_ACCOUNT_ID}:stream/{self.streams[kind]}"


def names(settings: Settings, region: RegionSettings) -> RegionResources:
    named = RegionNames(settings.environment, region.name)
    return RegionResources(
        region=region,
        streams={kind: named.stream(kind) for kind in STREAM_KINDS},
        buckets={kind: named.bucket(kind, MOTO_ACCOUNT_ID) for kind in STREAM_KINDS},
        deliveries={kind: named.delivery(kind) for kind in STREAM_KINDS},
        failed_events_delivery=named.failed_events_delivery,
        database=named.sessions_database,
        table=named.sessions_table,
    )


def shard_count(settings: Settings, kind: StreamKind) -> int:
    """Provisioned shards as the stack has them (on-demand streams start with 2 locally), at most 4 on 2 cores."""
    shards = settings.streams[kind].shards
    return min(4, shards if shards is not None else 2)


def create(
    resources: RegionResources, settings: Settings, kinesis: Any, s3: Any, firehose: Any, timestream: Any
) -> None:
    region = resources.region.name
    for kind in STREAM_KINDS:
        kinesis.create_stream(StreamName=resources.streams[kind], ShardCount=shard_count(settings, kind))
    for kind in STREAM_KINDS:
        kinesis.get_waiter("stream_exists").wait(
            StreamName=resources.streams[kind], WaiterConfig={"Delay": 0.2, "MaxAttempts": 100}
        )
        bucket = resources.buckets[kind]
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
        _delivery(firehose, resources.deliveries[kind], bucket, kind)
    _delivery(firehose, resources.failed_events_delivery, resources.buckets["raw"], FAILED_EVENTS)
    if timestream is not None:  # else the sessions go to InfluxDB (runtime/local/stores.py)
        timestream.create_database(DatabaseName=resources.database)
        timestream.create_table(DatabaseName=resources.database, TableName=resources.table)


def _delivery(firehose: Any, name: str, bucket: str, kind: DeliveryKind) -> None:
    firehose.create_delivery_stream(
        DeliveryStreamName=name,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": f"arn:aws:iam::{MOTO_ACCOUNT_ID}:role/local",
            "BucketARN": f"arn:aws:s3:::{bucket}",
            # The literal head of the program's prefix: moto adds YYYY/MM/DD/HH/ itself.
            "Prefix": literal_head(data_prefix(kind)),
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60},
        },
    )
