"""The session store's settings (sessionStore): which engine, its store, the writer Lambda and its event source."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from runtime.session_writer.settings import Engine


@dataclass(frozen=True)
class LiveAnalyticsSettings:
    """Timestream for LiveAnalytics: a database and its sessions table."""

    memory_retention_hours: int
    magnetic_retention_days: int


# Timestream for InfluxDB's instance classes and storage tiers (CreateDbInstance).
INFLUX_INSTANCE_TYPES = (
    "db.influx.medium", "db.influx.large", "db.influx.xlarge", "db.influx.2xlarge",
    "db.influx.4xlarge", "db.influx.8xlarge", "db.influx.12xlarge", "db.influx.16xlarge",
)  # fmt: skip
InfluxStorageType = Literal["InfluxIOIncludedT1", "InfluxIOIncludedT2", "InfluxIOIncludedT3"]
INFLUX_STORAGE_TYPES: tuple[InfluxStorageType, ...] = get_args(InfluxStorageType)
InfluxDeployment = Literal["SINGLE_AZ", "WITH_MULTIAZ_STANDBY"]
INFLUX_DEPLOYMENTS: tuple[InfluxDeployment, ...] = get_args(InfluxDeployment)


@dataclass(frozen=True)
class InfluxDbSettings:
    """Timestream for InfluxDB: one instance per region, in its private subnets."""

    instance_type: str
    storage_type: InfluxStorageType
    allocated_storage_gb: int
    deployment_type: InfluxDeployment
    retention_days: int  # of the sessions bucket; 0: kept forever


@dataclass(frozen=True)
class SessionStoreSettings:
    """The sessions store (sessionStore.engine), the session writer Lambda and its event source mapping."""

    artifact: Path  # the Lambda zip (make session-writer-zip), relative to the project
    engine: Engine
    store: LiveAnalyticsSettings | InfluxDbSettings  # as the engine needs
    memory_mb: int
    timeout_seconds: int
    reserved_concurrency: int
    batch_size: int
    batching_window_seconds: int
    parallelization_factor: int
    starting_position: Literal["LATEST", "TRIM_HORIZON"]
    maximum_retry_attempts: int
    maximum_record_age_seconds: int  # -1: no limit
    failed_batch_retention_days: int  # the on-failure queue
