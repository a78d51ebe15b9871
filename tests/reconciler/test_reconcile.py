"""The reconciler against the stand-ins: two regions' buckets, replicated both ways, and each region's
session stream. A session that moved from us-west-2 to us-east-1 is made whole in us-east-1 (where it
ended) and replaced by a moved row in us-west-2; each region writes only its own share, and once
that share is in its session bucket, a pass writes nothing more."""

from __future__ import annotations

import itertools
import json
from typing import Any, Literal

import pytest

from runtime.events import MOVED_STATE
from runtime.local.kinesis_mock import KinesisMock
from runtime.local.moto_server import MotoServer
from runtime.local.relay import StreamTailer
from runtime.local.replication import Replicas, Replication
from runtime.local.resources import RegionResources
from runtime.names import STREAM_KINDS
from runtime.reconciler.reconcile import Reconciler
from runtime.sessionizer.session import NO_WATERMARK, late_record
from runtime.stack import RegionSettings
from tests.reconciler.test_moves import CONTINUATION, EAST, SESSION, WEST, in_region, streamed
from tests.sessionizer.sequences import ev, raw

pytestmark = pytest.mark.integration
_runs = itertools.count()
HOUR = "year=2026/month=12/day=05/hour=01"  # as the program's Firehose prefix partitions


def region_resources(region: str, code: str, run: int) -> RegionResources:
    role: Literal["primary", "secondary"] = "primary" if region == EAST else "secondary"
    return RegionResources(
        region=RegionSettings(name=region, code=code, role=role),
        streams={kind: f"reconcile-{run}-{code}-{kind}" for kind in STREAM_KINDS},
        buckets={kind: f"reconcile-{run}-{code}-{kind}" for kind in STREAM_KINDS},
        deliveries={},
        failed_events_delivery="",
        database="",
        table="",
    )


def create_buckets(moto_server: MotoServer, *regions: RegionResources) -> None:
    for resources in regions:
        region = resources.region.name
        location = {} if region == EAST else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        for bucket in resources.buckets.values():
            moto_server.client("s3", region).create_bucket(Bucket=bucket, **location)


def land(s3: Any, bucket: str, key: str, documents: list[dict[str, Any]]) -> None:
    """An object as Firehose writes it: newline-delimited JSON."""
    s3.put_object(Bucket=bucket, Key=key, Body="".join(json.dumps(d) + "\n" for d in documents).encode())


def written(kinesis_mock: KinesisMock, region: str, stream: str) -> list[dict[str, Any]]:
    tailer = StreamTailer(kinesis_mock.client(region), stream)
    return [json.loads(record["Data"]) for _, record in tailer.poll()]


def test_a_moved_session_is_made_whole_where_it_ended_and_replaced_where_it_began(
    moto_server: MotoServer, kinesis_mock: KinesisMock
) -> None:
    run = next(_runs)
    west, east = region_resources(WEST, "usw2", run), region_resources(EAST, "use1", run)
    s3 = moto_server.client("s3", EAST)
    create_buckets(moto_server, west, east)
    for resources in (west, east):
        kinesis_mock.create_streams(resources.region.name, {resources.streams["session"]: 1})
    # What each region's Firehose landed: its part's raw events and final record; us-east-1 also sent a
    # straggler of the session to its late bucket, and that stays out of the whole session.
    straggler = ev("buffering", 45.0)
    west_final, east_final = streamed(SESSION, WEST), streamed(CONTINUATION, EAST)
    land(s3, west.buckets["raw"], f"raw/{HOUR}/west-1", [raw(e) for e in SESSION])
    land(s3, west.buckets["session"], f"session/{HOUR}/west-1", [west_final])
    land(s3, east.buckets["raw"], f"raw/{HOUR}/east-1", [raw(e) for e in [*CONTINUATION, straggler]])
    land(s3, east.buckets["session"], f"session/{HOUR}/east-1", [east_final])
    late = late_record("behind_watermark", NO_WATERMARK, 0, "s1", raw(straggler))
    land(s3, east.buckets["late"], f"late/{HOUR}/east-1", [late])

    def reconciler(resources: RegionResources) -> Reconciler:
        region = resources.region.name
        return Reconciler(region, moto_server.client("s3", region), resources.buckets, kinesis_mock.client(region),
                          resources.streams["session"], in_region)  # fmt: skip

    west_reconciler, east_reconciler = reconciler(west), reconciler(east)
    # Before replication each region sees one part only: nothing moved, nothing written.
    assert west_reconciler.run_once() == 0 and east_reconciler.run_once() == 0
    replicas = Replicas()
    for source, destination in ((west, east), (east, west)):
        replication = Replication(s3, source, destination, replicas)
        replication.copy_new()
    assert west_reconciler.run_once() == 1 and east_reconciler.run_once() == 1

    [whole] = written(kinesis_mock, EAST, east.streams["session"])
    assert whole == streamed(SESSION + CONTINUATION, EAST)
    [moved] = written(kinesis_mock, WEST, west.streams["session"])
    assert moved["state"] == MOVED_STATE and moved["final"] is False
    assert moved["version"] == whole["version"] + 1 and moved["updateTime"] == west_final["updateTime"]

    # Their Firehoses land them, replication copies them: the next passes have nothing to write.
    land(s3, east.buckets["session"], f"session/{HOUR}/east-2", [whole])
    land(s3, west.buckets["session"], f"session/{HOUR}/west-2", [moved])
    for source, destination in ((west, east), (east, west)):
        Replication(s3, source, destination, replicas).copy_new()
    assert west_reconciler.run_once() == 0 and east_reconciler.run_once() == 0


def test_replication_copies_each_object_once_and_never_a_replica_back(moto_server: MotoServer) -> None:
    run = next(_runs)
    west, east = region_resources(WEST, "usw2", run), region_resources(EAST, "use1", run)
    s3 = moto_server.client("s3", EAST)
    create_buckets(moto_server, west, east)
    land(s3, west.buckets["raw"], "raw/a", [{"n": 1}])
    land(s3, east.buckets["raw"], "raw/b", [{"n": 2}])
    replicas = Replicas()
    forth, back = Replication(s3, west, east, replicas), Replication(s3, east, west, replicas)
    for replication in (forth, back, forth, back):
        replication.copy_new()

    def keys(bucket: str) -> list[str]:
        return [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]

    assert keys(west.buckets["raw"]) == keys(east.buckets["raw"]) == ["raw/a", "raw/b"]
    assert forth.stats.user_records == 1 and back.stats.user_records == 1
