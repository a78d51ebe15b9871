"""One region's pipeline as __main__.py builds it, and how CloudWatch knows its stages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from components.archive import Archive
from components.delivery import Delivery
from components.encryption import RegionKey
from components.ingest import IngestService
from components.load_balancer import LoadBalancer
from components.network import Network
from components.replication import ReplicationRule
from components.session_store import SessionStore
from components.sessionizer import Sessionizer
from components.streams import Streams
from components.support.region import Region
from components.support.signals import RegionWatch, WatchedReplication
from runtime.names import FAILED_EVENTS, StreamKind


@dataclass(frozen=True)
class RegionalPipeline:
    region: Region
    key: RegionKey
    archive: Archive
    streams: Streams
    network: Network
    load_balancer: LoadBalancer
    ingest: IngestService
    failed_events: Delivery
    deliveries: dict[StreamKind, Delivery]
    sessionizer: Sessionizer
    session_store: SessionStore


def region_watch(pipeline: RegionalPipeline, replication_rules: Sequence[ReplicationRule]) -> RegionWatch:
    """The names and ARN parts the region's stage resources are known by in CloudWatch."""
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
        database=pipeline.session_store.database.database_name,
        table=pipeline.session_store.table.table_name,
        # S3 publishes a rule's replication metrics in the rule's source region.
        replication=[
            WatchedReplication(
                rule.kind, rule.destination.code, rule.source_bucket, rule.destination_bucket, rule.rule_id
            )
            for rule in replication_rules
            if rule.source.name == pipeline.region.name
        ],
    )
