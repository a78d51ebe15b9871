"""The names and ARN parts CloudWatch knows a region's stages by, taken from the resources."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pulumi

from runtime.names import FAILED_EVENTS, DeliveryKind, StreamKind

if TYPE_CHECKING:  # only read: the signals and the alerting that import this need no stage loaded
    from components.regional_pipeline import RegionalPipeline
    from components.replication import ReplicationRule


@dataclass(frozen=True)
class WatchedReplication:
    """A replication rule whose source bucket is in the watched region."""

    kind: str
    destination_code: str
    source_bucket: pulumi.Input[str]
    destination_bucket: pulumi.Input[str]
    rule_id: str


@dataclass(frozen=True)
class RegionWatch:
    """The names and ARN parts one region's stage resources are known by in CloudWatch."""

    region: str
    load_balancer: pulumi.Input[str]  # the ALB's ARN suffix, app/<name>/<id>
    target_group: pulumi.Input[str]  # the target group's ARN suffix
    cluster: pulumi.Input[str]
    service: pulumi.Input[str]
    streams: Mapping[StreamKind, pulumi.Input[str]]
    deliveries: Mapping[DeliveryKind, pulumi.Input[str]]
    application: pulumi.Input[str]
    function: pulumi.Input[str]
    failed_batches_queue: pulumi.Input[str]
    # The Timestream for LiveAnalytics table (engine liveanalytics); None with InfluxDB.
    database: pulumi.Input[str] | None
    table: pulumi.Input[str] | None
    # The Timestream for InfluxDB instance's name (engine influxdb); None with LiveAnalytics.
    influxdb_instance: pulumi.Input[str] | None
    reconciler_function: pulumi.Input[str]
    reconciler_failed_queue: pulumi.Input[str]
    reconciler_rule: pulumi.Input[str]
    replication: Sequence[WatchedReplication] = field(default_factory=tuple)


def region_watch(pipeline: RegionalPipeline, replication_rules: Sequence[ReplicationRule]) -> RegionWatch:
    """The names and ARN parts the region's stage resources are known by in CloudWatch."""
    timestream, influxdb = pipeline.session_store.timestream, pipeline.session_store.influxdb
    return RegionWatch(
        region=pipeline.region.name,
        load_balancer=pipeline.load_balancer.alb.arn_suffix,
        target_group=pipeline.load_balancer.target_group.arn_suffix,
        cluster=pipeline.ingest.cluster.name,
        service=pipeline.ingest.service.name,
        streams={kind: stream.name for kind, stream in pipeline.streams.streams.items()},
        deliveries={
            **{kind: delivery.firehose.name for kind, delivery in pipeline.deliveries.items()},
            FAILED_EVENTS: pipeline.failed_events.firehose.name,
        },
        application=pipeline.sessionizer.application.name,
        function=pipeline.session_store.function.name,
        failed_batches_queue=pipeline.session_store.failed_batches.name,
        database=timestream.database.database_name if timestream else None,
        table=timestream.table.table_name if timestream else None,
        influxdb_instance=influxdb.instance.name if influxdb else None,
        reconciler_function=pipeline.reconciler.function.name,
        reconciler_failed_queue=pipeline.reconciler.failed_objects.name,
        reconciler_rule=pipeline.reconciler.rule.name,
        # S3 publishes a rule's replication metrics in the rule's source region.
        replication=[
            WatchedReplication(
                rule.kind, rule.destination.code, rule.source_bucket, rule.destination_bucket, rule.rule_id
            )
            for rule in replication_rules
            if rule.source.name == pipeline.region.name
        ],
    )
