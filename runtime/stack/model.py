"""The stack settings' model: one frozen dataclass per section, already validated when built."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from runtime.ingest.transport import Transport
from runtime.names import BucketKind, StreamKind
from runtime.stack.capacity import CapacitySettings
from runtime.stack.limits import ECR_REGISTRY, IMAGE
from runtime.stack.session_store import SessionStoreSettings

PROJECT = "prism-pipeline"


BUCKET_KINDS: tuple[BucketKind, ...] = ("raw", "session", "late", "artifacts")


CapacityMode = Literal["on-demand", "provisioned"]
CAPACITY_MODES: tuple[CapacityMode, ...] = get_args(CapacityMode)


Compression = Literal["GZIP", "UNCOMPRESSED"]


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
    # Flink restores a snapshot only if every state in it finds its operator: off, a deploy that changed
    # the state's layout fails instead of dropping the open sessions (runtime/sessionizer/state_layout.py).
    allow_non_restored_state: bool = False
    state_migration: int | None = None  # the state version a deploy with allow_non_restored_state is for

    @property
    def kpus(self) -> int:
        """The KPUs its parallelism takes (the orchestration KPU Managed Flink adds is not counted)."""
        return math.ceil(self.parallelism / self.parallelism_per_kpu)


@dataclass(frozen=True)
class GrafanaSettings:
    region: str  # one workspace per stack, in one of the stack's regions


RegionRole = Literal["primary", "secondary"]


ROLES: tuple[RegionRole, ...] = ("primary", "secondary")


Egress = Literal["endpoints", "nat"]
EGRESS_KINDS: tuple[Egress, ...] = get_args(Egress)


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

    # An image elsewhere (may hold {account} and {region}, filled per region); None: the stack's
    # own repository in each region, at the tag runtime/ingest/image.py computes from the source.
    image: str | None
    keep_images: int  # the repository's lifecycle keeps this many images
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
    kinesis_transport: Transport  # how the tasks reach Kinesis: direct, or botocore (through a proxy)

    def image_for(self, region: str, account_id: str) -> str:
        """The image of an `image` setting, for a region."""
        if self.image is None:
            raise ValueError("the image is the stack's own repository's, tagged from the source")
        return self.image.replace("{region}", region).replace("{account}", account_id)

    @property
    def from_ecr(self) -> bool:
        """Pulled from ECR: the execution role then needs pull rights on that one repository."""
        if self.image is None:
            return True
        image = IMAGE.match(self.image)
        return image is not None and ECR_REGISTRY.match(image["registry"]) is not None

    def ecr_repository_arn(self, region: str, account_id: str, partition: str) -> str:
        """The repository of an `image` setting in ECR."""
        image = IMAGE.match(self.image_for(region, account_id))
        registry = ECR_REGISTRY.match(image["registry"]) if image is not None else None
        if image is None or registry is None:
            raise ValueError(f"not an ECR image: {self.image}")
        return f"arn:{partition}:ecr:{registry['region']}:{registry['account']}:repository/{image['repository']}"

    @property
    def https(self) -> bool:
        return any(self.certificate_arns.values())

    @property
    def workers(self) -> int:
        """Server processes a task runs: one per vCPU it has."""
        return max(1, self.cpu // 1024)


@dataclass(frozen=True)
class WafSettings:
    rate_limit: int  # requests per client IP per window
    rate_window_seconds: int
    # Bodies above this are blocked at the edge; None: the service enforces ingest.maxBodyBytes alone.
    max_body_bytes: int | None
    common_rule_set: Literal["block", "count"]


@dataclass(frozen=True)
class EndpointSettings:
    traffic_dial: int  # percent of the traffic the accelerator would send this region that it does send
    weight: int  # the region's ALB within its endpoint group


@dataclass(frozen=True)
class EdgeSettings:
    client_affinity: Literal["NONE", "SOURCE_IP"]
    endpoints: Mapping[RegionRole, EndpointSettings]


# Every alarm the program declares, by what it watches; a stack tunes each under
# alerting.alarms.<kind>, and docs/operations.md has one runbook entry per kind.
AlarmKind = Literal[
    "alb-target-5xx-rate", "alb-elb-5xx-rate", "alb-target-p99", "alb-unhealthy-hosts",
    "ingest-cpu", "ingest-memory", "ingest-unavailable", "ingest-events-rejected", "ingest-kinesis-retries",
    "stream-write-throttled", "stream-iterator-age",
    "delivery-freshness", "delivery-failures", "delivery-behind-stream",
    "sessionizer-downtime", "sessionizer-restarts", "sessionizer-failed-checkpoints", "sessionizer-behind-stream",
    "sessionizer-late-events",
    "writer-errors", "writer-throttles", "writer-iterator-age", "writer-failed-batches",
    "timestream-user-errors", "timestream-system-errors", "influxdb-disk",
    "replication-failures", "replication-latency",
    "reconciler-errors", "reconciler-failed-objects", "reconciler-undelivered",
    "alarm-relay-failures", "alarm-relay-undelivered",
    "replay-errors", "replay-failed-objects",
]  # fmt: skip
ALARM_KINDS: tuple[AlarmKind, ...] = get_args(AlarmKind)


@dataclass(frozen=True)
class AlarmTuning:
    """When an alarm fires: ``datapoints`` of the last ``evaluation_periods`` periods past the threshold."""

    threshold: float  # in the unit of the alarm's signal (docs/operations.md)
    period_seconds: int
    evaluation_periods: int
    datapoints: int


@dataclass(frozen=True)
class AlertingSettings:
    paging: bool  # False: the alarms exist, without actions (dev)
    emails: tuple[str, ...]
    https_endpoints: tuple[str, ...]  # e.g. a chat tool's SNS endpoint
    muted: tuple[AlarmKind, ...]  # alarms whose actions are off in this stack
    alarms: Mapping[AlarmKind, AlarmTuning]


@dataclass(frozen=True)
class BudgetSettings:
    monthly_limit_usd: float
    actual_alerts_percent: tuple[float, ...]
    forecast_alerts_percent: tuple[float, ...]
    anomaly_alert_usd: float  # a cost anomaly of at least this total impact is sent


@dataclass(frozen=True)
class ReplaySource:
    """The bucket whose new objects are replayed; it may belong to another stack."""

    bucket: str
    region: str  # one of this stack's regions: the replayer runs beside the bucket
    key_arn: str  # the bucket's KMS key
    prefix: str


@dataclass(frozen=True)
class ReplayTarget:
    environment: str
    region: str
    url: str | None  # None: the environment's raw stream in that region
    multiplier: int
    sample: float


@dataclass(frozen=True)
class ReplaySettings:
    """The live replayer (loadtest): new objects of a source bucket fired into target environments."""

    enabled: bool
    artifact: Path  # the Lambda zip (make replay-zip), relative to the project
    source: ReplaySource | None  # set when enabled
    targets: tuple[ReplayTarget, ...]
    salt: str
    allow_same_environment: bool
    memory_mb: int
    timeout_seconds: int
    reserved_concurrency: int
    maximum_retry_attempts: int
    maximum_event_age_seconds: int
    failed_object_retention_days: int


@dataclass(frozen=True)
class ReconcilerSettings:
    """Each region's reconciler of the sessions whose player moved between regions mid-play."""

    artifact: Path  # the Lambda zip (make reconciler-zip), relative to the project
    memory_mb: int
    timeout_seconds: int
    reserved_concurrency: int
    batch_size: int
    batching_window_seconds: int
    settle_delay_seconds: int  # the queue's delivery delay: the other region's objects replicate meanwhile
    search_margin_minutes: int  # archive hours searched before a session's first and after its last event
    parts_retention_days: int
    maximum_receives: int
    failed_message_retention_days: int


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
    alerting: AlertingSettings
    budget: BudgetSettings
    replay: ReplaySettings
    reconciler: ReconcilerSettings
    capacity: CapacitySettings
    log_retention_days: int
    kms_deletion_window_days: int

    @property
    def regions(self) -> tuple[RegionSettings, RegionSettings]:
        return (self.primary, self.secondary)

    def other(self, region: RegionSettings) -> RegionSettings:
        return self.secondary if region == self.primary else self.primary
