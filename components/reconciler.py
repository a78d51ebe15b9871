"""The reconciler of a region: sessions whose player moved between regions mid-play, made whole again.

session bucket (the region's objects and the other region's replicas) -> S3 notifications
to EventBridge -> rule on the objects under session/ -> queue, each message held back
``settleDelaySeconds`` so the other region's objects of the same moment have replicated
-> reconciler Lambda (runtime/reconciler) in batches:
  ended records -> the parts table (DynamoDB: each region's newest final record per session);
  sessions ended in two regions -> their raw and late events from the archive (Athena over
  the raw and late buckets, two Glue tables partitioned by arrival hour) -> the region's
  share of the whole session into its own session stream, which the session writer stores.
Objects that keep failing go to the failed queue (an alarm watches it).

The role may read the session objects, search the raw and late buckets through its Athena
workgroup (results under the artifacts bucket's athena/ prefix), use its table, its queue
and the session stream, and the region's key through those services; nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.support.lambdas import FunctionSizing, packaged_function
from components.support.log_groups import log_destination
from components.support.policies import Statement, key_via_services, service_role
from components.support.refs import Ref
from components.support.region import Region
from runtime.names import (
    ARCHIVE_HOUR_COLUMN,
    ARCHIVE_LINE_COLUMN,
    BucketKind,
    StreamKind,
    archive_table,
    data_folder,
    data_prefix,
    literal_head,
)
from runtime.reconciler import metrics as metric_names
from runtime.reconciler.package import PACKAGE
from runtime.reconciler.parts_table import EXPIRES_AT, SESSION_KEY
from runtime.reconciler.settings import ReconcilerSettings as ReconcilerEnvironment
from runtime.reconciler.settings import environment
from runtime.stack import ReconcilerSettings, SessionizerSettings

ATHENA_RESULTS_PREFIX = "athena/reconciler/"
SEARCHED_KINDS: tuple[StreamKind, ...] = ("raw", "late")
# Lambda's advice for an SQS event source: the queue hides a message six times the function's timeout.
VISIBILITY_PER_TIMEOUT = 6
# Hive's text format, one column: a line is one field, since JSON escapes every control character
# (LazySimpleSerDe splits fields at \x01 by default).
TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
LINE_SERDE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"


@dataclass(frozen=True)
class ReconcilerArgs:
    environment: str
    region: Region
    settings: ReconcilerSettings
    sessionizer: SessionizerSettings  # what the region's job runs with: the whole session is made the same way
    artifact: Path  # the built Lambda zip (make reconciler-zip)
    buckets: Mapping[BucketKind, Ref]
    session_stream: Ref
    key_arn: pulumi.Input[str]
    log_retention_days: int


def s3_url(bucket: pulumi.Input[str], prefix: str) -> pulumi.Output[str]:
    return pulumi.Output.concat("s3://", bucket, "/", prefix)


class Reconciler(pulumi.ComponentResource):
    function: aws.lambda_.Function
    parts: aws.dynamodb.Table
    objects: aws.sqs.Queue
    failed_objects: aws.sqs.Queue
    workgroup: aws.athena.Workgroup

    def __init__(self, name: str, args: ReconcilerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("prism:reconciler:Reconciler", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        region, s, names = args.region, args.settings, args.region.names
        session_bucket = args.buckets["session"]

        # Each region's newest ended record of a session, until no part of it can still arrive.
        self.parts = aws.dynamodb.Table(
            f"{name}-parts",
            aws.dynamodb.TableArgs(
                name=names.session_parts_table,
                billing_mode="PAY_PER_REQUEST",
                hash_key=SESSION_KEY,
                attributes=[aws.dynamodb.TableAttributeArgs(name=SESSION_KEY, type="S")],
                ttl=aws.dynamodb.TableTtlArgs(attribute_name=EXPIRES_AT, enabled=True),
                server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(
                    enabled=True, kms_key_arn=args.key_arn
                ),
            ),
            child,
        )

        # The archive as tables: one JSON line per row; a query names the hour folders it reads.
        database = aws.glue.CatalogDatabase(
            f"{name}-archive-database",
            aws.glue.CatalogDatabaseArgs(
                name=names.archive_database,
                description=f"prism {args.environment} {region.name}: the raw and late buckets, for the reconciler",
            ),
            child,
        )
        self.tables = {kind: self._archive_table(name, kind, database, args.buckets[kind]) for kind in SEARCHED_KINDS}
        self.workgroup = aws.athena.Workgroup(
            f"{name}-workgroup",
            aws.athena.WorkgroupArgs(
                name=names.reconciler_workgroup,
                description=f"prism {args.environment} {region.name}: the reconciler's archive searches",
                force_destroy=True,
                configuration=aws.athena.WorkgroupConfigurationArgs(
                    enforce_workgroup_configuration=True,
                    publish_cloudwatch_metrics_enabled=True,
                    result_configuration=aws.athena.WorkgroupConfigurationResultConfigurationArgs(
                        output_location=s3_url(args.buckets["artifacts"].name, ATHENA_RESULTS_PREFIX),
                        encryption_configuration=aws.athena.WorkgroupConfigurationResultConfigurationEncryptionConfigurationArgs(
                            encryption_option="SSE_KMS", kms_key_arn=args.key_arn
                        ),
                    ),
                ),
            ),
            child,
        )

        # New session objects, held back until the other region's have replicated; failures kept apart.
        self.failed_objects = aws.sqs.Queue(
            f"{name}-failed-objects",
            aws.sqs.QueueArgs(
                name=names.reconciler_failed_queue,
                sqs_managed_sse_enabled=True,
                message_retention_seconds=s.failed_message_retention_days * 86_400,
            ),
            child,
        )
        # EventBridge sends to a queue encrypted with SSE-SQS without a grant on a key of ours.
        self.objects = aws.sqs.Queue(
            f"{name}-objects",
            aws.sqs.QueueArgs(
                name=names.reconciler_queue,
                sqs_managed_sse_enabled=True,
                delay_seconds=s.settle_delay_seconds,
                visibility_timeout_seconds=VISIBILITY_PER_TIMEOUT * s.timeout_seconds,
                redrive_policy=pulumi.Output.json_dumps(
                    {"deadLetterTargetArn": self.failed_objects.arn, "maxReceiveCount": s.maximum_receives}
                ),
            ),
            child,
        )
        aws.s3.BucketNotification(
            f"{name}-session-notifications",
            aws.s3.BucketNotificationArgs(bucket=session_bucket.name, eventbridge=True),
            child,
        )
        self.rule = aws.cloudwatch.EventRule(
            f"{name}-rule",
            aws.cloudwatch.EventRuleArgs(
                name=names.reconciler_rule,
                description="Objects created in the session bucket (the region's and replicas), to the reconciler",
                event_pattern=pulumi.Output.json_dumps(
                    {
                        "source": ["aws.s3"],
                        "detail-type": ["Object Created"],
                        "detail": {
                            "bucket": {"name": [session_bucket.name]},
                            "object": {"key": [{"prefix": literal_head(data_prefix("session"))}]},
                        },
                    }
                ),
            ),
            child,
        )
        aws.sqs.QueuePolicy(
            f"{name}-objects-policy",
            aws.sqs.QueuePolicyArgs(
                queue_url=self.objects.url,
                policy=pulumi.Output.json_dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "SessionObjectsFromTheRule",
                                "Effect": "Allow",
                                "Principal": {"Service": "events.amazonaws.com"},
                                "Action": "sqs:SendMessage",
                                "Resource": self.objects.arn,
                                "Condition": {"ArnEquals": {"aws:SourceArn": self.rule.arn}},
                            }
                        ],
                    }
                ),
            ),
            child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-target", aws.cloudwatch.EventTargetArgs(rule=self.rule.name, arn=self.objects.arn), child
        )

        logs = log_destination(name, names.reconciler_log_group, "reconciler", args.log_retention_days, child)
        access = service_role(
            name,
            names.role("reconciler"),
            f"Lambda {names.reconciler_function}: session objects -> moved sessions whole -> session stream",
            "lambda.amazonaws.com",
            region.account_id,
            self._statements(args, logs.group),
            child,
        )
        sessionizer = args.sessionizer
        variables = environment(
            ReconcilerEnvironment(
                environment=args.environment,
                region=region.name,
                session_stream=str(names.stream("session")),
                parts_table=names.session_parts_table,
                workgroup=names.reconciler_workgroup,
                archive_database=names.archive_database,
                search_margin_minutes=s.search_margin_minutes,
                parts_retention_days=s.parts_retention_days,
                allowed_lateness_ms=sessionizer.allowed_lateness_ms,
                inactivity_gap_ms=sessionizer.inactivity_gap_ms,
                update_interval_ms=sessionizer.update_interval_ms,
            )
        )
        self.function = packaged_function(
            name,
            names.reconciler_function,
            f"prism {args.environment} reconciler ({region.name}): sessions split between regions -> whole",
            PACKAGE,
            args.artifact,
            access.role,
            FunctionSizing(s.memory_mb, s.timeout_seconds, s.reserved_concurrency),
            {
                **variables,
                "POWERTOOLS_SERVICE_NAME": metric_names.SERVICE,
                "POWERTOOLS_METRICS_NAMESPACE": metric_names.NAMESPACE,
            },
            logs.group,
            # The table, tables and workgroup it names exist before its first invocation.
            pulumi.ResourceOptions(
                parent=self, depends_on=[access.policy, self.parts, self.workgroup, *self.tables.values()]
            ),
        )
        self.event_source = aws.lambda_.EventSourceMapping(
            f"{name}-from-objects",
            aws.lambda_.EventSourceMappingArgs(
                event_source_arn=self.objects.arn,
                function_name=self.function.arn,
                batch_size=s.batch_size,
                maximum_batching_window_in_seconds=s.batching_window_seconds,
                function_response_types=["ReportBatchItemFailures"],
                # At most the reserved concurrency: more pollers would only be throttled.
                scaling_config=aws.lambda_.EventSourceMappingScalingConfigArgs(
                    maximum_concurrency=max(2, s.reserved_concurrency)
                ),
            ),
            pulumi.ResourceOptions(parent=self, depends_on=[access.policy]),
        )
        self.register_outputs(
            {
                "function": self.function.name,
                "parts_table": self.parts.name,
                "objects_queue": self.objects.name,
                "failed_objects_queue": self.failed_objects.name,
                "workgroup": self.workgroup.name,
            }
        )

    def _archive_table(self, name: str, kind: StreamKind, database: aws.glue.CatalogDatabase,
                       bucket: Ref) -> aws.glue.CatalogTable:  # fmt: skip
        folder = data_folder(kind)  # and under it, the arrival hours' folders
        return aws.glue.CatalogTable(
            f"{name}-{kind}-table",
            aws.glue.CatalogTableArgs(
                database_name=database.name,
                name=archive_table(kind),
                description=f"The {kind} bucket's events, one JSON line per row, by arrival hour",
                table_type="EXTERNAL_TABLE",
                # Partition projection, injected: a query names its hour folders, and Athena reads those only.
                parameters={
                    "EXTERNAL": "TRUE",
                    "projection.enabled": "true",
                    f"projection.{ARCHIVE_HOUR_COLUMN}.type": "injected",
                    "storage.location.template": pulumi.Output.concat(
                        s3_url(bucket.name, folder), "${", ARCHIVE_HOUR_COLUMN, "}/"
                    ),
                },
                partition_keys=[aws.glue.CatalogTablePartitionKeyArgs(name=ARCHIVE_HOUR_COLUMN, type="string")],
                storage_descriptor=aws.glue.CatalogTableStorageDescriptorArgs(
                    location=s3_url(bucket.name, folder),
                    input_format=TEXT_INPUT,
                    output_format=TEXT_OUTPUT,
                    ser_de_info=aws.glue.CatalogTableStorageDescriptorSerDeInfoArgs(
                        serialization_library=LINE_SERDE, parameters={"field.delim": "\x01"}
                    ),
                    columns=[aws.glue.CatalogTableStorageDescriptorColumnArgs(name=ARCHIVE_LINE_COLUMN, type="string")],
                ),
            ),
            pulumi.ResourceOptions(parent=self),
        )

    def _statements(self, args: ReconcilerArgs, log_group: aws.cloudwatch.LogGroup) -> list[Statement]:
        region, buckets = args.region, args.buckets
        glue_arn = pulumi.Output.concat("arn:", region.partition, ":glue:", region.name, ":", region.account_id)
        searched = [buckets[kind] for kind in SEARCHED_KINDS]
        return [
            Statement(
                sid="ReadSessionObjects",
                actions=["s3:GetObject"],
                resources=[
                    pulumi.Output.concat(buckets["session"].arn, "/", literal_head(data_prefix("session")), "*")
                ],
            ),
            Statement(
                sid="KeepSessionParts", actions=["dynamodb:UpdateItem", "dynamodb:GetItem"], resources=[self.parts.arn]
            ),
            Statement(
                sid="SearchTheArchive",
                actions=["athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults"],
                resources=[self.workgroup.arn],
            ),
            Statement(
                sid="ReadArchiveTables",
                actions=["glue:GetDatabase", "glue:GetTable"],
                resources=[
                    pulumi.Output.concat(glue_arn, ":catalog"),
                    pulumi.Output.concat(glue_arn, ":database/", region.names.archive_database),
                    *(
                        pulumi.Output.concat(glue_arn, ":table/", region.names.archive_database, "/", archive_table(k))
                        for k in SEARCHED_KINDS
                    ),
                ],
            ),
            # Athena reads the archive and writes its results with the caller's permissions.
            Statement(
                sid="ListArchiveAndResults",
                actions=["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
                resources=[*(bucket.arn for bucket in searched), buckets["artifacts"].arn],
            ),
            Statement(
                sid="ReadArchiveObjects",
                actions=["s3:GetObject"],
                resources=[
                    pulumi.Output.concat(buckets[kind].arn, "/", literal_head(data_prefix(kind)), "*")
                    for kind in SEARCHED_KINDS
                ],
            ),
            Statement(
                sid="WriteAndReadSearchResults",
                actions=["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
                resources=[pulumi.Output.concat(buckets["artifacts"].arn, "/", ATHENA_RESULTS_PREFIX, "*")],
            ),
            Statement(
                sid="WriteSessionStream",
                actions=["kinesis:PutRecords", "kinesis:PutRecord", "kinesis:ListShards"],
                resources=[args.session_stream.arn],
            ),
            Statement(
                sid="ReadObjectsQueue",
                actions=[
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueAttributes",
                ],
                resources=[self.objects.arn],
            ),
            key_via_services("UseRegionKey", args.key_arn, region.name, ("s3", "kinesis", "dynamodb")),
            Statement(
                sid="WriteLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[pulumi.Output.concat(log_group.arn, ":log-stream:*")],
            ),
        ]
