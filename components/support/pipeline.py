"""One region's pipeline as __main__.py builds it, and how CloudWatch knows its stages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from components.archive import Archive
from components.delivery import Delivery
from components.encryption import RegionKey
from components.grafana import GrafanaArgs, InfluxAccess
from components.influxdb import StoreNetwork
from components.ingest import IngestService
from components.load_balancer import LoadBalancer
from components.network import Network
from components.peering import PeeringSide
from components.replication import ReplicationRule
from components.session_store import SessionStore
from components.sessionizer import Sessionizer
from components.streams import Streams
from components.support.region import Region
from components.support.signals import RegionWatch, WatchedReplication
from runtime.names import FAILED_EVENTS, StreamKind
from runtime.stack import Settings


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
        # S3 publishes a rule's replication metrics in the rule's source region.
        replication=[
            WatchedReplication(
                rule.kind, rule.destination.code, rule.source_bucket, rule.destination_bucket, rule.rule_id
            )
            for rule in replication_rules
            if rule.source.name == pipeline.region.name
        ],
    )


def _created_cidr(network: Network) -> str:
    if network.cidr is None:
        raise ValueError("engine influxdb needs VPCs the program creates (the settings say so)")
    return network.cidr


def store_network(settings: Settings, network: Network) -> StoreNetwork | None:
    """The VPC an InfluxDB session store lives in (engine influxdb only)."""
    if settings.session_store.engine != "influxdb":
        return None
    endpoints = settings.network.egress == "endpoints"
    return StoreNetwork(network.vpc_id, _created_cidr(network), network.private_subnet_ids, endpoints)


def peering_side(pipeline: RegionalPipeline) -> PeeringSide:
    network = pipeline.network
    return PeeringSide(pipeline.region, network.vpc_id, _created_cidr(network), network.private_route_table_ids)


def grafana_args(settings: Settings, home: RegionalPipeline, away: RegionalPipeline) -> GrafanaArgs:
    """Grafana reads both regions' sessions: their Timestream tables, or their InfluxDB instances."""
    pipelines = (home, away)
    instances = [(p.region, p.session_store.influxdb) for p in pipelines if p.session_store.influxdb is not None]
    if instances:
        network = home.network
        access = InfluxAccess(network.vpc_id, network.private_subnet_ids, network.private_subnet_cidrs, instances)
        return GrafanaArgs(settings.environment, home.region, [], [], access)
    tables = [p.session_store.timestream for p in pipelines if p.session_store.timestream is not None]
    return GrafanaArgs(
        settings.environment, home.region, [t.table.arn for t in tables], [t.database.arn for t in tables]
    )


def session_store_outputs(store: SessionStore) -> dict[str, Any]:
    outputs: dict[str, Any] = {
        "function": store.function.name,
        # Batches the writer gave up on wait here (alarm writer-failed-batches).
        "failed_batches_queue": store.failed_batches.name,
    }
    if store.timestream is not None:
        outputs |= {"database": store.timestream.database.database_name, "table": store.timestream.table.table_name}
    if store.influxdb is not None:
        # The read token's secret: what grafana-dashboards gives the InfluxDB data source.
        outputs |= {
            "influxdb": {
                "url": store.influxdb.url,
                "database": store.influxdb.bucket,
                "reader_token_secret": store.influxdb.token_secrets["reader"].arn,
            }
        }
    return outputs
