"""A CloudWatch log group with the one stream a service writes to (Firehose errors, Flink logs)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class LogDestination:
    group: aws.cloudwatch.LogGroup
    stream: aws.cloudwatch.LogStream

    @property
    def stream_arn(self) -> pulumi.Output[str]:
        return pulumi.Output.concat(self.group.arn, ":log-stream:", self.stream.name)


def log_destination(
    name: str, group_name: str, stream_name: str, retention_days: int, opts: pulumi.ResourceOptions
) -> LogDestination:
    group = aws.cloudwatch.LogGroup(
        f"{name}-logs", aws.cloudwatch.LogGroupArgs(name=group_name, retention_in_days=retention_days), opts
    )
    stream = aws.cloudwatch.LogStream(
        f"{name}-log-stream", aws.cloudwatch.LogStreamArgs(log_group_name=group.name, name=stream_name), opts
    )
    return LogDestination(group, stream)
