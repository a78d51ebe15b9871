"""Parsers of the data path's sections: regions, streams, archive lifecycles, sessionizer, session store."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from runtime.names import REGION_NAME, region_code
from runtime.session_writer.settings import DEFAULT_ENGINE, ENGINES, Engine
from runtime.sessionizer.config import (
    DEFAULT_ALLOWED_LATENESS_MS,
    default_idle_advance_after_ms,
    default_inactivity_gap_ms,
)
from runtime.sessionizer.state_layout import STATE_VERSION
from runtime.stack.model import (
    CAPACITY_MODES,
    LifecycleSettings,
    NetworkSettings,
    NewVpc,
    RegionSettings,
    SessionizerSettings,
    StreamSettings,
)
from runtime.stack.reader import Section, SettingsError
from runtime.stack.session_store import (
    INFLUX_DEPLOYMENTS,
    INFLUX_INSTANCE_TYPES,
    INFLUX_STORAGE_TYPES,
    InfluxDbSettings,
    LiveAnalyticsSettings,
    SessionStoreSettings,
)


def parse_region(section: Section, name: str, default: str, role: Literal["primary", "secondary"]) -> RegionSettings:
    value = section.string(name, default, REGION_NAME, "an AWS region name such as us-east-1")
    try:
        code = region_code(value)
    except ValueError:
        raise SettingsError(section.key(name), "must be an AWS region name such as us-east-1", value) from None
    return RegionSettings(name=value, code=code, role=role)


def parse_stream(section: Section, default_retention: int) -> StreamSettings:
    mode = section.choice("mode", CAPACITY_MODES, "on-demand")
    if mode == "provisioned":
        shards: int | None = section.integer("shards", None, 1)
    else:
        if section.present("shards"):
            raise SettingsError(section.key("shards"), "applies only to mode provisioned",
                                section.raw("shards"))  # fmt: skip
        shards = None
    # Kinesis keeps data 24 hours to 365 days.
    retention = section.integer("retentionHours", default_retention, 24, 8760)
    section.finish()
    return StreamSettings(mode=mode, shards=shards, retention_hours=retention)


def parse_lifecycle(section: Section) -> LifecycleSettings:
    # S3 moves objects to STANDARD_IA only after 30 days, and keeps them there for at
    # least 30 days before a further transition.
    ia = section.optional_integer("infrequentAccessDays", 30)
    glacier = section.optional_integer("glacierDays", 1)
    if ia is not None and glacier is not None and glacier < ia + 30:
        raise SettingsError(section.key("glacierDays"), f"must be >= infrequentAccessDays + 30 ({ia + 30})", glacier)
    expiration = section.optional_integer("expirationDays", 1)
    last_transition = max((d for d in (ia, glacier) if d is not None), default=0)
    if expiration is not None and expiration <= last_transition:
        raise SettingsError(section.key("expirationDays"), f"must be > the last transition day ({last_transition})",
                            expiration)  # fmt: skip
    noncurrent = section.integer("noncurrentExpirationDays", 30, 1)
    section.finish()
    return LifecycleSettings(ia, glacier, expiration, noncurrent)


def parse_sessionizer(section: Section) -> SessionizerSettings:
    artifact = parse_zip_path(section, "build/sessionizer/prism-sessionizer.zip")
    checkpoint_interval = section.integer("checkpointIntervalMs", 60_000, 1_000)
    min_pause = section.integer("minPauseBetweenCheckpointsMs", 5_000, 0)
    if min_pause >= checkpoint_interval:
        raise SettingsError(section.key("minPauseBetweenCheckpointsMs"),
                            f"must be < checkpointIntervalMs ({checkpoint_interval})", min_pause)  # fmt: skip
    heartbeat = section.integer("heartbeatIntervalMs", 5_000, 1_000)
    out_of_orderness = section.integer("outOfOrdernessMs", 5_000, 0)
    lateness = section.integer("allowedLatenessMs", DEFAULT_ALLOWED_LATENESS_MS, 0)
    settings = SessionizerSettings(
        artifact=artifact,
        # Managed Flink: parallelism 1-256 without a quota increase, 1-8 per KPU.
        parallelism=section.integer("parallelism", 1, 1, 256),
        parallelism_per_kpu=section.integer("parallelismPerKpu", 1, 1, 8),
        auto_scaling=section.boolean("autoScaling", True),
        checkpoint_interval_ms=checkpoint_interval,
        min_pause_between_checkpoints_ms=min_pause,
        snapshots=section.boolean("snapshots", True),
        log_level=section.choice("logLevel", ("INFO", "WARN", "ERROR", "DEBUG"), "INFO"),
        metrics_level=section.choice("metricsLevel", ("APPLICATION", "OPERATOR", "PARALLELISM", "TASK"), "APPLICATION"),
        # Measured with bench/sessionizer.py: process mode with large bundles runs faster
        # and spends a third of thread mode's CPU per event.
        execution_mode=section.choice("executionMode", ("process", "thread"), "process"),
        out_of_orderness_ms=out_of_orderness,
        idle_advance_after_ms=section.integer("idleAdvanceAfterMs", default_idle_advance_after_ms(out_of_orderness), 0),
        allowed_lateness_ms=lateness,
        heartbeat_interval_ms=heartbeat,
        inactivity_gap_ms=section.integer("inactivityGapMs", default_inactivity_gap_ms(heartbeat), heartbeat),
        update_interval_ms=section.integer("updateIntervalMs", 10_000, 1_000),
        production_timeouts=section.boolean("productionTimeouts", False),
        allow_non_restored_state=section.boolean("allowNonRestoredState", False),
        state_migration=section.optional_integer("stateMigration", 1),
    )
    check_state_migration(section, settings)
    section.finish()
    return settings


def check_state_migration(section: Section, settings: SessionizerSettings) -> None:
    """Dropping state a snapshot holds is asked for one state version at a time, never left on."""
    if settings.allow_non_restored_state and settings.state_migration != STATE_VERSION:
        raise SettingsError(section.key("allowNonRestoredState"), "drops the open sessions a snapshot holds: "
                            f"set it only with {section.key('stateMigration')} equal to the job's state version "
                            f"({STATE_VERSION}, runtime/sessionizer/state_layout.py), for the deploy that changes "
                            "the layout", settings.allow_non_restored_state)  # fmt: skip
    if settings.state_migration is not None and not settings.allow_non_restored_state:
        raise SettingsError(section.key("stateMigration"), "is read only with allowNonRestoredState: true; remove "
                            "it once the migration is deployed", settings.state_migration)  # fmt: skip


def parse_zip_path(section: Section, default: str) -> Path:
    artifact = Path(section.string("artifact", default))
    if artifact.is_absolute() or artifact.suffix != ".zip":
        raise SettingsError(section.key("artifact"), "must be a .zip path relative to the project", str(artifact))
    return artifact


def parse_session_store(
    section: Section, session_stream: StreamSettings, network: NetworkSettings
) -> SessionStoreSettings:
    parallelization = section.integer("parallelizationFactor", 1, 1, 10)
    reserved = section.integer("reservedConcurrency", 10, 1)
    if session_stream.shards is not None and reserved < session_stream.shards * parallelization:
        # The event source runs one batch per shard and parallelization slot at a time.
        raise SettingsError(section.key("reservedConcurrency"), "must be >= streams.session.shards x "
                            f"parallelizationFactor ({session_stream.shards * parallelization})", reserved)  # fmt: skip
    record_age = section.integer("maximumRecordAgeSeconds", 3_600, -1, 604_800)
    if 0 <= record_age < 60:
        raise SettingsError(section.key("maximumRecordAgeSeconds"), "must be -1 (no limit) or 60-604800", record_age)
    engine = section.choice("engine", ENGINES, DEFAULT_ENGINE)
    # Each engine's own keys; the other engine's keys are errors, not silently ignored.
    engine_keys: dict[Engine, tuple[str, ...]] = {
        "liveanalytics": ("memoryRetentionHours", "magneticRetentionDays"),
        "influxdb": ("influxdb",),
    }
    for other, keys in engine_keys.items():
        for key in keys:
            if other != engine and section.present(key):
                raise SettingsError(section.key(key), f"applies only to engine {other}", section.raw(key))
    store = (
        _influxdb(section.section("influxdb"), section.key("engine"), network)
        if engine == "influxdb"
        else LiveAnalyticsSettings(
            # Timestream: memory store 1 hour to 1 year, magnetic store 1 day to 200 years.
            memory_retention_hours=section.integer("memoryRetentionHours", 24, 1, 8_766),
            magnetic_retention_days=section.integer("magneticRetentionDays", 365, 1, 73_000),
        )
    )
    settings = SessionStoreSettings(
        artifact=parse_zip_path(section, "build/session_writer/prism-session-writer.zip"),
        engine=engine,
        store=store,
        memory_mb=section.integer("memoryMb", 512, 128, 10_240),
        timeout_seconds=section.integer("timeoutSeconds", 60, 1, 900),
        reserved_concurrency=reserved,
        batch_size=section.integer("batchSize", 500, 1, 10_000),
        batching_window_seconds=section.integer("batchingWindowSeconds", 1, 0, 300),
        parallelization_factor=parallelization,
        starting_position=section.choice("startingPosition", ("LATEST", "TRIM_HORIZON"), "LATEST"),
        maximum_retry_attempts=section.integer("maximumRetryAttempts", 10, -1, 10_000),
        maximum_record_age_seconds=record_age,
        failed_batch_retention_days=section.integer("failedBatchRetentionDays", 14, 1, 14),
    )
    section.finish()
    return settings


def _influxdb(section: Section, engine_key: str, network: NetworkSettings) -> InfluxDbSettings:
    for role, vpc in network.vpcs.items():
        if not isinstance(vpc, NewVpc):
            # Grafana, in one region, reaches the other region's instance through a peering
            # of the two VPCs, whose routes the program can only add to VPCs it made.
            raise SettingsError(engine_key, f"influxdb needs network.{role} created by the program "
                                "(cidr), not an existing VPC", "influxdb")  # fmt: skip
    storage_type = section.choice("storageType", INFLUX_STORAGE_TYPES, "InfluxIOIncludedT1")
    # Timestream for InfluxDB: 20-16384 GiB; the 12k and 16k IOPS tiers start at 400 GiB.
    smallest = 20 if storage_type == "InfluxIOIncludedT1" else 400
    storage = section.integer("allocatedStorageGb", smallest, 20, 16_384)
    if storage < smallest:
        raise SettingsError(section.key("allocatedStorageGb"), f"must be >= {smallest} with storageType "
                            f"{storage_type}", storage)  # fmt: skip
    deployment = section.choice("deploymentType", INFLUX_DEPLOYMENTS, "SINGLE_AZ")
    if deployment == "WITH_MULTIAZ_STANDBY" and network.availability_zones < 2:
        raise SettingsError(section.key("deploymentType"), "WITH_MULTIAZ_STANDBY needs network.availabilityZones "
                            ">= 2", deployment)  # fmt: skip
    settings = InfluxDbSettings(
        instance_type=section.choice("instanceType", INFLUX_INSTANCE_TYPES, "db.influx.medium"),
        storage_type=storage_type,
        allocated_storage_gb=storage,
        deployment_type=deployment,
        # InfluxDB keeps a bucket's data forever (0) or at least one hour; days here, up to 100 years.
        retention_days=section.integer("retentionDays", 30, 0, 36_500),
    )
    section.finish()
    return settings
