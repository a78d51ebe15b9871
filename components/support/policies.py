"""IAM policy documents built from the ARNs of the resources they grant.

A small helper rather than ``aws.iam.get_policy_document``: the document is plain
JSON assembled from outputs, so it needs no provider call and tests read exactly
what AWS will get. There is no wildcard action helper on purpose.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_aws as aws

from components.support.region import Region


@dataclass(frozen=True)
class Statement:
    sid: str
    actions: Sequence[str]
    resources: Sequence[pulumi.Input[str]] = ()
    effect: Literal["Allow", "Deny"] = "Allow"
    principals: Mapping[str, Sequence[pulumi.Input[str]] | str] | None = None
    # {"StringEquals": {"aws:SourceAccount": account_id}}
    conditions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        body: dict[str, Any] = {"Sid": self.sid, "Effect": self.effect, "Action": list(self.actions)}
        if self.principals is not None:
            body["Principal"] = dict(self.principals)
        if self.resources:
            body["Resource"] = list(self.resources)
        if self.conditions:
            body["Condition"] = {test: dict(values) for test, values in self.conditions.items()}
        return body


# What a polling Kinesis consumer calls (Firehose, FlinkKinesisConsumer): no enhanced fan-out.
KINESIS_READ_ACTIONS = (
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:GetShardIterator",
    "kinesis:GetRecords",
    "kinesis:ListShards",
)


# Services that publish to a region's encrypted alerts topic: they need the topic's key too.
ALERT_PUBLISHERS = ("cloudwatch.amazonaws.com", "budgets.amazonaws.com", "costalerts.amazonaws.com")


def key_via_services(sid: str, key_arn: pulumi.Input[str], region: str, services: Sequence[str]) -> Statement:
    """Decrypt and data keys of the region's key, only through these services (kinesis, s3, ...)."""
    return Statement(
        sid=sid,
        actions=["kms:Decrypt", "kms:GenerateDataKey"],
        resources=[key_arn],
        conditions={"StringEquals": {"kms:ViaService": [f"{service}.{region}.amazonaws.com" for service in services]}},
    )


def policy_document(*statements: Statement) -> pulumi.Output[str]:
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": [s.document() for s in statements]})


def service_assume_role_policy(service: str, account_id: pulumi.Input[str]) -> pulumi.Output[str]:
    """Trust policy for an AWS service, limited to calls on behalf of this account
    (the confused-deputy guard AWS recommends)."""
    return policy_document(
        Statement(
            sid="AssumedByService",
            actions=["sts:AssumeRole"],
            principals={"Service": [service]},
            conditions={"StringEquals": {"aws:SourceAccount": account_id}},
        )
    )


@dataclass(frozen=True)
class ServiceRole:
    """A role an AWS service assumes, with its one inline policy."""

    role: aws.iam.Role
    policy: aws.iam.RolePolicy


def service_role(
    name: str,
    role_name: str,
    description: str,
    service: str,
    account_id: pulumi.Input[str],
    statements: Sequence[Statement],
    opts: pulumi.ResourceOptions,
) -> ServiceRole:
    """``<name>-role`` and ``<name>-policy``: the role, trusted by ``service`` for this account only."""
    role = aws.iam.Role(
        f"{name}-role",
        aws.iam.RoleArgs(
            name=role_name, description=description, assume_role_policy=service_assume_role_policy(service, account_id)
        ),
        opts,
    )
    policy = aws.iam.RolePolicy(
        f"{name}-policy", aws.iam.RolePolicyArgs(role=role.id, policy=policy_document(*statements)), opts
    )
    return ServiceRole(role, policy)


def lambda_network_interfaces(
    region: Region, subnet_ids: Sequence[pulumi.Input[str]], group: pulumi.Input[str]
) -> list[Statement]:
    """What a Lambda function in a VPC needs to attach there: its network interfaces, in these
    subnets and this security group only (AWSLambdaVPCAccessExecutionRole, narrowed)."""

    def arn(kind: str, name: pulumi.Input[str]) -> pulumi.Output[str]:
        return pulumi.Output.concat("arn:", region.partition, ":ec2:", region.name, ":", region.account_id,
                                    ":", kind, "/", name)  # fmt: skip

    interfaces = arn("network-interface", "*")
    return [
        Statement(
            sid="AttachToTheVpc",
            actions=["ec2:CreateNetworkInterface"],
            resources=[interfaces, arn("security-group", group), *(arn("subnet", s) for s in subnet_ids)],
        ),
        Statement(
            sid="ManageOwnInterfaces",
            actions=["ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"],
            resources=[interfaces],
        ),
        # Lambda describes its interfaces and the subnets it places them in (both are in
        # AWSLambdaVPCAccessExecutionRole); neither action has a resource-level permission: "*".
        Statement(
            sid="DescribeNetwork", actions=["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"], resources=["*"]
        ),
    ]
