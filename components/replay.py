"""The live replayer (loadtest): every object created in a source bucket, fired into target environments.

source bucket (maybe another stack's) -> S3 notifications to EventBridge -> rule on the
object-created events under the prefix -> replayer Lambda (runtime/replay) -> each
target's raw stream (or ingest URL). An invocation that keeps failing goes, with its
event (bucket and key), to the on-failure queue: nothing is skipped silently.

The role may read the source prefix and decrypt with the source key, put to each target
stream and use each target's data key through Kinesis, write its logs and its failure
queue; nothing else. Target streams are in this account, named by runtime/names.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.support.lambdas import FunctionSizing, packaged_function
from components.support.log_groups import log_destination
from components.support.policies import Statement, key_via_services, service_role
from components.support.region import Region
from runtime.names import RegionNames, data_key_alias
from runtime.replay.package import PACKAGE
from runtime.replay.settings import ReplaySettings as ReplayerEnvironment
from runtime.replay.settings import TargetSpec, environment
from runtime.stack import ReplaySettings

# What the replay's sink calls on a target stream (runtime/ingest/sink.py).
TARGET_STREAM_ACTIONS = ("kinesis:PutRecords", "kinesis:PutRecord", "kinesis:ListShards")


@dataclass(frozen=True)
class ReplayArgs:
    environment: str
    region: Region  # the source bucket's region
    settings: ReplaySettings
    artifact: Path  # the built Lambda zip (make replay-zip)
    key_arn: pulumi.Input[str]  # this stack's key in the region: the failure queue
    log_retention_days: int


def target_specs(settings: ReplaySettings) -> tuple[TargetSpec, ...]:
    return tuple(
        TargetSpec(
            environment=t.environment,
            region=t.region,
            stream=None if t.url else RegionNames(t.environment, t.region).stream("raw"),
            url=t.url,
            multiplier=t.multiplier,
            sample=t.sample,
        )
        for t in settings.targets
    )


class Replay(pulumi.ComponentResource):
    function: aws.lambda_.Function
    failed_objects: aws.sqs.Queue
    rule: aws.cloudwatch.EventRule

    def __init__(self, name: str, args: ReplayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("prism:replay:Replay", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        region, s = args.region, args.settings
        source = s.source
        if source is None:
            raise ValueError("the replayer needs a source (runtime/stack/replay.py checks it)")
        names = region.names
        specs = target_specs(s)

        self.failed_objects = aws.sqs.Queue(
            f"{name}-failed-objects",
            aws.sqs.QueueArgs(
                name=names.replay_failed_queue,
                kms_master_key_id=args.key_arn,
                kms_data_key_reuse_period_seconds=300,
                message_retention_seconds=s.failed_object_retention_days * 86_400,
            ),
            child,
        )
        logs = log_destination(name, names.replayer_log_group, "replayer", args.log_retention_days, child)

        def target_stream_arn(spec: TargetSpec) -> pulumi.Output[str]:
            return pulumi.Output.concat("arn:", region.partition, ":kinesis:", spec.region, ":", region.account_id,
                                        ":stream/", str(spec.stream))  # fmt: skip

        streams = [spec for spec in specs if spec.stream is not None]
        statements = [
            Statement(
                sid="ReadSourcePrefix",
                actions=["s3:GetObject"],
                resources=[
                    pulumi.Output.concat("arn:", region.partition, ":s3:::", source.bucket, "/", source.prefix, "*")
                ],
            ),
            Statement(
                sid="DecryptSourceObjects",
                actions=["kms:Decrypt"],
                resources=[source.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{source.region}.amazonaws.com"}},
            ),
            Statement(sid="SendFailedObjects", actions=["sqs:SendMessage"], resources=[self.failed_objects.arn]),
            key_via_services("UseRegionKeyForQueue", args.key_arn, region.name, ("sqs",)),
            Statement(
                sid="WriteLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[pulumi.Output.concat(logs.group.arn, ":log-stream:*")],
            ),
        ]
        if streams:
            statements.append(
                Statement(
                    sid="PutToTargetStreams",
                    actions=TARGET_STREAM_ACTIONS,
                    resources=[target_stream_arn(spec) for spec in streams],
                )
            )
            # A target stream is encrypted with its environment's data key, known here by its alias only.
            statements += [
                Statement(
                    sid=f"UseDataKeyOf{spec.environment.capitalize()}{spec.region.replace('-', '').capitalize()}",
                    actions=["kms:GenerateDataKey"],
                    resources=[
                        pulumi.Output.concat(
                            "arn:", region.partition, ":kms:", spec.region, ":", region.account_id, ":key/*"
                        )
                    ],
                    conditions={
                        "ForAnyValue:StringEquals": {"kms:ResourceAliases": data_key_alias(spec.environment)},
                        "StringEquals": {"kms:ViaService": f"kinesis.{spec.region}.amazonaws.com"},
                    },
                )
                for spec in streams
            ]
        access = service_role(
            name,
            names.role("replayer"),
            f"Lambda {names.replayer_function}: {source.bucket}/{source.prefix} -> "
            + ", ".join(spec.name for spec in specs),
            "lambda.amazonaws.com",
            region.account_id,
            statements,
            child,
        )

        variables = environment(ReplayerEnvironment(targets=specs, salt=s.salt, region=region.name, chunk_events=5_000))
        self.function = packaged_function(
            name,
            names.replayer_function,
            f"prism {args.environment} replayer: new objects of {source.bucket} -> target environments",
            PACKAGE,
            args.artifact,
            access.role,
            FunctionSizing(s.memory_mb, s.timeout_seconds, s.reserved_concurrency),
            variables,
            logs.group,
            pulumi.ResourceOptions(parent=self, depends_on=[access.policy]),
        )
        # EventBridge invokes asynchronously: Lambda retries, then sends the event to the queue.
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-on-failure",
            aws.lambda_.FunctionEventInvokeConfigArgs(
                function_name=self.function.name,
                maximum_retry_attempts=s.maximum_retry_attempts,
                maximum_event_age_in_seconds=s.maximum_event_age_seconds,
                destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
                    on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(
                        destination=self.failed_objects.arn
                    )
                ),
            ),
            pulumi.ResourceOptions(parent=self, depends_on=[access.policy]),
        )

        # The source bucket tells EventBridge about its objects (one notification configuration per bucket).
        aws.s3.BucketNotification(
            f"{name}-source-notifications", aws.s3.BucketNotificationArgs(bucket=source.bucket, eventbridge=True), child
        )
        self.rule = aws.cloudwatch.EventRule(
            f"{name}-rule",
            aws.cloudwatch.EventRuleArgs(
                name=names.replay_rule,
                description=f"Objects created in {source.bucket}/{source.prefix}, to the replayer",
                event_pattern=pulumi.Output.json_dumps(
                    {
                        "source": ["aws.s3"],
                        "detail-type": ["Object Created"],
                        "detail": {"bucket": {"name": [source.bucket]}, "object": {"key": [{"prefix": source.prefix}]}},
                    }
                ),
            ),
            child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-target", aws.cloudwatch.EventTargetArgs(rule=self.rule.name, arn=self.function.arn), child
        )
        aws.lambda_.Permission(
            f"{name}-invoked-by-rule",
            aws.lambda_.PermissionArgs(
                function=self.function.name,
                action="lambda:InvokeFunction",
                principal="events.amazonaws.com",
                source_arn=self.rule.arn,
            ),
            child,
        )
        self.register_outputs(
            {"function": self.function.name, "failed_objects": self.failed_objects.name, "rule": self.rule.name}
        )
