"""The sessionizer of a region: the PyFlink job on Managed Service for Apache Flink.

The application zip (``make sessionizer-zip``) is uploaded to the region's artifacts
bucket under a key holding its content hash, so changed code is a changed key and
the application updates (and restarts) with it; unchanged code changes nothing.
The job reads its settings from the ``sessionizer`` property group, the same keys
runtime/sessionizer/config.py reads locally.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.support.log_groups import log_destination
from components.support.policies import KINESIS_READ_ACTIONS, Statement, key_via_services, service_role
from components.support.refs import Ref
from components.support.region import Region
from runtime.names import STREAM_KINDS, StreamKind
from runtime.sessionizer.config import PROPERTY_GROUP, base_config, default_caught_up_lag_ms, properties
from runtime.sessionizer.package import RUN_OPTIONS
from runtime.stack import SessionizerSettings

RUNTIME = "FLINK-1_20"
RUN_OPTIONS_GROUP = "kinesis.analytics.flink.run.options"
# What AWS support sets for production traffic (the application must restart after).
PRODUCTION_TIMEOUTS = {"heartbeat.timeout": "300000", "akka.ask.timeout": "300 s"}

AppConfig = aws.kinesisanalyticsv2.ApplicationApplicationConfigurationArgs
FlinkConfig = aws.kinesisanalyticsv2.ApplicationApplicationConfigurationFlinkApplicationConfigurationArgs
PropertyGroup = aws.kinesisanalyticsv2.ApplicationApplicationConfigurationEnvironmentPropertiesPropertyGroupArgs


def artifact_key(zip_path: Path, region_code: str) -> str:
    """The S3 key of the application zip: its content hash makes a code change a real change.

    The region is in the key because the artifacts bucket may replicate both ways: under one
    key for both regions, the other region's replica would arrive later and become the current
    version, leaving the version this application pins noncurrent, and the lifecycle deletes
    noncurrent versions. Under a key of its own, the pinned version is the only one the key has.
    """
    digest = hashlib.sha256(zip_path.read_bytes()).hexdigest()
    return f"sessionizer/{region_code}/prism-sessionizer-{digest[:16]}.zip"


@dataclass(frozen=True)
class SessionizerArgs:
    environment: str
    region: Region
    settings: SessionizerSettings
    artifact: Path  # the built zip (resolve_artifact)
    artifacts_bucket: Ref
    streams: Mapping[StreamKind, Ref]
    key_arn: pulumi.Input[str]
    log_retention_days: int


def job_properties(args: SessionizerArgs) -> pulumi.Output[dict[str, str]]:
    """The ``sessionizer`` property group, written by the job's own config module."""
    s = args.settings

    def written(streams: list[str]) -> dict[str, str]:
        config = dataclasses.replace(
            base_config(args.environment, args.region.name, *streams),
            # A new application starts at the tip; restarts resume from the snapshot's positions.
            initial_position="LATEST",
            out_of_orderness_ms=s.out_of_orderness_ms,
            idle_advance_after_ms=s.idle_advance_after_ms,
            allowed_lateness_ms=s.allowed_lateness_ms,
            caught_up_lag_ms=default_caught_up_lag_ms(s.out_of_orderness_ms, s.allowed_lateness_ms),
            heartbeat_interval_ms=s.heartbeat_interval_ms,
            inactivity_gap_ms=s.inactivity_gap_ms,
            update_interval_ms=s.update_interval_ms,
            execution_mode=s.execution_mode,
            checkpoint_interval_ms=s.checkpoint_interval_ms,
        )
        return properties(config)

    # The names as Outputs: the application waits for its streams.
    return pulumi.Output.all(*(args.streams[kind].name for kind in STREAM_KINDS)).apply(written)


class Sessionizer(pulumi.ComponentResource):
    application: aws.kinesisanalyticsv2.Application
    role: aws.iam.Role
    code: aws.s3.BucketObjectv2

    def __init__(self, name: str, args: SessionizerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("prism:sessionizer:Sessionizer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        region, s = args.region, args.settings
        app_name = region.names.flink_application

        self.code = aws.s3.BucketObjectv2(
            f"{name}-code",
            aws.s3.BucketObjectv2Args(
                bucket=args.artifacts_bucket.name,
                key=artifact_key(args.artifact, region.settings.code),
                source=pulumi.FileAsset(str(args.artifact)),
                content_type="application/zip",
                server_side_encryption="aws:kms",
                kms_key_id=args.key_arn,
                bucket_key_enabled=True,
            ),
            child,
        )
        code_arn = pulumi.Output.concat(args.artifacts_bucket.arn, "/", self.code.key)

        logs = log_destination(name, region.names.flink_log_group, "application", args.log_retention_days, child)

        access = service_role(
            name,
            region.names.role("sessionizer"),
            f"Managed Flink {app_name}: read raw events, write sessions and late events",
            "kinesisanalytics.amazonaws.com",
            region.account_id,
            [
                Statement(sid="ReadRawEvents", actions=KINESIS_READ_ACTIONS, resources=[args.streams["raw"].arn]),
                Statement(
                    sid="WriteSessionsAndLateEvents",
                    actions=["kinesis:DescribeStreamSummary", "kinesis:ListShards", "kinesis:PutRecords"],
                    resources=[args.streams["session"].arn, args.streams["late"].arn],
                ),
                Statement(
                    sid="ReadApplicationCode",
                    actions=["s3:GetObject", "s3:GetObjectVersion"],
                    resources=[code_arn],
                ),
                key_via_services("UseRegionKeyForStreamsAndCode", args.key_arn, region.name, ("kinesis", "s3")),
                Statement(
                    sid="WriteApplicationLogs",
                    actions=["logs:DescribeLogStreams", "logs:PutLogEvents"],
                    resources=[pulumi.Output.concat(logs.group.arn, ":log-stream:*")],
                ),
                Statement(
                    sid="FindApplicationLogGroup",
                    actions=["logs:DescribeLogGroups"],
                    resources=[
                        pulumi.Output.concat(
                            "arn:", region.partition, ":logs:", region.name, ":", region.account_id, ":log-group:*"
                        )
                    ],
                ),
            ],
            child,
        )
        self.role = access.role
        policy = access.policy

        self.application = aws.kinesisanalyticsv2.Application(
            name,
            aws.kinesisanalyticsv2.ApplicationArgs(
                name=app_name,
                description=f"prism {args.environment} sessionizer ({region.name}): raw events -> sessions, late",
                runtime_environment=RUNTIME,
                service_execution_role=self.role.arn,
                start_application=True,
                application_configuration=AppConfig(
                    application_code_configuration=aws.kinesisanalyticsv2.ApplicationApplicationConfigurationApplicationCodeConfigurationArgs(
                        code_content_type="ZIPFILE",
                        code_content=aws.kinesisanalyticsv2.ApplicationApplicationConfigurationApplicationCodeConfigurationCodeContentArgs(
                            s3_content_location=aws.kinesisanalyticsv2.ApplicationApplicationConfigurationApplicationCodeConfigurationCodeContentS3ContentLocationArgs(
                                bucket_arn=args.artifacts_bucket.arn,
                                file_key=self.code.key,
                                object_version=self.code.version_id,
                            )
                        ),
                    ),
                    application_snapshot_configuration=aws.kinesisanalyticsv2.ApplicationApplicationConfigurationApplicationSnapshotConfigurationArgs(
                        snapshots_enabled=s.snapshots
                    ),
                    environment_properties=aws.kinesisanalyticsv2.ApplicationApplicationConfigurationEnvironmentPropertiesArgs(
                        property_groups=[
                            PropertyGroup(property_group_id=RUN_OPTIONS_GROUP, property_map=dict(RUN_OPTIONS)),
                            PropertyGroup(property_group_id=PROPERTY_GROUP, property_map=job_properties(args)),
                        ]
                    ),
                    flink_application_configuration=FlinkConfig(
                        checkpoint_configuration=aws.kinesisanalyticsv2.ApplicationApplicationConfigurationFlinkApplicationConfigurationCheckpointConfigurationArgs(
                            configuration_type="CUSTOM",
                            checkpointing_enabled=True,
                            checkpoint_interval=s.checkpoint_interval_ms,
                            min_pause_between_checkpoints=s.min_pause_between_checkpoints_ms,
                        ),
                        monitoring_configuration=aws.kinesisanalyticsv2.ApplicationApplicationConfigurationFlinkApplicationConfigurationMonitoringConfigurationArgs(
                            configuration_type="CUSTOM", log_level=s.log_level, metrics_level=s.metrics_level
                        ),
                        parallelism_configuration=aws.kinesisanalyticsv2.ApplicationApplicationConfigurationFlinkApplicationConfigurationParallelismConfigurationArgs(
                            configuration_type="CUSTOM",
                            parallelism=s.parallelism,
                            parallelism_per_kpu=s.parallelism_per_kpu,
                            auto_scaling_enabled=s.auto_scaling,
                        ),
                    ),
                    run_configuration=aws.kinesisanalyticsv2.ApplicationApplicationConfigurationRunConfigurationArgs(
                        # An update restarts from the latest snapshot: sessions in flight survive a deploy.
                        application_restore_configuration=aws.kinesisanalyticsv2.ApplicationApplicationConfigurationRunConfigurationApplicationRestoreConfigurationArgs(
                            application_restore_type="RESTORE_FROM_LATEST_SNAPSHOT"
                            if s.snapshots
                            else "SKIP_RESTORE_FROM_SNAPSHOT"
                        ),
                        # Off but for the one deploy that changes the state's layout (stateMigration):
                        # a snapshot whose state the job cannot read fails the update instead of
                        # dropping the open sessions (runtime/sessionizer/state_layout.py).
                        flink_run_configuration=aws.kinesisanalyticsv2.ApplicationApplicationConfigurationRunConfigurationFlinkRunConfigurationArgs(
                            allow_non_restored_state=s.allow_non_restored_state
                        ),
                    ),
                ),
                cloudwatch_logging_options=aws.kinesisanalyticsv2.ApplicationCloudwatchLoggingOptionsArgs(
                    log_stream_arn=logs.stream_arn
                ),
                tags={"production-timeouts": "requested" if s.production_timeouts else "default"},
            ),
            # The service checks its role's access to the code and the log stream on create.
            pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        self.register_outputs({"arn": self.application.arn, "name": self.application.name, "code_key": self.code.key})
