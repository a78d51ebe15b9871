"""The customer-managed KMS key of a region: buckets, streams and deliveries use it."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.support.policies import ALERT_PUBLISHERS, Statement, policy_document
from components.support.region import Region
from runtime.names import data_key_alias


@dataclass(frozen=True)
class RegionKeyArgs:
    environment: str
    region: Region
    deletion_window_days: int


class RegionKey(pulumi.ComponentResource):
    key: aws.kms.Key
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: RegionKeyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("prism:encryption:RegionKey", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        region = args.region

        # The account's IAM policies decide who uses the key (the AWS default key
        # policy): every role of the pipeline is granted this key by ARN.
        self.key = aws.kms.Key(
            f"{name}-key",
            aws.kms.KeyArgs(
                description=f"prism-pipeline {args.environment} data in {region.name}",
                enable_key_rotation=True,
                deletion_window_in_days=args.deletion_window_days,
                policy=policy_document(
                    Statement(
                        sid="AccountIamPoliciesDecide",
                        actions=["kms:*"],
                        principals={"AWS": [region.account_root]},
                        resources=["*"],  # in a key policy, "*" is this key
                    ),
                    # The alerts topic is encrypted with this key: alarms, budgets and cost
                    # anomaly alerts can only publish to it with a data key of their own.
                    Statement(
                        sid="AlertPublishersEncryptToTopic",
                        actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                        principals={"Service": list(ALERT_PUBLISHERS)},
                        resources=["*"],
                        conditions={"StringEquals": {"aws:SourceAccount": region.account_id}},
                    ),
                ),
            ),
            child,
        )
        self.alias = aws.kms.Alias(
            f"{name}-alias",
            aws.kms.AliasArgs(name=data_key_alias(args.environment), target_key_id=self.key.key_id),
            child,
        )
        self.arn = self.key.arn
        self.register_outputs({"arn": self.arn, "alias": self.alias.name})
