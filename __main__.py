"""prism-pipeline: player events -> raw stream -> sessions -> S3 and Timestream, in two regions.

Read top to bottom, this is the data path of one stack: the settings, then each
region's pipeline in the order data flows through it (players -> ALB -> ingest ->
streams -> sessionizer -> session store), then what spans both regions (the
accelerator in front of both ALBs, replication, Grafana), then what watches it all
(alarms per region, the stack-wide alarm, the resource dashboard, budgets), then the
stack outputs.

Stages are the ComponentResources in components/ (helpers apart, in components/support/);
they hand each other references (a resource's name and ARN together). Settings are parsed
by runtime/stack and physical names come from runtime/names.py, the same code the local
pipeline and the operator commands use.
"""

from __future__ import annotations

import pulumi

from components.archive import Archive, ArchiveArgs
from components.delivery import Delivery, DeliveryArgs
from components.edge import Edge, EdgeArgs, EdgeOrigin, accelerator_ports
from components.encryption import RegionKey, RegionKeyArgs
from components.firewall import Firewall, FirewallArgs
from components.grafana import Grafana
from components.influxdb import SECRETS_ENDPOINTS
from components.ingest import IngestService, IngestServiceArgs
from components.load_balancer import LoadBalancer, LoadBalancerArgs
from components.network import Network, NetworkArgs
from components.operations.alerting import Alerting, AlertingArgs
from components.operations.budgets import Budgets, BudgetsArgs
from components.operations.dashboards import RegionPanel, ResourceDashboard, ResourceDashboardArgs
from components.operations.signals import Signal, region_signals, replay_signals
from components.operations.stack_health import RegionHealth, StackHealth, StackHealthArgs
from components.operations.watch import region_watch
from components.peering import VpcPeering, VpcPeeringArgs
from components.reconciler import Reconciler, ReconcilerArgs
from components.regional_pipeline import (
    RegionalPipeline,
    grafana_args,
    peering_side,
    session_store_outputs,
    store_network,
)
from components.replay import Replay, ReplayArgs
from components.replication import Replication, ReplicationArgs, ReplicationSide
from components.session_store import SessionStore, SessionStoreArgs
from components.sessionizer import Sessionizer, SessionizerArgs
from components.settings import from_pulumi_config
from components.streams import Streams, StreamsArgs
from components.support.artifacts import resolve_artifact
from components.support.refs import Ref
from components.support.region import billing_provider, billing_region, global_provider, open_region
from runtime.names import FAILED_EVENTS, STREAM_KINDS, BucketKind, DeliveryKind
from runtime.stack import BUCKET_KINDS, RegionSettings

settings = from_pulumi_config()
env = settings.environment
influxdb = settings.session_store.engine == "influxdb"
sessionizer_zip = resolve_artifact(settings.sessionizer.artifact, "sessionizer.artifact", "make sessionizer-zip")
session_writer_zip = resolve_artifact(
    settings.session_store.artifact, "sessionStore.artifact", "make session-writer-zip"
)
reconciler_zip = resolve_artifact(settings.reconciler.artifact, "reconciler.artifact", "make reconciler-zip")


def regional_pipeline(region_settings: RegionSettings) -> RegionalPipeline:
    region = open_region(settings, region_settings)
    code = region.code

    # The region's data key, and the buckets everything lands in.
    key = RegionKey(f"{code}-key", RegionKeyArgs(env, region, settings.kms_deletion_window_days), region.opts)
    archive = Archive(f"{code}-archive", ArchiveArgs(env, region, key.arn, settings.archive), region.opts)

    # raw events (from ingest) -> sessionizer -> session records and late events.
    streams = Streams(f"{code}-streams", StreamsArgs(env, region, key.arn, settings.streams), region.opts)

    # Players reach the region here: ALB (behind WAF) -> ingest tasks -> raw stream.
    network = Network(
        f"{code}-network",
        NetworkArgs(
            environment=env,
            region=region,
            vpc=settings.network.vpcs[region.settings.role],
            availability_zones=settings.network.availability_zones,
            egress=settings.network.egress,
            more_endpoints=SECRETS_ENDPOINTS if influxdb else (),
        ),
        region.opts,
    )
    load_balancer = LoadBalancer(
        f"{code}-load-balancer",
        LoadBalancerArgs(
            environment=env,
            region=region,
            settings=settings.ingest,
            vpc_id=network.vpc_id,
            public_subnet_ids=network.public_subnet_ids,
        ),
        region.opts,
    )
    Firewall(
        f"{code}-firewall",
        FirewallArgs(
            environment=env,
            region=region,
            settings=settings.waf,
            service_max_body_bytes=settings.ingest.max_body_bytes,
            load_balancer_arn=load_balancer.alb.arn,
            log_retention_days=settings.log_retention_days,
        ),
        region.opts,
    )

    # Every stream is archived: Firehose -> its bucket, one event per line, by arrival hour.
    def delivery(kind: DeliveryKind, source: Ref | None, bucket: BucketKind) -> Delivery:
        args = DeliveryArgs(
            environment=env,
            region=region,
            kind=kind,
            stream_arn=source.arn if source is not None else None,
            bucket_arn=archive.buckets[bucket].arn,
            key_arn=key.arn,
            delivery=settings.delivery,
            log_retention_days=settings.log_retention_days,
            append_newline=source is not None,  # the failed-event documents end in a newline already
        )
        return Delivery(f"{code}-{kind}-delivery", args, region.opts)

    # Events the service refuses land under the raw bucket's failed/ prefix, never nowhere.
    failed_events = delivery(FAILED_EVENTS, None, "raw")
    ingest = IngestService(
        f"{code}-ingest",
        IngestServiceArgs(
            environment=env,
            region=region,
            settings=settings.ingest,
            heartbeat_interval_ms=settings.sessionizer.heartbeat_interval_ms,
            vpc_id=network.vpc_id,
            private_subnet_ids=network.private_subnet_ids,
            load_balancer_security_group=load_balancer.security_group,
            target_group=load_balancer.target_group,
            load_balancer=load_balancer.alb,
            listeners=list(load_balancer.listeners.values()),
            raw_stream=streams.ref("raw"),
            failed_events=failed_events.ref,
            key_arn=key.arn,
            log_retention_days=settings.log_retention_days,
        ),
        region.opts,
    )

    deliveries = {kind: delivery(kind, streams.ref(kind), kind) for kind in STREAM_KINDS}

    # raw stream -> Flink: session records to the session stream, too-late events to the late stream.
    sessionizer = Sessionizer(
        f"{code}-sessionizer",
        SessionizerArgs(
            environment=env,
            region=region,
            settings=settings.sessionizer,
            artifact=sessionizer_zip,
            artifacts_bucket=archive.ref("artifacts"),
            streams={kind: streams.ref(kind) for kind in STREAM_KINDS},
            key_arn=key.arn,
            log_retention_days=settings.log_retention_days,
        ),
        region.opts,
    )

    # session stream -> session writer (Lambda) -> the sessions store (Timestream or InfluxDB), which Grafana reads.
    session_store = SessionStore(
        f"{code}-session-store",
        SessionStoreArgs(
            environment=env,
            region=region,
            settings=settings.session_store,
            artifact=session_writer_zip,
            session_stream_arn=streams.streams["session"].arn,
            key_arn=key.arn,
            artifacts_bucket=archive.buckets["artifacts"].name,
            log_retention_days=settings.log_retention_days,
            network=store_network(settings, network),
        ),
        region.opts,
    )

    # A player the accelerator moved mid-session leaves part of its session in each region: the
    # session buckets (both regions' records, by replication) -> the region's share of the whole
    # session, from the raw and late buckets -> the session stream again.
    reconciler = Reconciler(
        f"{code}-reconciler",
        ReconcilerArgs(
            environment=env,
            region=region,
            settings=settings.reconciler,
            sessionizer=settings.sessionizer,
            artifact=reconciler_zip,
            buckets={kind: archive.ref(kind) for kind in BUCKET_KINDS},
            session_stream=streams.ref("session"),
            key_arn=key.arn,
            log_retention_days=settings.log_retention_days,
        ),
        region.opts,
    )
    return RegionalPipeline(
        region,
        key,
        archive,
        streams,
        network,
        load_balancer,
        ingest,
        failed_events,
        deliveries,
        sessionizer,
        session_store,
        reconciler,
    )


primary = regional_pipeline(settings.primary)
secondary = regional_pipeline(settings.secondary)


# One accelerator in front of both regions' ALBs: players go to the nearest healthy one.
edge = Edge(
    "edge",
    EdgeArgs(
        environment=env,
        settings=settings.edge,
        ports=accelerator_ports(settings.ingest),
        origins={
            p.region.settings.role: EdgeOrigin(region=p.region.name, load_balancer_arn=p.load_balancer.alb.arn)
            for p in (primary, secondary)
        },
    ),
    pulumi.ResourceOptions(providers=[global_provider(settings)]),
)


def replication_side(pipeline: RegionalPipeline) -> ReplicationSide:
    return ReplicationSide(region=pipeline.region, key_arn=pipeline.key.arn, buckets=pipeline.archive.buckets)


# Every data bucket replicates to the other region, in both directions.
replication = Replication(
    "replication",
    ReplicationArgs(
        environment=env,
        primary=replication_side(primary),
        secondary=replication_side(secondary),
        kinds=[kind for kind in BUCKET_KINDS if kind != "artifacts" or settings.replication.artifacts],
        time_control=settings.replication.time_control,
    ),
)


# One Grafana workspace for the stack, over both regions' sessions: Timestream tables, or
# InfluxDB instances in private subnets (the other region's through a peering of the VPCs).
grafana_home, grafana_away = (
    (primary, secondary) if settings.grafana.region == primary.region.name else (secondary, primary)
)
if influxdb:
    VpcPeering("grafana-peering", VpcPeeringArgs(peering_side(grafana_home), peering_side(grafana_away)))
grafana = Grafana("grafana", grafana_args(settings, grafana_home, grafana_away), grafana_home.region.opts)


# Load testing: objects that land in the source bucket fired into the target environments.
replay: Replay | None = None
if settings.replay.enabled and settings.replay.source is not None:
    replay_home = primary if settings.replay.source.region == settings.primary.name else secondary
    replay = Replay(
        "replay",
        ReplayArgs(
            environment=env,
            region=replay_home.region,
            settings=settings.replay,
            artifact=resolve_artifact(settings.replay.artifact, "replay.artifact", "make replay-zip"),
            key_arn=replay_home.key.arn,
            log_retention_days=settings.log_retention_days,
        ),
        replay_home.region.opts,
    )


# -- Operations: every stage watched, from the resources' real names ------------------------


watches = {p.region.settings.role: region_watch(p, replication.rules) for p in (primary, secondary)}
signals: dict[str, list[Signal]] = {role: region_signals(watch) for role, watch in watches.items()}
if replay is not None:
    signals[replay_home.region.settings.role] += replay_signals(replay.function.name, replay.failed_objects.name)

# Per region: the alerts topic, an alarm per stage signal, and "pipeline unhealthy" over them.
alerting = {
    p.region.settings.role: Alerting(
        f"{p.region.code}-alerting",
        AlertingArgs(
            environment=env,
            region=p.region,
            settings=settings.alerting,
            key_arn=p.key.arn,
            signals=signals[p.region.settings.role],
        ),
        p.region.opts,
    )
    for p in (primary, secondary)
}

# One alarm for the stack, in the primary region, over both regions.
StackHealth(
    "stack-health",
    StackHealthArgs(
        environment=env,
        settings=settings.alerting,
        home=RegionHealth(primary.region, alerting["primary"]),
        other=RegionHealth(secondary.region, alerting["secondary"]),
    ),
)

# Both regions side by side, stage by stage, alarm states on top.
ResourceDashboard(
    "resource-dashboard",
    ResourceDashboardArgs(
        environment=env,
        panels=[
            RegionPanel(
                watch=watches[role],
                signals=signals[role],
                alarm_arns=[alerting[role].alarms[signal.what].arn for signal in signals[role]],
                pipeline_unhealthy_arn=alerting[role].pipeline_unhealthy.arn,
            )
            for role in ("primary", "secondary")
        ],
        accelerator_id=edge.accelerator.id.apply(lambda arn: arn.rsplit("/", 1)[-1]),
    ),
    primary.region.opts,
)

# What the stack costs, in the billing region, told apart by the providers' environment tag.
billing_home = billing_region([primary.region, secondary.region]) or primary.region
Budgets(
    "budgets",
    BudgetsArgs(
        environment=env,
        settings=settings.budget,
        billing=billing_provider(settings, [primary.region, secondary.region]),
        alerts_topic_arn=alerting[billing_home.settings.role].topic.arn,
    ),
)


def region_outputs(pipeline: RegionalPipeline) -> dict[str, object]:
    return {
        "region": pipeline.region.name,
        "streams": {
            kind: {"name": stream.name, "arn": stream.arn} for kind, stream in pipeline.streams.streams.items()
        },
        "buckets": {kind: bucket.name for kind, bucket in pipeline.archive.buckets.items()},
        "deliveries": {kind: delivery.firehose.name for kind, delivery in pipeline.deliveries.items()},
        "sessionizer": {
            "arn": pipeline.sessionizer.application.arn,
            "name": pipeline.sessionizer.application.name,
            "code_key": pipeline.sessionizer.code.key,
        },
        "session_store": session_store_outputs(pipeline.session_store),
        "ingest": {
            "alb_dns_name": pipeline.load_balancer.alb.dns_name,
            "cluster": pipeline.ingest.cluster.name,
            "service": pipeline.ingest.service.name,
            "failed_events_delivery": pipeline.failed_events.firehose.name,
        },
        "reconciler": {
            "function": pipeline.reconciler.function.name,
            "parts_table": pipeline.reconciler.parts.name,
            "failed_objects_queue": pipeline.reconciler.failed_objects.name,
        },
        "key_arn": pipeline.key.arn,
        "alerts_topic": alerting[pipeline.region.settings.role].topic.arn,
    }


pulumi.export("environment", env)
# Players are given this URL: the accelerator, or the DNS name that points at it.
scheme = "https" if settings.ingest.https else "http"
pulumi.export(
    "ingest",
    {
        "url": pulumi.Output.concat(f"{scheme}://", settings.ingest.hostname or edge.accelerator.dns_name, "/"),
        "accelerator_dns_name": edge.accelerator.dns_name,
        "static_ips": edge.static_ips,
    },
)
pulumi.export("sessionizer_production_timeouts", settings.sessionizer.production_timeouts)
pulumi.export("grafana", {"region": settings.grafana.region, "endpoint": grafana.workspace.endpoint})
pulumi.export("primary", region_outputs(primary))
pulumi.export("secondary", region_outputs(secondary))
