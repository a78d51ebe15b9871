"""Firehose to a bucket, newline-delimited and partitioned by arrival hour: from one Kinesis
stream, or by direct put (the ingest service's failed events, under the raw bucket's failed/).

A Kinesis-source Firehose de-aggregates KPL records by itself before delivery, so the
raw stream's aggregated records land as one event per line without a processor of
ours (Firehose's ``RecordDeAggregation`` processor is for JSON or delimited
multi-records and needs dynamic partitioning; it does not apply here).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.support.log_groups import log_destination
from components.support.policies import KINESIS_READ_ACTIONS, Statement, key_via_services, service_role
from components.support.refs import Ref
from components.support.region import Region
from runtime.names import DeliveryKind, data_prefix, error_prefix, literal_head
from runtime.stack import DeliverySettings

S3Config = aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationArgs


@dataclass(frozen=True)
class DeliveryArgs:
    environment: str
    region: Region
    kind: DeliveryKind
    stream_arn: pulumi.Input[str] | None  # None: direct put (PutRecordBatch)
    bucket_arn: pulumi.Input[str]
    key_arn: pulumi.Input[str]
    delivery: DeliverySettings
    log_retention_days: int
    # Stream records are bare JSON; the ingest service's failed-event documents end in a newline.
    append_newline: bool = True


class Delivery(pulumi.ComponentResource):
    firehose: aws.kinesis.FirehoseDeliveryStream
    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup

    def __init__(self, name: str, args: DeliveryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("prism:delivery:Delivery", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        region = args.region
        firehose_name = region.names.delivery(args.kind)
        prefix, errors = data_prefix(args.kind), error_prefix(args.kind)

        logs = log_destination(
            name, region.names.delivery_log_group(args.kind), "DestinationDelivery", args.log_retention_days, child
        )
        self.log_group = logs.group

        bucket_arn = pulumi.Output.from_input(args.bucket_arn)
        source = f"read the {args.kind} stream" if args.stream_arn is not None else "take direct puts"
        reads: list[Statement] = []
        if args.stream_arn is not None:
            reads.append(Statement(sid="ReadSourceStream", actions=KINESIS_READ_ACTIONS, resources=[args.stream_arn]))
        access = service_role(
            name,
            region.names.role(f"{args.kind}-delivery"),
            f"Firehose {firehose_name}: {source}, write its bucket",
            "firehose.amazonaws.com",
            region.account_id,
            [
                *reads,
                Statement(
                    sid="LocateBucket",
                    actions=["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                    resources=[bucket_arn],
                ),
                Statement(
                    sid="WriteUnderPrefixes",
                    actions=["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
                    resources=[
                        pulumi.Output.concat(bucket_arn, "/", literal_head(prefix), "*"),
                        pulumi.Output.concat(bucket_arn, "/", literal_head(errors), "*"),
                    ],
                ),
                key_via_services(
                    "UseRegionKeyForStreamAndObjects",
                    args.key_arn,
                    region.name,
                    ("kinesis", "s3") if args.stream_arn is not None else ("s3",),
                ),
                Statement(
                    sid="LogDeliveryErrors",
                    actions=["logs:PutLogEvents"],
                    resources=[logs.stream_arn],
                ),
            ],
            child,
        )
        self.role = access.role
        policy = access.policy

        self.firehose = aws.kinesis.FirehoseDeliveryStream(
            name,
            aws.kinesis.FirehoseDeliveryStreamArgs(
                name=firehose_name,
                destination="extended_s3",
                kinesis_source_configuration=(
                    aws.kinesis.FirehoseDeliveryStreamKinesisSourceConfigurationArgs(
                        kinesis_stream_arn=args.stream_arn, role_arn=self.role.arn
                    )
                    if args.stream_arn is not None
                    else None
                ),
                # A stream source is encrypted by the stream; direct puts are encrypted by Firehose.
                server_side_encryption=(
                    aws.kinesis.FirehoseDeliveryStreamServerSideEncryptionArgs(
                        enabled=True, key_type="CUSTOMER_MANAGED_CMK", key_arn=args.key_arn
                    )
                    if args.stream_arn is None
                    else None
                ),
                extended_s3_configuration=S3Config(
                    bucket_arn=bucket_arn,
                    role_arn=self.role.arn,
                    prefix=prefix,
                    error_output_prefix=errors,
                    buffering_size=args.delivery.buffer_size_mb,
                    buffering_interval=args.delivery.buffer_interval_seconds,
                    compression_format=args.delivery.compression,
                    kms_key_arn=args.key_arn,
                    cloudwatch_logging_options=aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationCloudwatchLoggingOptionsArgs(
                        enabled=True, log_group_name=logs.group.name, log_stream_name=logs.stream.name
                    ),
                    processing_configuration=(
                        aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationProcessingConfigurationArgs(
                            enabled=True,
                            processors=[
                                # One JSON document per line, so Athena and jq read the objects as they are.
                                aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationProcessingConfigurationProcessorArgs(
                                    type="AppendDelimiterToRecord"
                                )
                            ],
                        )
                        if args.append_newline
                        else None
                    ),
                ),
            ),
            # Firehose checks its role's access when the stream is created.
            pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        self.register_outputs({"arn": self.firehose.arn, "name": self.firehose.name})

    @property
    def ref(self) -> Ref:
        return Ref(self.firehose.name, self.firehose.arn)
