"""What each stage's health looks like in CloudWatch: the signals its alarms and the dashboard watch.

A signal is one alarm's metric (or metric math over a few metrics), with the missing-data
treatment its metric needs: a Flink application that publishes nothing is down
(breaching); a stream nobody writes to publishes nothing and is fine (not breaching).
Dimensions are the stage resources' real names, ARN suffixes and rule ids, taken from the
resources; the ingest service's and the sessionizer's metric names come from the code that emits them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import pulumi

from components.operations.watch import RegionWatch
from runtime.ingest import metrics as ingest_metrics
from runtime.sessionizer import metrics as flink_metrics
from runtime.stack import AlarmKind

Comparison = Literal[
    "GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold"
]
MissingData = Literal["breaching", "notBreaching", "ignore", "missing"]
Statistic = Literal["Sum", "Average", "Maximum", "Minimum", "SampleCount", "p99"]


@dataclass(frozen=True)
class Metric:
    namespace: str
    name: str
    dimensions: Mapping[str, pulumi.Input[str]]
    statistic: Statistic


@dataclass(frozen=True)
class Signal:
    """One alarm's worth of watching: ``metrics`` by id, combined by ``expression`` if there is one."""

    kind: AlarmKind
    subject: str | None  # which of the stage's resources, when it has several (raw, use1-to-usw2-raw)
    summary: str
    metrics: Mapping[str, Metric]
    expression: str | None = None
    comparison: Comparison = "GreaterThanOrEqualToThreshold"
    missing: MissingData = "notBreaching"

    @property
    def what(self) -> str:
        """The alarm's name within its region: the kind, then the subject."""
        return self.kind if self.subject is None else f"{self.kind}-{self.subject}"


ALB = "AWS/ApplicationELB"
ECS = "AWS/ECS"
KINESIS = "AWS/Kinesis"
FIREHOSE = "AWS/Firehose"
LAMBDA = "AWS/Lambda"
SQS = "AWS/SQS"
TIMESTREAM = "AWS/Timestream"
# Timestream for InfluxDB's: its service-linked role's policy lets it put metric data only here.
INFLUXDB = "AWS/Timestream/InfluxDB"
S3 = "AWS/S3"
STATES = "AWS/States"
EVENTS = "AWS/Events"


def _one(
    namespace: str, name: str, dimensions: Mapping[str, pulumi.Input[str]], statistic: Statistic
) -> dict[str, Metric]:
    return {"m1": Metric(namespace, name, dimensions, statistic)}


def _rate(kind: AlarmKind, errors: str, summary: str, load_balancer: pulumi.Input[str]) -> Signal:
    dimensions = {"LoadBalancer": load_balancer}
    return Signal(
        kind,
        None,
        summary,
        {"errors": Metric(ALB, errors, dimensions, "Sum"), "requests": Metric(ALB, "RequestCount", dimensions, "Sum")},
        expression="IF(requests > 0, 100 * errors / requests, 0)",
    )


def ingest_signals(watch: RegionWatch) -> list[Signal]:
    """Players -> ALB -> ingest tasks -> raw stream."""
    lb, service = {"LoadBalancer": watch.load_balancer}, {"ClusterName": watch.cluster, "ServiceName": watch.service}
    emf = {ingest_metrics.EMF_DIMENSION: watch.streams["raw"]}
    return [
        _rate(
            "alb-target-5xx-rate",
            "HTTPCode_Target_5XX_Count",
            "% of requests the ingest tasks answered 5xx",
            watch.load_balancer,
        ),
        _rate(
            "alb-elb-5xx-rate",
            "HTTPCode_ELB_5XX_Count",
            "% of requests the ALB itself answered 5xx (no healthy task, timeouts)",
            watch.load_balancer,
        ),
        Signal(
            "alb-target-p99",
            None,
            "p99 of the tasks' response time (s)",
            _one(ALB, "TargetResponseTime", lb, "p99"),
            comparison="GreaterThanThreshold",
        ),
        Signal(
            "alb-unhealthy-hosts",
            None,
            "ingest tasks failing the ALB's /ready check",
            _one(ALB, "UnHealthyHostCount", {"TargetGroup": watch.target_group, **lb}, "Maximum"),
        ),
        Signal(
            "ingest-cpu",
            None,
            "ingest service CPU (% of reserved)",
            _one(ECS, "CPUUtilization", service, "Average"),
            comparison="GreaterThanThreshold",
        ),
        Signal(
            "ingest-memory",
            None,
            "ingest service memory (% of reserved)",
            _one(ECS, "MemoryUtilization", service, "Average"),
            comparison="GreaterThanThreshold",
        ),
        Signal(
            "ingest-unavailable",
            None,
            "requests answered 503 because Kinesis did not take the events",
            _one(ingest_metrics.EMF_NAMESPACE, ingest_metrics.UNAVAILABLE, emf, "Sum"),
        ),
        Signal(
            "ingest-events-rejected",
            None,
            "events refused as invalid (4xx)",
            _one(ingest_metrics.EMF_NAMESPACE, ingest_metrics.EVENTS_REJECTED, emf, "Sum"),
        ),
        Signal(
            "ingest-kinesis-retries",
            None,
            "Kinesis records the service had to retry",
            _one(ingest_metrics.EMF_NAMESPACE, ingest_metrics.KINESIS_RETRIES, emf, "Sum"),
        ),
    ]


def stream_signals(watch: RegionWatch) -> list[Signal]:
    signals = []
    for kind, stream in watch.streams.items():
        dimensions = {"StreamName": stream}
        signals += [
            Signal(
                "stream-write-throttled",
                kind,
                f"writes to the {kind} stream refused for throughput",
                _one(KINESIS, "WriteProvisionedThroughputExceeded", dimensions, "Sum"),
            ),
            Signal(
                "stream-iterator-age",
                kind,
                f"age of the oldest record a consumer of the {kind} stream still has to read (ms)",
                _one(KINESIS, "GetRecords.IteratorAgeMilliseconds", dimensions, "Maximum"),
            ),
        ]
    return signals


def delivery_signals(watch: RegionWatch) -> list[Signal]:
    signals = []
    for kind, delivery in watch.deliveries.items():
        dimensions = {"DeliveryStreamName": delivery}
        signals += [
            Signal(
                "delivery-freshness",
                kind,
                f"age of the oldest {kind} record not yet in S3 (s)",
                _one(FIREHOSE, "DeliveryToS3.DataFreshness", dimensions, "Maximum"),
                comparison="GreaterThanThreshold",
            ),
            Signal(
                "delivery-failures",
                kind,
                f"share of {kind} deliveries to S3 that succeeded",
                _one(FIREHOSE, "DeliveryToS3.Success", dimensions, "Minimum"),
                comparison="LessThanThreshold",
            ),
        ]
        if kind != "failed":  # the failed-events Firehose takes direct puts: it reads no stream
            signals.append(
                Signal(
                    "delivery-behind-stream",
                    kind,
                    f"how far the {kind} Firehose reads behind its stream (ms)",
                    _one(FIREHOSE, "KinesisMillisBehindLatest", dimensions, "Maximum"),
                )
            )
    return signals


def sessionizer_signals(watch: RegionWatch) -> list[Signal]:
    app = {flink_metrics.APPLICATION_DIMENSION: watch.application}
    flink = flink_metrics.CLOUDWATCH_NAMESPACE
    signals = [
        # An application that publishes nothing is not running: missing data breaches.
        Signal(
            "sessionizer-downtime",
            None,
            "time the sessionizer has been down (ms)",
            _one(flink, "downtime", app, "Maximum"),
            missing="breaching",
        ),
        # fullRestarts and numberOfFailedCheckpoints count since the job started: watch the increase.
        Signal(
            "sessionizer-restarts",
            None,
            "full restarts of the sessionizer job",
            {"total": Metric(flink, "fullRestarts", app, "Maximum")},
            expression="DIFF(total)",
        ),
        Signal(
            "sessionizer-failed-checkpoints",
            None,
            "checkpoints that failed",
            {"total": Metric(flink, "numberOfFailedCheckpoints", app, "Maximum")},
            expression="DIFF(total)",
        ),
        Signal(
            "sessionizer-behind-stream",
            None,
            "how far the sessionizer reads behind the raw stream (ms)",
            _one(flink, "millisBehindLatest", {**app, "Flow": "Input", "Id": watch.streams["raw"]}, "Maximum"),
        ),
    ]
    # The {Application, LateReason} series exists at every sessionizer.metricsLevel: Managed Flink
    # reports metrics "at the current level and all higher levels" (its guide, "Set CloudWatch
    # metrics reporting levels": at OPERATOR it reports Application, Task and Operator metrics), so
    # a stack at OPERATOR gains per-task and per-operator series beside this one, not instead of it.
    for reason in flink_metrics.LATE_REASONS:
        dimensions = {**app, flink_metrics.LATE_REASON_DIMENSION: reason}
        signals.append(
            Signal(
                "sessionizer-late-events",
                reason,
                f"events sent to the late stream as {reason}",
                {"total": Metric(flink, flink_metrics.LATE_EVENTS_METRIC, dimensions, "Maximum")},
                expression="DIFF(total)",
            )
        )
    return signals


def session_store_signals(watch: RegionWatch) -> list[Signal]:
    function = {"FunctionName": watch.function}
    signals = [
        Signal(
            "writer-errors", None, "session writer invocations that failed", _one(LAMBDA, "Errors", function, "Sum")
        ),
        Signal(
            "writer-throttles", None, "session writer invocations throttled", _one(LAMBDA, "Throttles", function, "Sum")
        ),
        Signal(
            "writer-iterator-age",
            None,
            "age of the session records the writer reads (ms)",
            _one(LAMBDA, "IteratorAge", function, "Maximum"),
        ),
        Signal(
            "writer-failed-batches",
            None,
            "batches the writer gave up on, waiting in its on-failure queue",
            _one(SQS, "ApproximateNumberOfMessagesVisible", {"QueueName": watch.failed_batches_queue}, "Maximum"),
        ),
    ]
    if watch.influxdb_instance is not None:
        # A full disk refuses every write: watched before it fills (other refusals show as writer errors).
        disk = _one(INFLUXDB, "DiskUtilization", {"DbInstanceName": watch.influxdb_instance}, "Maximum")
        signals.append(Signal("influxdb-disk", None, "storage of the region's InfluxDB instance in use (%)", disk))
    if watch.database is None or watch.table is None:
        return signals
    table = {"Operation": "WriteRecords", "DatabaseName": watch.database, "TableName": watch.table}
    return [
        *signals,
        Signal(
            "timestream-user-errors",
            None,
            "session writes Timestream refused as invalid",
            _one(TIMESTREAM, "UserErrors", table, "Sum"),
        ),
        Signal(
            "timestream-system-errors",
            None,
            "session writes Timestream failed on its side",
            _one(TIMESTREAM, "SystemErrors", table, "Sum"),
        ),
    ]


def replication_signals(watch: RegionWatch) -> list[Signal]:
    signals = []
    for rule in watch.replication:
        dimensions = {
            "SourceBucket": rule.source_bucket,
            "DestinationBucket": rule.destination_bucket,
            "RuleId": rule.rule_id,
        }
        subject = f"{rule.kind}-to-{rule.destination_code}"
        signals += [
            Signal(
                "replication-failures",
                subject,
                f"{rule.kind} objects that failed to replicate",
                _one(S3, "OperationsFailedReplication", dimensions, "Sum"),
            ),
            Signal(
                "replication-latency",
                subject,
                f"how far {rule.kind} replicas lag behind (s)",
                _one(S3, "ReplicationLatency", dimensions, "Maximum"),
                comparison="GreaterThanThreshold",
            ),
        ]
    return signals


def reconciler_signals(watch: RegionWatch) -> list[Signal]:
    return [
        Signal("reconciler-errors", None, "reconciler invocations that failed (their objects are read again)",
               _one(LAMBDA, "Errors", {"FunctionName": watch.reconciler_function}, "Sum")),
        Signal("reconciler-failed-objects", None, "session objects the reconciler gave up on, in its failed queue",
               _one(SQS, "ApproximateNumberOfMessagesVisible", {"QueueName": watch.reconciler_failed_queue},
                    "Maximum")),
        Signal("reconciler-undelivered", None, "session-object notifications the rule could not put on the queue",
               _one(EVENTS, "FailedInvocations", {"RuleName": watch.reconciler_rule}, "Sum")),
    ]  # fmt: skip


def region_signals(watch: RegionWatch) -> list[Signal]:
    """Every stage's signals, in data-path order."""
    return [
        *ingest_signals(watch),
        *stream_signals(watch),
        *delivery_signals(watch),
        *sessionizer_signals(watch),
        *session_store_signals(watch),
        *replication_signals(watch),
        *reconciler_signals(watch),
    ]


def relay_failures(state_machine_arn: pulumi.Input[str]) -> Signal:
    return Signal(
        "alarm-relay-failures",
        None,
        "alarm-state relays that failed to record a region's health",
        _one(STATES, "ExecutionsFailed", {"StateMachineArn": state_machine_arn}, "Sum"),
    )


def relay_undelivered(rule_name: pulumi.Input[str]) -> Signal:
    return Signal(
        "alarm-relay-undelivered",
        None,
        "alarm-state changes the relay rule could not deliver",
        _one(EVENTS, "FailedInvocations", {"RuleName": rule_name}, "Sum"),
    )


def replay_signals(function: pulumi.Input[str], failed_objects_queue: pulumi.Input[str]) -> list[Signal]:
    """The live replayer, in its source bucket's region."""
    return [
        Signal("replay-errors", None, "replayer invocations that failed (Lambda retries them)",
               _one(LAMBDA, "Errors", {"FunctionName": function}, "Sum")),
        Signal("replay-failed-objects", None, "objects the replayer gave up on, waiting in its on-failure queue",
               _one(SQS, "ApproximateNumberOfMessagesVisible", {"QueueName": failed_objects_queue}, "Maximum")),
    ]  # fmt: skip
