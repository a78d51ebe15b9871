"""Stack settings: one typed, validated object, built once before any resource.

Only this module reads configuration. Every other component takes the dataclasses
below, already validated, so a bad value stops the program with the key a user must
edit, the rule it breaks and the value found, e.g.
``prism-pipeline:streams.raw.shards must be >= 1, got 0``.

The values come from the stack's ``prism-pipeline:*`` configuration: under Pulumi
through ``pulumi.Config`` (``from_pulumi_config``); for local runs and tests straight
from a ``Pulumi.<stack>.yaml`` file (``from_stack_file``). Both go through
``parse_settings``, so names and sizing are the same wherever the pipeline runs.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

PROJECT = "prism-pipeline"

StreamKind = Literal["raw", "session", "late"]
STREAM_KINDS: tuple[StreamKind, ...] = ("raw", "session", "late")
BucketKind = Literal["raw", "session", "late", "artifacts"]
BUCKET_KINDS: tuple[BucketKind, ...] = ("raw", "session", "late", "artifacts")

CapacityMode = Literal["on-demand", "provisioned"]
Compression = Literal["UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY"]

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

_ENVIRONMENT_NAME = re.compile(r"^[a-z][a-z0-9]{1,11}$")
_REGION_NAME = re.compile(r"^(?P<area>[a-z]{2})(?:-gov)?-(?P<direction>[a-z]+)-(?P<number>[1-9])$")
_DIRECTION_CODES = {
    "east": "e", "west": "w", "north": "n", "south": "s", "central": "c",
    "northeast": "ne", "northwest": "nw", "southeast": "se", "southwest": "sw",
}  # fmt: skip


class SettingsError(ValueError):
    """A stack setting is missing or wrong; the message names the key to edit."""

    def __init__(self, key: str, problem: str, value: object) -> None:
        self.key = f"{PROJECT}:{key}"
        super().__init__(f"{self.key} {problem}, got {value!r}")


def region_code(region: str) -> str:
    """Short, readable region code used in physical names: us-east-1 -> use1."""
    match = _REGION_NAME.match(region)
    if match is None or match["direction"] not in _DIRECTION_CODES:
        raise ValueError(f"not an AWS region name: {region!r}")
    gov = "g" if "-gov-" in region else ""
    return f"{match['area']}{gov}{_DIRECTION_CODES[match['direction']]}{match['number']}"


@dataclass(frozen=True)
class RegionSettings:
    """One region of the stack's pair."""

    name: str  # us-east-1
    code: str  # use1
    role: Literal["primary", "secondary"]


@dataclass(frozen=True)
class StreamSettings:
    mode: CapacityMode
    shards: int | None  # only for provisioned streams
    retention_hours: int


@dataclass(frozen=True)
class DeliverySettings:
    buffer_size_mb: int
    buffer_interval_seconds: int
    compression: Compression


@dataclass(frozen=True)
class LifecycleSettings:
    """Lifecycle of one data bucket; None means the step is not taken."""

    infrequent_access_days: int | None
    glacier_days: int | None
    expiration_days: int | None
    noncurrent_expiration_days: int


@dataclass(frozen=True)
class ArchiveSettings:
    raw: LifecycleSettings
    session: LifecycleSettings
    late: LifecycleSettings
    artifacts_noncurrent_expiration_days: int
    abort_incomplete_upload_days: int

    def lifecycle(self, kind: StreamKind) -> LifecycleSettings:
        return {"raw": self.raw, "session": self.session, "late": self.late}[kind]


@dataclass(frozen=True)
class ReplicationSettings:
    time_control: bool  # S3 Replication Time Control (15-minute SLA) and its metrics
    artifacts: bool  # replicate the artifacts bucket too


FlinkLogLevel = Literal["INFO", "WARN", "ERROR", "DEBUG"]
FlinkMetricsLevel = Literal["APPLICATION", "OPERATOR", "PARALLELISM", "TASK"]
PythonExecutionMode = Literal["thread", "process"]


@dataclass(frozen=True)
class SessionizerSettings:
    """The Managed Flink application of each region and what the job reads from it."""

    artifact: Path  # the application zip (make sessionizer-zip), relative to the project
    parallelism: int
    parallelism_per_kpu: int
    auto_scaling: bool
    checkpoint_interval_ms: int
    min_pause_between_checkpoints_ms: int
    snapshots: bool
    log_level: FlinkLogLevel
    metrics_level: FlinkMetricsLevel
    execution_mode: PythonExecutionMode
    out_of_orderness_ms: int
    idle_advance_after_ms: int  # a quiet input: the watermark moves on with the clock after this
    allowed_lateness_ms: int
    heartbeat_interval_ms: int
    inactivity_gap_ms: int
    update_interval_ms: int
    # Production traffic needs heartbeat.timeout and akka.ask.timeout at 300 s, which only
    # AWS support can set: `python -m runtime.ops flink-timeouts --stack <env>`.
    production_timeouts: bool


@dataclass(frozen=True)
class SessionStoreSettings:
    """Timestream table, the session writer Lambda and its event source mapping."""

    artifact: Path  # the Lambda zip (make session-writer-zip), relative to the project
    memory_retention_hours: int
    magnetic_retention_days: int
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


@dataclass(frozen=True)
class GrafanaSettings:
    region: str  # one workspace per stack, in one of the stack's regions


RegionRole = Literal["primary", "secondary"]
ROLES: tuple[RegionRole, ...] = ("primary", "secondary")
Egress = Literal["endpoints", "nat"]


@dataclass(frozen=True)
class NewVpc:
    """A VPC the program creates: its CIDR is cut into one public and one private subnet per zone."""

    cidr: str


@dataclass(frozen=True)
class ExistingVpc:
    """A VPC someone else runs; its private subnets must already reach Kinesis, Firehose, ECR and logs."""

    vpc_id: str
    public_subnet_ids: tuple[str, ...]
    private_subnet_ids: tuple[str, ...]


@dataclass(frozen=True)
class NetworkSettings:
    availability_zones: int
    # endpoints: interface endpoints for every AWS API the tasks call, no internet path;
    # nat: a NAT gateway per zone.
    egress: Egress
    vpcs: Mapping[RegionRole, NewVpc | ExistingVpc]


@dataclass(frozen=True)
class TaskCounts:
    minimum: int
    desired: int
    maximum: int


@dataclass(frozen=True)
class IngestServiceSettings:
    """The ingest service in each region: ALB, Fargate tasks, their scaling, and what they are told."""

    image: str  # may hold {account} and {region}, filled per region
    cpu: int  # Fargate CPU units
    memory_mb: int
    cpu_architecture: Literal["X86_64", "ARM64"]
    port: int
    tasks: TaskCounts
    cpu_target_percent: int
    requests_per_target: int  # ALBRequestCountPerTarget, per minute
    scale_in_cooldown_seconds: int
    scale_out_cooldown_seconds: int
    shutdown_drain_seconds: int
    ack_timeout_seconds: int
    cors_origins: tuple[str, ...]
    max_body_bytes: int
    max_batch_events: int
    max_clock_skew_ms: int
    allow_http: bool
    certificate_arns: Mapping[RegionRole, str | None]
    tls_policy: str
    idle_timeout_seconds: int
    deletion_protection: bool
    access_log_expiration_days: int
    hostname: str | None  # the name players use (a DNS alias of the accelerator), if any
    container_insights: Literal["enabled", "enhanced", "disabled"]

    def image_for(self, region: str, account_id: str) -> str:
        return self.image.replace("{region}", region).replace("{account}", account_id)

    @property
    def from_ecr(self) -> bool:
        """Pulled from ECR: the execution role then needs pull rights on that one repository."""
        image = _IMAGE.match(self.image)
        return image is not None and _ECR_REGISTRY.match(image["registry"]) is not None

    def ecr_repository_arn(self, region: str, account_id: str, partition: str) -> str:
        image = _IMAGE.match(self.image_for(region, account_id))
        registry = _ECR_REGISTRY.match(image["registry"]) if image is not None else None
        if image is None or registry is None:
            raise ValueError(f"not an ECR image: {self.image}")
        return f"arn:{partition}:ecr:{registry['region']}:{registry['account']}:repository/{image['repository']}"

    @property
    def https(self) -> bool:
        return any(self.certificate_arns.values())


@dataclass(frozen=True)
class WafSettings:
    rate_limit: int  # requests per client IP per window
    rate_window_seconds: int
    max_body_bytes: int
    common_rule_set: Literal["block", "count"]


@dataclass(frozen=True)
class EndpointSettings:
    traffic_dial: int  # percent of the traffic the accelerator would send this region that it does send
    weight: int  # the region's ALB within its endpoint group


@dataclass(frozen=True)
class EdgeSettings:
    client_affinity: Literal["NONE", "SOURCE_IP"]
    endpoints: Mapping[RegionRole, EndpointSettings]


@dataclass(frozen=True)
class Tags:
    owner: str
    cost_center: str


@dataclass(frozen=True)
class Settings:
    environment: str
    primary: RegionSettings
    secondary: RegionSettings
    streams: Mapping[StreamKind, StreamSettings]
    delivery: DeliverySettings
    archive: ArchiveSettings
    replication: ReplicationSettings
    sessionizer: SessionizerSettings
    session_store: SessionStoreSettings
    network: NetworkSettings
    ingest: IngestServiceSettings
    waf: WafSettings
    edge: EdgeSettings
    grafana: GrafanaSettings
    tags: Tags
    log_retention_days: int
    kms_deletion_window_days: int

    @property
    def regions(self) -> tuple[RegionSettings, RegionSettings]:
        return (self.primary, self.secondary)

    def other(self, region: RegionSettings) -> RegionSettings:
        return self.secondary if region == self.primary else self.primary


class _Section:
    """Reads one config object, naming every key by its full dotted path.

    Unknown keys are errors too: a typo must not silently fall back to a default.
    """

    def __init__(self, path: str, values: Mapping[str, Any]) -> None:
        self._path = path
        self._values = values
        self._read: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self._path}.{name}" if self._path else name

    def _get(self, name: str) -> Any:
        self._read.add(name)
        return self._values.get(name)

    def section(self, name: str) -> _Section:
        value = self._get(name)
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            raise SettingsError(self.key(name), "must be an object", value)
        return _Section(self.key(name), value)

    def string(self, name: str, default: str | None = None, pattern: re.Pattern[str] | None = None,
               rule: str = "") -> str:  # fmt: skip
        value = self._get(name)
        if value is None:
            if default is None:
                raise SettingsError(self.key(name), "is required", None)
            return default
        if not isinstance(value, str) or not value.strip():
            raise SettingsError(self.key(name), "must be a non-empty string", value)
        if pattern is not None and not pattern.match(value):
            raise SettingsError(self.key(name), f"must be {rule}", value)
        return value

    def optional_string(self, name: str, pattern: re.Pattern[str], rule: str) -> str | None:
        if self._values.get(name) is None:
            self._read.add(name)
            return None
        return self.string(name, None, pattern, rule)

    def strings(self, name: str, default: tuple[str, ...] | None) -> tuple[str, ...]:
        value = self._get(name)
        if value is None:
            if default is None:
                raise SettingsError(self.key(name), "is required", None)
            return default
        if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
            raise SettingsError(self.key(name), "must be a list of non-empty strings", value)
        return tuple(value)

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = self.string(name, default)
        if value not in choices:
            raise SettingsError(self.key(name), f"must be one of {', '.join(choices)}", value)
        return value

    def integer(self, name: str, default: int | None, minimum: int, maximum: int | None = None) -> int:
        value = self._get(name)
        if value is None:
            if default is None:
                raise SettingsError(self.key(name), "is required", None)
            return default
        # `pulumi config set --path` may store a number as text.
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            value = int(value)
        # Bools are ints in Python and never a valid count.
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingsError(self.key(name), "must be a whole number", value)
        if value < minimum:
            raise SettingsError(self.key(name), f"must be >= {minimum}", value)
        if maximum is not None and value > maximum:
            raise SettingsError(self.key(name), f"must be <= {maximum}", value)
        return value

    def optional_integer(self, name: str, minimum: int) -> int | None:
        if self._values.get(name) is None:
            self._read.add(name)
            return None
        return self.integer(name, None, minimum)

    def boolean(self, name: str, default: bool) -> bool:
        value = self._get(name)
        if value is None:
            return default
        if value in ("true", "false"):  # text, as `pulumi config set` stores it
            return bool(value == "true")
        if not isinstance(value, bool):
            raise SettingsError(self.key(name), "must be true or false", value)
        return value

    def finish(self) -> None:
        for name in sorted(set(self._values) - self._read):
            raise SettingsError(self.key(name), "is not a known setting", self._values[name])


def _region(section: _Section, name: str, default: str, role: Literal["primary", "secondary"]) -> RegionSettings:
    value = section.string(name, default, _REGION_NAME, "an AWS region name such as us-east-1")
    try:
        code = region_code(value)
    except ValueError:
        raise SettingsError(section.key(name), "must be an AWS region name such as us-east-1", value) from None
    return RegionSettings(name=value, code=code, role=role)


def _stream(section: _Section, default_retention: int) -> StreamSettings:
    mode = section.choice("mode", ("on-demand", "provisioned"), "on-demand")
    if mode == "provisioned":
        shards: int | None = section.integer("shards", None, 1)
    else:
        if section._get("shards") is not None:
            raise SettingsError(section.key("shards"), "applies only to mode provisioned",
                                section._values["shards"])  # fmt: skip
        shards = None
    # Kinesis keeps data 24 hours to 365 days.
    retention = section.integer("retentionHours", default_retention, 24, 8760)
    section.finish()
    return StreamSettings(mode=mode, shards=shards, retention_hours=retention)  # type: ignore[arg-type]


def _lifecycle(section: _Section) -> LifecycleSettings:
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


def _sessionizer(section: _Section) -> SessionizerSettings:
    artifact = _zip_path(section, "build/sessionizer/prism-sessionizer.zip")
    checkpoint_interval = section.integer("checkpointIntervalMs", 60_000, 1_000)
    min_pause = section.integer("minPauseBetweenCheckpointsMs", 5_000, 0)
    if min_pause >= checkpoint_interval:
        raise SettingsError(section.key("minPauseBetweenCheckpointsMs"),
                            f"must be < checkpointIntervalMs ({checkpoint_interval})", min_pause)  # fmt: skip
    heartbeat = section.integer("heartbeatIntervalMs", 5_000, 1_000)
    out_of_orderness = section.integer("outOfOrdernessMs", 5_000, 0)
    lateness = section.integer("allowedLatenessMs", 30_000, 0)
    settings = SessionizerSettings(
        artifact=artifact,
        # Managed Flink: parallelism 1-256 without a quota increase, 1-8 per KPU.
        parallelism=section.integer("parallelism", 1, 1, 256),
        parallelism_per_kpu=section.integer("parallelismPerKpu", 1, 1, 8),
        auto_scaling=section.boolean("autoScaling", True),
        checkpoint_interval_ms=checkpoint_interval,
        min_pause_between_checkpoints_ms=min_pause,
        snapshots=section.boolean("snapshots", True),
        log_level=section.choice("logLevel", ("INFO", "WARN", "ERROR", "DEBUG"), "INFO"),  # type: ignore[arg-type]
        metrics_level=section.choice(  # type: ignore[arg-type]
            "metricsLevel", ("APPLICATION", "OPERATOR", "PARALLELISM", "TASK"), "APPLICATION"
        ),
        # Measured with bench/sessionizer.py: process mode with large bundles runs faster
        # and spends a third of thread mode's CPU per event.
        execution_mode=section.choice("executionMode", ("process", "thread"), "process"),  # type: ignore[arg-type]
        out_of_orderness_ms=out_of_orderness,
        idle_advance_after_ms=section.integer("idleAdvanceAfterMs", max(1_000, out_of_orderness), 0),
        allowed_lateness_ms=lateness,
        heartbeat_interval_ms=heartbeat,
        # "A small multiple of the heartbeat interval": three missed heartbeats end a session.
        inactivity_gap_ms=section.integer("inactivityGapMs", 3 * heartbeat, heartbeat),
        update_interval_ms=section.integer("updateIntervalMs", 10_000, 1_000),
        production_timeouts=section.boolean("productionTimeouts", False),
    )
    section.finish()
    return settings


def _zip_path(section: _Section, default: str) -> Path:
    artifact = Path(section.string("artifact", default))
    if artifact.is_absolute() or artifact.suffix != ".zip":
        raise SettingsError(section.key("artifact"), "must be a .zip path relative to the project", str(artifact))
    return artifact


def _session_store(section: _Section, session_stream: StreamSettings) -> SessionStoreSettings:
    parallelization = section.integer("parallelizationFactor", 1, 1, 10)
    reserved = section.integer("reservedConcurrency", 10, 1)
    if session_stream.shards is not None and reserved < session_stream.shards * parallelization:
        # The event source runs one batch per shard and parallelization slot at a time.
        raise SettingsError(section.key("reservedConcurrency"), "must be >= streams.session.shards x "
                            f"parallelizationFactor ({session_stream.shards * parallelization})", reserved)  # fmt: skip
    record_age = section.integer("maximumRecordAgeSeconds", 3_600, -1, 604_800)
    if 0 <= record_age < 60:
        raise SettingsError(section.key("maximumRecordAgeSeconds"), "must be -1 (no limit) or 60-604800", record_age)
    settings = SessionStoreSettings(
        artifact=_zip_path(section, "build/session_writer/prism-session-writer.zip"),
        # Timestream: memory store 1 hour to 1 year, magnetic store 1 day to 200 years.
        memory_retention_hours=section.integer("memoryRetentionHours", 24, 1, 8_766),
        magnetic_retention_days=section.integer("magneticRetentionDays", 365, 1, 73_000),
        memory_mb=section.integer("memoryMb", 512, 128, 10_240),
        timeout_seconds=section.integer("timeoutSeconds", 60, 1, 900),
        reserved_concurrency=reserved,
        batch_size=section.integer("batchSize", 500, 1, 10_000),
        batching_window_seconds=section.integer("batchingWindowSeconds", 1, 0, 300),
        parallelization_factor=parallelization,
        starting_position=section.choice("startingPosition", ("LATEST", "TRIM_HORIZON"), "LATEST"),  # type: ignore[arg-type]
        maximum_retry_attempts=section.integer("maximumRetryAttempts", 10, -1, 10_000),
        maximum_record_age_seconds=record_age,
        failed_batch_retention_days=section.integer("failedBatchRetentionDays", 14, 1, 14),
    )
    section.finish()
    return settings


_VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")
_SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8,17}$")
# arn:aws:acm:us-east-1:123456789012:certificate/<uuid>
_CERTIFICATE_ARN = re.compile(
    r"^arn:aws(?:-[a-z]+)*:acm:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):certificate/[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}$"
)
# registry/repository:tag or @sha256:digest; {account} and {region} are filled per region.
_IMAGE = re.compile(
    r"^(?P<registry>[a-z0-9{}.-]+(?::\d+)?)/(?P<repository>[a-z0-9]+(?:[._/-][a-z0-9]+)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})|@sha256:[0-9a-f]{64})$"
)
_ECR_REGISTRY = re.compile(
    r"^(?P<account>\d{12}|\{account\})\.dkr\.ecr\.(?P<region>[a-z0-9-]+|\{region\})\.amazonaws\.com$"
)
_HOSTNAME = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
# ALB security policies that allow TLS 1.2 and 1.3 only (or 1.3 only).
TLS_POLICIES = (
    "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-3-2021-06",
)
# Fargate task sizes: CPU units -> (lowest memory, highest memory, step), MiB.
FARGATE_MEMORY = {
    256: (512, 2048, None), 512: (1024, 4096, 1024), 1024: (2048, 8192, 1024), 2048: (4096, 16384, 1024),
    4096: (8192, 30720, 1024), 8192: (16384, 61440, 4096), 16384: (32768, 122880, 8192),
}  # fmt: skip
# Fargate gives a container at most 120 s between SIGTERM and SIGKILL.
FARGATE_MAX_STOP_TIMEOUT = 120
# A WAF web ACL in front of an ALB sees at most the first 8 KB of a body.
WAF_ALB_BODY_INSPECTION_BYTES = 8_192


def task_stop_timeout_seconds(shutdown_drain_seconds: int, ack_timeout_seconds: int) -> int:
    """SIGTERM to SIGKILL: in-flight requests (each waits at most the ack timeout), then the
    service drains its Kinesis queue and its failed-events queue, each within the drain time;
    five seconds for the process to exit."""
    return min(shutdown_drain_seconds, ack_timeout_seconds) + 2 * shutdown_drain_seconds + 5


def _vpc(section: _Section, availability_zones: int) -> NewVpc | ExistingVpc:
    if section._values.get("vpcId") is None:
        text = section.string("cidr", None)
        try:
            network = ipaddress.IPv4Network(text)
        except ValueError:
            raise SettingsError(section.key("cidr"), "must be an IPv4 network such as 10.40.0.0/16", text) from None
        if not 16 <= network.prefixlen <= 22 or not network.is_private:
            raise SettingsError(section.key("cidr"), "must be a private network of /16 to /22", text)
        section.finish()
        return NewVpc(cidr=str(network))
    vpc_id = section.string("vpcId", None, _VPC_ID, "a VPC id such as vpc-0123456789abcdef0")
    subnets: dict[str, tuple[str, ...]] = {}
    for name in ("publicSubnetIds", "privateSubnetIds"):
        ids = section.strings(name, None)
        bad = [i for i in ids if not _SUBNET_ID.match(i)]
        if bad:
            raise SettingsError(section.key(name), "must hold subnet ids such as subnet-0123456789abcdef0", bad[0])
        if len(set(ids)) < availability_zones:
            raise SettingsError(section.key(name), f"must name one subnet in each of network.availabilityZones "
                                f"({availability_zones}) zones", list(ids))  # fmt: skip
        subnets[name] = ids
    if section._values.get("cidr") is not None:
        raise SettingsError(section.key("cidr"), "applies only to a VPC the program creates (no vpcId)",
                            section._values["cidr"])  # fmt: skip
    section.finish()
    return ExistingVpc(vpc_id, subnets["publicSubnetIds"], subnets["privateSubnetIds"])


def _network(section: _Section) -> NetworkSettings:
    zones = section.integer("availabilityZones", 2, 2, 3)
    egress = section.choice("egress", ("endpoints", "nat"), "endpoints")
    vpcs = {role: _vpc(section.section(role), zones) for role in ROLES}
    new = [v.cidr for v in vpcs.values() if isinstance(v, NewVpc)]
    if len(new) == 2 and ipaddress.IPv4Network(new[0]).overlaps(ipaddress.IPv4Network(new[1])):
        # Not needed today, but peering or a transit gateway later would need them apart.
        raise SettingsError(section.key("secondary.cidr"), f"must not overlap primary.cidr ({new[0]})", new[1])
    section.finish()
    return NetworkSettings(availability_zones=zones, egress=egress, vpcs=vpcs)  # type: ignore[arg-type]


def _task_counts(section: _Section) -> TaskCounts:
    minimum = section.integer("min", 2, 1, 1_000)
    desired = section.integer("desired", minimum, 1, 1_000)
    maximum = section.integer("max", max(desired, 4), 1, 1_000)
    if not minimum <= desired <= maximum:
        raise SettingsError(section.key("desired"), f"must be between min ({minimum}) and max ({maximum})", desired)
    section.finish()
    return TaskCounts(minimum, desired, maximum)


def _ingest(section: _Section, regions: Mapping[RegionRole, RegionSettings], egress: Egress) -> IngestServiceSettings:
    image = section.string("image", None, _IMAGE, "an image reference with a tag or digest, "
                           "such as {account}.dkr.ecr.{region}.amazonaws.com/prism-ingest:1.4.0")  # fmt: skip
    match = _IMAGE.match(image)
    assert match is not None
    if match["tag"] == "latest":
        raise SettingsError(section.key("image"), "must name a release tag or digest, not latest", image)
    ecr = _ECR_REGISTRY.match(match["registry"])
    if egress == "endpoints" and (ecr is None or ecr["region"] != "{region}"):
        # The tasks have no internet path: they reach only their own region's ECR endpoints.
        raise SettingsError(section.key("image"), "must be in each region's own ECR "
                            "(<account>.dkr.ecr.{region}.amazonaws.com/...) when network.egress is endpoints",
                            image)  # fmt: skip

    cpu = section.integer("cpu", 512, 256, 16_384)
    if cpu not in FARGATE_MEMORY:
        raise SettingsError(section.key("cpu"), f"must be a Fargate size ({', '.join(map(str, FARGATE_MEMORY))})", cpu)
    low, high, step = FARGATE_MEMORY[cpu]
    memory = section.integer("memoryMb", low, 512, 122_880)
    allowed = memory in (512, 1024, 2048) if step is None else low <= memory <= high and memory % step == 0
    if not low <= memory <= high or not allowed:
        rule = "512, 1024 or 2048" if step is None else f"{low}-{high} in steps of {step}"
        raise SettingsError(section.key("memoryMb"), f"must be {rule} for cpu {cpu}", memory)

    drain = section.integer("shutdownDrainSeconds", 25, 1, 3_600)
    ack_timeout = section.integer("ackTimeoutSeconds", 10, 1, 120)
    stop_timeout = task_stop_timeout_seconds(drain, ack_timeout)
    if stop_timeout > FARGATE_MAX_STOP_TIMEOUT:
        raise SettingsError(section.key("shutdownDrainSeconds"), "is too long: in-flight requests plus two "
                            f"drains need {stop_timeout} s, Fargate kills a task after {FARGATE_MAX_STOP_TIMEOUT} s",
                            drain)  # fmt: skip

    origins = section.strings("corsOrigins", ("*",))
    for origin in origins:
        if origin != "*" and not re.match(r"^https?://[^/\s]+$", origin):
            raise SettingsError(section.key("corsOrigins"), "must list origins such as https://player.example.com "
                                "or *", origin)  # fmt: skip

    allow_http = section.boolean("allowHttp", False)
    certificates: dict[RegionRole, str | None] = {}
    for role in ROLES:
        region_section = section.section(role)
        arn = region_section.optional_string(
            "certificateArn",
            _CERTIFICATE_ARN,
            "an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)",
        )
        if arn is not None:
            found = _CERTIFICATE_ARN.match(arn)
            assert found is not None
            if found["region"] != regions[role].name:
                raise SettingsError(region_section.key("certificateArn"), "must be a certificate in the ALB's "
                                    f"region ({regions[role].name})", arn)  # fmt: skip
        region_section.finish()
        certificates[role] = arn
    missing = [role for role, arn in certificates.items() if arn is None]
    if missing and not allow_http:
        raise SettingsError(section.key(f"{missing[0]}.certificateArn"), "is required unless ingest.allowHttp is true",
                            None)  # fmt: skip
    if len(missing) == 1:
        # Players use one URL for both regions, so both ALBs speak the same protocols.
        raise SettingsError(section.key(f"{missing[0]}.certificateArn"), "must be set in both regions or neither",
                            None)  # fmt: skip

    settings = IngestServiceSettings(
        image=image,
        cpu=cpu,
        memory_mb=memory,
        cpu_architecture=section.choice("cpuArchitecture", ("X86_64", "ARM64"), "X86_64"),  # type: ignore[arg-type]
        port=section.integer("port", 8080, 1_024, 65_535),
        tasks=_task_counts(section.section("tasks")),
        cpu_target_percent=section.integer("cpuTargetPercent", 60, 10, 90),
        requests_per_target=section.integer("requestsPerTarget", 6_000, 1),
        scale_in_cooldown_seconds=section.integer("scaleInCooldownSeconds", 300, 0, 3_600),
        scale_out_cooldown_seconds=section.integer("scaleOutCooldownSeconds", 60, 0, 3_600),
        shutdown_drain_seconds=drain,
        ack_timeout_seconds=ack_timeout,
        cors_origins=origins,
        max_body_bytes=section.integer("maxBodyBytes", 1_048_576, 1_024, 10_485_760),
        max_batch_events=section.integer("maxBatchEvents", 500, 1, 10_000),
        max_clock_skew_ms=section.integer("maxClockSkewMs", 300_000, 0),
        allow_http=allow_http,
        certificate_arns=certificates,
        tls_policy=section.choice("tlsPolicy", TLS_POLICIES, TLS_POLICIES[0]),
        # ALB idle timeout: 1-4000 s.
        idle_timeout_seconds=section.integer("idleTimeoutSeconds", 60, 1, 4_000),
        deletion_protection=section.boolean("deletionProtection", True),
        access_log_expiration_days=section.integer("accessLogExpirationDays", 90, 1),
        hostname=section.optional_string("hostname", _HOSTNAME, "a DNS name such as ingest.prism.example.com"),
        container_insights=section.choice(  # type: ignore[arg-type]
            "containerInsights", ("enabled", "enhanced", "disabled"), "enabled"
        ),
    )
    section.finish()
    return settings


def _waf(section: _Section) -> WafSettings:
    # WAF rate-based rules: a limit of 10 to 2,000,000,000 per window of 1, 2, 5 or 10 minutes.
    window = section.integer("rateWindowSeconds", 300, 60, 600)
    if window not in (60, 120, 300, 600):
        raise SettingsError(section.key("rateWindowSeconds"), "must be 60, 120, 300 or 600", window)
    settings = WafSettings(
        rate_limit=section.integer("rateLimit", 3_000, 10, 2_000_000_000),
        rate_window_seconds=window,
        max_body_bytes=section.integer("maxBodyBytes", WAF_ALB_BODY_INSPECTION_BYTES, 1, WAF_ALB_BODY_INSPECTION_BYTES),
        common_rule_set=section.choice("commonRuleSet", ("block", "count"), "block"),  # type: ignore[arg-type]
    )
    section.finish()
    return settings


def _edge(section: _Section) -> EdgeSettings:
    endpoints: dict[RegionRole, EndpointSettings] = {}
    for role in ROLES:
        endpoint = section.section(role)
        endpoints[role] = EndpointSettings(
            traffic_dial=endpoint.integer("trafficDial", 100, 0, 100),
            weight=endpoint.integer("weight", 128, 0, 255),
        )
        endpoint.finish()
    if all(e.traffic_dial == 0 or e.weight == 0 for e in endpoints.values()):
        # Global Accelerator fails open with nothing to send to: it would send everywhere.
        raise SettingsError(section.key("secondary.trafficDial"), "must leave one region taking traffic "
                            "(trafficDial and weight above 0)", endpoints["secondary"].traffic_dial)  # fmt: skip
    settings = EdgeSettings(
        client_affinity=section.choice("clientAffinity", ("NONE", "SOURCE_IP"), "NONE"),  # type: ignore[arg-type]
        endpoints=endpoints,
    )
    section.finish()
    return settings


def parse_settings(values: Mapping[str, Any]) -> Settings:
    """Validate the stack's ``prism-pipeline:*`` values (namespace already removed)."""
    root = _Section("", values)
    environment = root.string("environment", None, _ENVIRONMENT_NAME,
                              "2-12 lower-case letters or digits, starting with a letter")  # fmt: skip

    regions = root.section("regions")
    primary = _region(regions, "primary", "us-east-1", "primary")
    secondary = _region(regions, "secondary", "us-west-2", "secondary")
    if primary.name == secondary.name:
        raise SettingsError(regions.key("secondary"), "must differ from regions.primary", secondary.name)
    regions.finish()

    streams_section = root.section("streams")
    default_retention = streams_section.integer("retentionHours", 24, 24, 8760)
    streams = {kind: _stream(streams_section.section(kind), default_retention) for kind in STREAM_KINDS}
    streams_section.finish()

    delivery_section = root.section("delivery")
    delivery = DeliverySettings(
        buffer_size_mb=delivery_section.integer("bufferSizeMb", 5, 1, 128),
        buffer_interval_seconds=delivery_section.integer("bufferIntervalSeconds", 300, 0, 900),
        compression=delivery_section.choice(  # type: ignore[arg-type]
            "compression", ("UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY"), "GZIP"
        ),
    )
    delivery_section.finish()

    archive_section = root.section("archive")
    archive = ArchiveSettings(
        raw=_lifecycle(archive_section.section("raw")),
        session=_lifecycle(archive_section.section("session")),
        late=_lifecycle(archive_section.section("late")),
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

    sessionizer = _sessionizer(root.section("sessionizer"))
    session_store = _session_store(root.section("sessionStore"), streams["session"])
    network = _network(root.section("network"))
    ingest = _ingest(root.section("ingest"), {"primary": primary, "secondary": secondary}, network.egress)
    waf = _waf(root.section("waf"))
    edge = _edge(root.section("edge"))
    grafana_section = root.section("grafana")
    grafana = GrafanaSettings(region=grafana_section.string("region", primary.name))
    if grafana.region not in (primary.name, secondary.name):
        raise SettingsError(grafana_section.key("region"), "must be one of the stack's regions "
                            f"({primary.name}, {secondary.name})", grafana.region)  # fmt: skip
    grafana_section.finish()

    tags_section = root.section("tags")
    tags = Tags(owner=tags_section.string("owner"), cost_center=tags_section.string("costCenter"))
    tags_section.finish()

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
        log_retention_days=log_retention,
        kms_deletion_window_days=kms_window,
    )


def stack_file_values(path: Path) -> dict[str, Any]:
    """The ``prism-pipeline:*`` values of a ``Pulumi.<stack>.yaml`` file, namespace removed."""
    document = yaml.safe_load(path.read_text()) or {}
    config = document.get("config") or {}
    prefix = f"{PROJECT}:"
    return {key[len(prefix) :]: value for key, value in config.items() if key.startswith(prefix)}


def from_stack_file(path: Path) -> Settings:
    """Settings of a stack file, for local runs and tests outside the Pulumi engine."""
    return parse_settings(stack_file_values(path))


def from_pulumi_config() -> Settings:
    """Settings of the running stack. Raises pulumi.RunError, which Pulumi prints without a trace."""
    import pulumi
    from pulumi.runtime.config import CONFIG, get_config_env

    prefix = f"{PROJECT}:"
    # The engine hands every value over as text: objects and numbers as JSON, strings bare.
    values: dict[str, Any] = {}
    for full_key, text in {**get_config_env(), **CONFIG.get()}.items():
        if full_key.startswith(prefix):
            try:
                values[full_key[len(prefix) :]] = json.loads(text)
            except ValueError:
                values[full_key[len(prefix) :]] = text
    try:
        return parse_settings(values)
    except SettingsError as error:
        raise pulumi.RunError(str(error)) from None
