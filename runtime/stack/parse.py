"""The whole stack settings object, from a stack file's values or Pulumi's config."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runtime.names import STREAM_KINDS
from runtime.stack.capacity import parse_capacity
from runtime.stack.data_path import parse_lifecycle, parse_region, parse_session_store, parse_sessionizer, parse_stream
from runtime.stack.ingest import check_edge_admits_the_service, parse_edge, parse_ingest, parse_network, parse_waf
from runtime.stack.limits import ENVIRONMENT_NAME, LOG_RETENTION_DAYS
from runtime.stack.model import ArchiveSettings, DeliverySettings, GrafanaSettings, ReplicationSettings, Settings, Tags
from runtime.stack.operations import parse_alerting, parse_budget
from runtime.stack.reader import KeyRules, Section, SettingsError, stack_file_values
from runtime.stack.reconciler import parse_reconciler
from runtime.stack.replay import parse_replay


def parse_settings(values: Mapping[str, Any], rules: KeyRules | None = None) -> Settings:
    """Validate the stack's ``prism-pipeline:*`` values (namespace already removed); `rules` notes each key read."""
    root = Section("", values, rules)
    environment = root.string("environment", None, ENVIRONMENT_NAME,
                              "2-12 lower-case letters or digits, starting with a letter")  # fmt: skip

    regions = root.section("regions")
    primary = parse_region(regions, "primary", "us-east-1", "primary")
    secondary = parse_region(regions, "secondary", "us-west-2", "secondary")
    if primary.name == secondary.name:
        raise SettingsError(regions.key("secondary"), "must differ from regions.primary", secondary.name)
    regions.finish()

    streams_section = root.section("streams")
    default_retention = streams_section.integer("retentionHours", 24, 24, 8760)
    streams = {kind: parse_stream(streams_section.section(kind), default_retention) for kind in STREAM_KINDS}
    streams_section.finish()

    delivery_section = root.section("delivery")
    delivery = DeliverySettings(
        buffer_size_mb=delivery_section.integer("bufferSizeMb", 5, 1, 128),
        buffer_interval_seconds=delivery_section.integer("bufferIntervalSeconds", 300, 0, 900),
        # The reconciler reads the session objects, and Athena the raw and late ones: both read these two.
        compression=delivery_section.choice("compression", ("GZIP", "UNCOMPRESSED"), "GZIP"),
    )
    delivery_section.finish()

    archive_section = root.section("archive")
    archive = ArchiveSettings(
        raw=parse_lifecycle(archive_section.section("raw")),
        session=parse_lifecycle(archive_section.section("session")),
        late=parse_lifecycle(archive_section.section("late")),
        artifacts_noncurrent_expiration_days=archive_section.integer("artifactsNoncurrentExpirationDays", 90, 1),
        abort_incomplete_upload_days=archive_section.integer("abortIncompleteUploadDays", 7, 1),
    )
    archive_section.finish()

    replication_section = root.section("replication")
    replication = ReplicationSettings(
        time_control=replication_section.boolean("timeControl", False),
        artifacts=replication_section.boolean("artifacts", False),
    )
    replication_section.finish()

    sessionizer = parse_sessionizer(root.section("sessionizer"))
    network = parse_network(root.section("network"))
    session_store = parse_session_store(root.section("sessionStore"), streams["session"], network)
    ingest = parse_ingest(root.section("ingest"), {"primary": primary, "secondary": secondary}, network.egress)
    waf = parse_waf(root.section("waf"))
    check_edge_admits_the_service(waf, ingest)
    edge = parse_edge(root.section("edge"))
    grafana_section = root.section("grafana")
    grafana = GrafanaSettings(region=grafana_section.string("region", primary.name))
    if grafana.region not in (primary.name, secondary.name):
        raise SettingsError(grafana_section.key("region"), "must be one of the stack's regions "
                            f"({primary.name}, {secondary.name})", grafana.region)  # fmt: skip
    grafana_section.finish()

    tags_section = root.section("tags")
    tags = Tags(owner=tags_section.string("owner"), cost_center=tags_section.string("costCenter"))
    tags_section.finish()

    alerting = parse_alerting(root.section("alerting"), delivery)
    budget = parse_budget(root.section("budget"))
    replay = parse_replay(root.section("replay"), environment, (primary, secondary))
    reconciler = parse_reconciler(root.section("reconciler"))
    capacity = parse_capacity(root.section("capacity"))

    log_retention = root.integer("logRetentionDays", 30, 1)
    if log_retention not in LOG_RETENTION_DAYS:
        raise SettingsError("logRetentionDays", "must be a CloudWatch Logs retention period "
                            f"({', '.join(map(str, LOG_RETENTION_DAYS))})", log_retention)  # fmt: skip
    kms_window = root.integer("kmsDeletionWindowDays", 30, 7, 30)
    root.finish()

    return Settings(
        environment=environment,
        primary=primary,
        secondary=secondary,
        streams=streams,
        delivery=delivery,
        archive=archive,
        replication=replication,
        sessionizer=sessionizer,
        session_store=session_store,
        network=network,
        ingest=ingest,
        waf=waf,
        edge=edge,
        grafana=grafana,
        tags=tags,
        alerting=alerting,
        budget=budget,
        replay=replay,
        reconciler=reconciler,
        capacity=capacity,
        log_retention_days=log_retention,
        kms_deletion_window_days=kms_window,
    )


def from_stack_file(path: Path) -> Settings:
    """Settings of a stack file, for local runs and tests outside the Pulumi engine."""
    return parse_settings(stack_file_values(path))
