"""One region's pipeline: its stages as __main__.py composes them, and what they lend each other."""

from __future__ import annotations

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
from components.reconciler import Reconciler
from components.session_store import SessionStore
from components.sessionizer import Sessionizer
from components.streams import Streams
from components.support.region import Region
from runtime.names import StreamKind
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
    reconciler: Reconciler


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
