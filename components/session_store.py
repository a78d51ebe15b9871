"""The session store of a region: the sessions store, and the Lambda that fills it from the session stream.

session stream -> event source mapping (batches, bisection, partial failures)
  -> session writer Lambda (runtime/session_writer) -> the store of sessionStore.engine:
     liveanalytics: a Timestream for LiveAnalytics sessions table;
     influxdb: a Timestream for InfluxDB instance (components/influxdb.py), the writer in its VPC
  -> batches that keep failing -> on-failure SQS queue (alarm writer-failed-batches)

The Lambda zip is built by `make session-writer-zip`; its content hash is the
function's source code hash, so only a code change updates the function.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.influxdb import InfluxDatabase, InfluxDatabaseArgs, StoreNetwork
from components.support.lambdas import FunctionSizing, packaged_function
from components.support.log_groups import log_destination
from components.support.policies import (
    KINESIS_READ_ACTIONS,
    Statement,
    key_via_services,
    lambda_network_interfaces,
    service_role,
)
from components.support.region import Region
from runtime.session_writer import settings as writer_settings
from runtime.session_writer.package import PACKAGE
from runtime.stack import InfluxDbSettings, LiveAnalyticsSettings, SessionStoreSettings

REJECTED_DATA_PREFIX = "timestream-rejected/"
# Timestream's endpoint discovery has no resource-level permission: AWS documents "*".
DESCRIBE_ENDPOINTS = Statement(sid="DiscoverTimestreamEndpoints", actions=["timestream:DescribeEndpoints"],
                               resources=["*"])  # fmt: skip

Magnetic = aws.timestreamwrite.TableMagneticStoreWritePropertiesArgs
RejectedLocation = aws.timestreamwrite.TableMagneticStoreWritePropertiesMagneticStoreRejectedDataLocationArgs
RejectedS3 = aws.timestreamwrite.TableMagneticStoreWritePropertiesMagneticStoreRejectedDataLocationS3ConfigurationArgs


@dataclass(frozen=True)
class Timestream:
    database: aws.timestreamwrite.Database
    table: aws.timestreamwrite.Table


@dataclass(frozen=True)
class SessionStoreArgs:
    environment: str
    region: Region
    settings: SessionStoreSettings
    artifact: Path  # the built Lambda zip
    session_stream_arn: pulumi.Input[str]
    key_arn: pulumi.Input[str]
    artifacts_bucket: pulumi.Input[str]  # name; Timestream reports rejected magnetic writes there
    log_retention_days: int
    network: StoreNetwork | None  # needed by engine influxdb


class SessionStore(pulumi.ComponentResource):
    timestream: Timestream | None  # engine liveanalytics
    influxdb: InfluxDatabase | None  # engine influxdb
    function: aws.lambda_.Function
    failed_batches: aws.sqs.Queue

    def __init__(self, name: str, args: SessionStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("prism:session_store:SessionStore", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        region, s = args.region, args.settings

        self.timestream, self.influxdb = None, None
        if isinstance(s.store, InfluxDbSettings):
            if args.network is None:
                raise ValueError(f"{name}: engine influxdb needs the region's network")
            self.influxdb = InfluxDatabase(
                f"{name}-influxdb",
                InfluxDatabaseArgs(
                    args.environment,
                    region,
                    s.store,
                    args.network,
                    args.key_arn,
                    args.artifact,
                    args.log_retention_days,
                ),
                child,
            )
        else:
            self.timestream = self._timestream(name, args, s.store)

        self.failed_batches = aws.sqs.Queue(
            f"{name}-failed-batches",
            aws.sqs.QueueArgs(
                name=region.names.session_writer_failed_queue,
                kms_master_key_id=args.key_arn,
                kms_data_key_reuse_period_seconds=300,
                message_retention_seconds=s.failed_batch_retention_days * 86_400,
            ),
            child,
        )

        function_name = region.names.session_writer_function
        logs = log_destination(
            name, region.names.session_writer_log_group, "session-writer", args.log_retention_days, child
        )
        env = writer_settings
        store_statements: list[Statement]
        variables: dict[str, pulumi.Input[str]]
        vpc = None
        if self.influxdb is not None:
            influx, writer_net = self.influxdb, args.network
            assert writer_net is not None  # checked with the instance above
            writer_token = influx.token_secrets["writer"]
            store_statements = [
                Statement(
                    sid="ReadWriterToken", actions=["secretsmanager:GetSecretValue"], resources=[writer_token.arn]
                ),
                key_via_services("UseRegionKeyForToken", args.key_arn, region.name, ("secretsmanager",)),
                *lambda_network_interfaces(region, writer_net.private_subnet_ids, influx.client_group.id),
            ]
            variables = {
                env.ENGINE_VARIABLE: "influxdb",
                env.ENDPOINT_VARIABLE: influx.url,
                env.DATABASE_VARIABLE: influx.bucket,
                env.CREDENTIALS_VARIABLE: writer_token.arn,
            }
            vpc = aws.lambda_.FunctionVpcConfigArgs(
                subnet_ids=list(writer_net.private_subnet_ids), security_group_ids=[influx.client_group.id]
            )
            target = "InfluxDB"
        else:
            assert self.timestream is not None
            table = self.timestream.table
            store_statements = [
                Statement(sid="WriteSessionsTable", actions=["timestream:WriteRecords"], resources=[table.arn]),
                DESCRIBE_ENDPOINTS,
            ]
            variables = {
                env.ENGINE_VARIABLE: "liveanalytics",
                env.DATABASE_VARIABLE: table.database_name,
                env.TABLE_VARIABLE: table.table_name,
            }
            target = "Timestream"
        access = service_role(
            name,
            region.names.role("session-writer"),
            f"Lambda {function_name}: session stream -> {target} sessions",
            "lambda.amazonaws.com",
            region.account_id,
            [
                Statement(sid="ReadSessionStream", actions=KINESIS_READ_ACTIONS, resources=[args.session_stream_arn]),
                *store_statements,
                Statement(sid="SendFailedBatches", actions=["sqs:SendMessage"], resources=[self.failed_batches.arn]),
                key_via_services("UseRegionKeyForStreamAndQueue", args.key_arn, region.name, ("kinesis", "sqs")),
                Statement(
                    sid="WriteLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[pulumi.Output.concat(logs.group.arn, ":log-stream:*")],
                ),
            ],
            child,
        )
        role = access.role
        policy = access.policy

        self.function = packaged_function(
            name,
            function_name,
            f"prism {args.environment} session writer ({region.name}): session records -> {target}",
            PACKAGE,
            args.artifact,
            role,
            FunctionSizing(s.memory_mb, s.timeout_seconds, s.reserved_concurrency),
            {
                **variables,
                "POWERTOOLS_SERVICE_NAME": "session-writer",
                "POWERTOOLS_METRICS_NAMESPACE": "prism",
                "SESSION_WRITER_ENVIRONMENT": args.environment,
            },
            logs.group,
            pulumi.ResourceOptions(parent=self, depends_on=[policy]),
            vpc=vpc,
        )

        self.event_source = aws.lambda_.EventSourceMapping(
            f"{name}-from-session-stream",
            aws.lambda_.EventSourceMappingArgs(
                event_source_arn=args.session_stream_arn,
                function_name=self.function.arn,
                starting_position=s.starting_position,
                batch_size=s.batch_size,
                maximum_batching_window_in_seconds=s.batching_window_seconds,
                parallelization_factor=s.parallelization_factor,
                bisect_batch_on_function_error=True,
                maximum_retry_attempts=s.maximum_retry_attempts,
                maximum_record_age_in_seconds=s.maximum_record_age_seconds,
                function_response_types=["ReportBatchItemFailures"],
                destination_config=aws.lambda_.EventSourceMappingDestinationConfigArgs(
                    on_failure=aws.lambda_.EventSourceMappingDestinationConfigOnFailureArgs(
                        destination_arn=self.failed_batches.arn
                    )
                ),
            ),
            pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        self.register_outputs({"function": self.function.name, "failed_batches_queue": self.failed_batches.name})

    def _timestream(self, name: str, args: SessionStoreArgs, store: LiveAnalyticsSettings) -> Timestream:
        child = pulumi.ResourceOptions(parent=self)
        region = args.region
        database = aws.timestreamwrite.Database(
            f"{name}-database",
            aws.timestreamwrite.DatabaseArgs(
                database_name=region.names.sessions_database,
                kms_key_id=args.key_arn,
            ),
            child,
        )
        table = aws.timestreamwrite.Table(
            f"{name}-table",
            aws.timestreamwrite.TableArgs(
                database_name=database.database_name,
                table_name=region.names.sessions_table,
                retention_properties=aws.timestreamwrite.TableRetentionPropertiesArgs(
                    memory_store_retention_period_in_hours=store.memory_retention_hours,
                    magnetic_store_retention_period_in_days=store.magnetic_retention_days,
                ),
                # Late session records older than the memory store still land, in the magnetic store.
                magnetic_store_write_properties=Magnetic(
                    enable_magnetic_store_writes=True,
                    magnetic_store_rejected_data_location=RejectedLocation(
                        s3_configuration=RejectedS3(
                            bucket_name=args.artifacts_bucket,
                            object_key_prefix=REJECTED_DATA_PREFIX,
                            encryption_option="SSE_KMS",
                            kms_key_id=args.key_arn,
                        )
                    ),
                ),
            ),
            child,
        )
        return Timestream(database, table)
