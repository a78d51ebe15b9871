"""Physical names of the pipeline's resources, and where deliveries write in their buckets.

The one owner of every name that crosses a boundary: the Pulumi program (through
``Region.names`` in components/support/region.py), the local pipeline and the operator
commands all ask this module, so a local run of a stack has exactly the names `pulumi up` of
that stack gives. Plain Python (no Pulumi), so every runtime package can import it.

Names read ``prism-<environment>-<region code>-<what>``; each is checked against the
service's rule here, so a bad one fails the program at preview time rather than half
way through an update.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

StreamKind = Literal["raw", "session", "late"]
STREAM_KINDS: Final[tuple[StreamKind, ...]] = ("raw", "session", "late")
BucketKind = Literal["raw", "session", "late", "artifacts"]
# What a Firehose lands: a stream's records, or the events the ingest service refused.
DeliveryKind = Literal["raw", "session", "late", "failed"]
FAILED_EVENTS: Final[DeliveryKind] = "failed"

# Service name-length rules (characters).
MAX_KINESIS_STREAM: Final = 128
MAX_FIREHOSE_STREAM: Final = 64
MAX_IAM_ROLE: Final = 64
MAX_S3_BUCKET: Final = 63
MAX_FLINK_APPLICATION: Final = 128
MAX_TIMESTREAM: Final = 256
MAX_SQS_QUEUE: Final = 80
MAX_LAMBDA: Final = 64
MAX_GRAFANA_WORKSPACE: Final = 255
MAX_LOAD_BALANCER: Final = 32  # ALBs and target groups
MAX_ECS: Final = 255
MAX_ECR_REPOSITORY: Final = 256
MAX_SECURITY_GROUP: Final = 255
MAX_ACCELERATOR: Final = 64
MAX_ALARM: Final = 255
MAX_SNS_TOPIC: Final = 256
MAX_DASHBOARD: Final = 255
MAX_BUDGET: Final = 100
MAX_EVENT_RULE: Final = 64
MAX_STATE_MACHINE: Final = 80
MAX_INFLUX_INSTANCE: Final = 40
MAX_SECRET: Final = 512
MAX_DYNAMODB_TABLE: Final = 255
MAX_GLUE_NAME: Final = 255
MAX_ATHENA_WORKGROUP: Final = 128

SESSIONS_TABLE: Final = "sessions"
# Timestream for InfluxDB: the organization the sessions bucket belongs to.
INFLUX_ORGANIZATION: Final = "prism"

# A data bucket's name: prism-<environment>-<region code>-<kind>-<account id>.
ENVIRONMENT_OF_BUCKET: Final = re.compile(
    r"^prism-(?P<environment>[a-z][a-z0-9]{1,11})-[a-z0-9]+-(?P<kind>[a-z]+)-\d{12}$"
)
_S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_GENERIC = re.compile(r"^[A-Za-z0-9_.-]+$")
REGION_NAME: Final = re.compile(r"^(?P<area>[a-z]{2})(?:-gov)?-(?P<direction>[a-z]+)-(?P<number>[1-9])$")
_DIRECTION_CODES = {
    "east": "e", "west": "w", "north": "n", "south": "s", "central": "c",
    "northeast": "ne", "northwest": "nw", "southeast": "se", "southwest": "sw",
}  # fmt: skip
_HOUR_PARTITIONS = "year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/"


def region_code(region: str) -> str:
    """Short, readable region code used in physical names: us-east-1 -> use1."""
    match = REGION_NAME.match(region)
    if match is None or match["direction"] not in _DIRECTION_CODES:
        raise ValueError(f"not an AWS region name: {region!r}")
    gov = "g" if "-gov-" in region else ""
    return f"{match['area']}{gov}{_DIRECTION_CODES[match['direction']]}{match['number']}"


def checked(name: str, max_length: int) -> str:
    if len(name) > max_length or not _GENERIC.match(name):
        raise ValueError(f"name {name!r} breaks the service's rule (<= {max_length} of A-Z a-z 0-9 _ . -)")
    return name


def account_wide(environment: str, what: str, max_length: int = MAX_IAM_ROLE) -> str:
    """Name of a resource that spans regions (IAM, the accelerator), e.g. prism-dev-replication-use1-to-usw2."""
    return checked(f"prism-{environment}-{what}", max_length)


def data_key_alias(environment: str) -> str:
    """The alias of an environment's data key, the same name in each of its regions."""
    return f"alias/prism-{environment}-data"


def data_folder(kind: DeliveryKind) -> str:
    """The folder of a kind's objects in its bucket; the arrival hours' folders are under it."""
    return f"{kind}/"


def data_prefix(kind: DeliveryKind) -> str:
    """Where a delivery writes in its bucket: the kind, then the arrival hour."""
    return f"{data_folder(kind)}{_HOUR_PARTITIONS}"


# Firehose's timestamp namespace in strftime's terms; Firehose evaluates it in UTC.
_STRFTIME = {"yyyy": "%Y", "MM": "%m", "dd": "%d", "HH": "%H"}
_HOUR_FOLDER = re.sub(r"!\{timestamp:(\w+)\}", lambda m: _STRFTIME[m[1]], _HOUR_PARTITIONS).rstrip("/")

# The archive as Athena tables (components/reconciler.py): a kind's events, one JSON line per row,
# partitioned by the arrival hour's folder, which a query names (partition projection, injected).
ARCHIVE_LINE_COLUMN: Final = "line"
ARCHIVE_HOUR_COLUMN: Final = "hour_folder"


def hour_folder(epoch_ms: int) -> str:
    """The folder a delivery writes an object of this arrival time into, under its kind: year=2026/month=12/..."""
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime(_HOUR_FOLDER)


def archive_table(kind: DeliveryKind) -> str:
    return f"{kind}_events"


def literal_head(prefix: str) -> str:
    """The literal head of a Firehose prefix, before its first expression: what a reader
    lists, what IAM grants."""
    return prefix.split("!{", 1)[0]


def error_prefix(kind: DeliveryKind) -> str:
    # Firehose requires the error type in the error prefix once the prefix has expressions.
    return f"errors/{kind}/!{{firehose:error-output-type}}/{_HOUR_PARTITIONS}"


@dataclass(frozen=True)
class RegionNames:
    """Every physical name of one environment's resources in one region."""

    environment: str
    region: str  # us-east-1

    @property
    def code(self) -> str:
        return region_code(self.region)

    def regional(self, what: str, max_length: int = MAX_FIREHOSE_STREAM) -> str:
        """Name of a regional resource, e.g. prism-dev-use1-raw."""
        return checked(f"prism-{self.environment}-{self.code}-{what}", max_length)

    def role(self, what: str) -> str:
        return self.regional(what, MAX_IAM_ROLE)

    def stream(self, kind: StreamKind) -> str:
        return self.regional(kind, MAX_KINESIS_STREAM)

    def bucket(self, kind: BucketKind | str, account_id: str) -> str:
        """S3 bucket names are global: the account id keeps them unique across accounts."""
        name = f"prism-{self.environment}-{self.code}-{kind}-{account_id}"
        if len(name) > MAX_S3_BUCKET or not _S3_BUCKET.match(name):
            raise ValueError(f"bucket name {name!r} breaks S3's rule (3-63 of a-z 0-9 -)")
        return name

    def delivery(self, kind: DeliveryKind) -> str:
        """The Firehose of a stream (or of the failed events) to its bucket."""
        return self.regional(f"{kind}-to-s3", MAX_FIREHOSE_STREAM)

    @property
    def failed_events_delivery(self) -> str:
        return self.delivery(FAILED_EVENTS)

    @property
    def flink_application(self) -> str:
        return self.regional("sessionizer", MAX_FLINK_APPLICATION)

    @property
    def sessions_database(self) -> str:
        return self.regional("sessions", MAX_TIMESTREAM)

    @property
    def sessions_table(self) -> str:
        return SESSIONS_TABLE

    @property
    def influx_instance(self) -> str:
        """The Timestream for InfluxDB instance; its bucket (the v1 database) is sessions_database."""
        return self.regional("sessions", MAX_INFLUX_INSTANCE)

    def influx_secret(self, who: str) -> str:
        """The Secrets Manager secret of the InfluxDB credentials of admin, writer or reader."""
        return self.regional(f"influxdb-{who}", MAX_SECRET)

    @property
    def influx_provisioner_function(self) -> str:
        return self.regional("influxdb-provisioner", MAX_LAMBDA)

    @property
    def influx_provisioner_log_group(self) -> str:
        return f"/aws/lambda/{self.influx_provisioner_function}"

    @property
    def session_writer_function(self) -> str:
        return self.regional("session-writer", MAX_LAMBDA)

    @property
    def session_writer_failed_queue(self) -> str:
        return self.regional("session-writer-failed", MAX_SQS_QUEUE)

    @property
    def ingest_service(self) -> str:
        return self.regional("ingest", MAX_ECS)

    @property
    def ingest_repository(self) -> str:
        """The ECR repository of the ingest image (ECR names are per region already)."""
        return self.regional("ingest", MAX_ECR_REPOSITORY)

    @property
    def load_balancer(self) -> str:
        """The ALB, its target group and its web ACL share it."""
        return self.regional("ingest", MAX_LOAD_BALANCER)

    @property
    def replayer_function(self) -> str:
        return self.regional("replayer", MAX_LAMBDA)

    @property
    def replay_failed_queue(self) -> str:
        """Objects the live replayer gave up on, with their bucket and key."""
        return self.regional("replay-failed", MAX_SQS_QUEUE)

    @property
    def replay_rule(self) -> str:
        return self.regional("replay-objects", MAX_EVENT_RULE)

    @property
    def replayer_log_group(self) -> str:
        return f"/aws/lambda/{self.replayer_function}"

    # -- the reconciler of sessions split between regions (runtime/reconciler) --------

    @property
    def reconciler_function(self) -> str:
        return self.regional("reconciler", MAX_LAMBDA)

    @property
    def reconciler_log_group(self) -> str:
        return f"/aws/lambda/{self.reconciler_function}"

    @property
    def reconciler_queue(self) -> str:
        """The session bucket's new objects, each held back until the other region's have replicated."""
        return self.regional("reconciler-objects", MAX_SQS_QUEUE)

    @property
    def reconciler_failed_queue(self) -> str:
        return self.regional("reconciler-failed", MAX_SQS_QUEUE)

    @property
    def reconciler_rule(self) -> str:
        return self.regional("reconciler-objects", MAX_EVENT_RULE)

    @property
    def session_parts_table(self) -> str:
        """DynamoDB: each region's newest final (or moved) record of every session, for a while."""
        return self.regional("session-parts", MAX_DYNAMODB_TABLE)

    @property
    def archive_database(self) -> str:
        """The Glue database over the region's raw and late buckets (Athena: lower case, underscores)."""
        return checked(f"prism_{self.environment}_{self.code}_archive", MAX_GLUE_NAME)

    @property
    def reconciler_workgroup(self) -> str:
        return self.regional("reconciler", MAX_ATHENA_WORKGROUP)

    # -- operations: alerts, alarms, the alarm relay -----------------------------------

    @property
    def alerts_topic(self) -> str:
        """The region's SNS topic every alarm of the region notifies."""
        return self.regional("alerts", MAX_SNS_TOPIC)

    def alarm(self, what: str) -> str:
        """A metric or composite alarm of this region, e.g. prism-dev-use1-raw-iterator-age."""
        return self.regional(what, MAX_ALARM)

    @property
    def pipeline_unhealthy_alarm(self) -> str:
        return self.alarm("pipeline-unhealthy")

    @property
    def alarm_relay_rule(self) -> str:
        """The EventBridge rule that carries the region's composite alarm state to the stack's home region."""
        return self.regional("alarm-relay", MAX_EVENT_RULE)

    @property
    def alarm_relay_state_machine(self) -> str:
        return self.regional("alarm-relay", MAX_STATE_MACHINE)

    # -- log groups, named as each service expects or documents them ------------------

    def delivery_log_group(self, kind: DeliveryKind) -> str:
        return f"/aws/kinesisfirehose/{self.delivery(kind)}"

    @property
    def flink_log_group(self) -> str:
        return f"/aws/kinesis-analytics/{self.flink_application}"

    @property
    def session_writer_log_group(self) -> str:
        return f"/aws/lambda/{self.session_writer_function}"

    @property
    def ingest_log_group(self) -> str:
        return f"/ecs/{self.ingest_service}"

    @property
    def firewall_log_group(self) -> str:
        return f"aws-waf-logs-{self.load_balancer}"  # WAF delivers only to groups named aws-waf-logs-*


@dataclass(frozen=True)
class StackNames:
    """Names of what one environment has once, across both regions: its stack-wide alarm,
    its dashboards, its budget and its cost anomaly monitor."""

    environment: str

    @property
    def stack_unhealthy_alarm(self) -> str:
        return account_wide(self.environment, "stack-unhealthy", MAX_ALARM)

    @property
    def resource_dashboard(self) -> str:
        return account_wide(self.environment, "pipeline", MAX_DASHBOARD)

    @property
    def budget_dashboard(self) -> str:
        return account_wide(self.environment, "costs", MAX_DASHBOARD)

    @property
    def budget(self) -> str:
        return account_wide(self.environment, "monthly-cost", MAX_BUDGET)

    @property
    def cost_anomaly_monitor(self) -> str:
        return account_wide(self.environment, "cost-anomalies", MAX_BUDGET)
