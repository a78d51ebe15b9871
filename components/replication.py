"""Two-way replication between the two regions' buckets, in one program.

Both regions' buckets and their versioning are declared before either replication
configuration (``depends_on``), so primary->secondary and secondary->primary are two
plain resources: no cycle, no second program, no manual console step. S3 allows one
replication configuration per bucket, so each source bucket gets exactly one,
holding its one rule; each direction has one IAM role for all its bucket kinds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.archive import SecureBucket
from components.support.policies import Statement, service_role
from components.support.region import Region
from runtime.names import BucketKind, account_wide

# Replication Time Control promises 99.99 % of objects within 15 minutes; 15 is
# also the only value S3 accepts for its time and its metrics threshold.
_RTC_MINUTES = 15


@dataclass(frozen=True)
class ReplicationSide:
    region: Region
    key_arn: pulumi.Input[str]
    buckets: Mapping[BucketKind, SecureBucket]


@dataclass(frozen=True)
class ReplicationRule:
    """One bucket's rule, as S3 publishes its replication metrics (in the source region)."""

    source: Region
    destination: Region
    kind: BucketKind
    source_bucket: pulumi.Output[str]
    destination_bucket: pulumi.Output[str]
    rule_id: str


def rule_id(kind: BucketKind, destination: Region) -> str:
    return f"{kind}-to-{destination.code}"


@dataclass(frozen=True)
class ReplicationArgs:
    environment: str
    primary: ReplicationSide
    secondary: ReplicationSide
    kinds: Sequence[BucketKind]
    time_control: bool


def _destination(
    bucket_arn: pulumi.Input[str], key_arn: pulumi.Input[str], time_control: bool
) -> aws.s3.BucketReplicationConfigRuleDestinationArgs:
    return aws.s3.BucketReplicationConfigRuleDestinationArgs(
        bucket=bucket_arn,
        storage_class="STANDARD",
        # The replica is re-encrypted with the destination region's own key.
        encryption_configuration=aws.s3.BucketReplicationConfigRuleDestinationEncryptionConfigurationArgs(
            replica_kms_key_id=key_arn
        ),
        replication_time=(
            aws.s3.BucketReplicationConfigRuleDestinationReplicationTimeArgs(
                status="Enabled",
                time=aws.s3.BucketReplicationConfigRuleDestinationReplicationTimeTimeArgs(minutes=_RTC_MINUTES),
            )
            if time_control
            else None
        ),
        # Replication metrics (latency, operations failed) are on for every rule: the alarms watch them.
        metrics=aws.s3.BucketReplicationConfigRuleDestinationMetricsArgs(
            status="Enabled",
            event_threshold=(
                aws.s3.BucketReplicationConfigRuleDestinationMetricsEventThresholdArgs(minutes=_RTC_MINUTES)
                if time_control
                else None
            ),
        ),
    )


class Replication(pulumi.ComponentResource):
    roles: dict[str, aws.iam.Role]
    configurations: dict[str, aws.s3.BucketReplicationConfig]
    rules: list[ReplicationRule]

    def __init__(self, name: str, args: ReplicationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("prism:replication:Replication", name, None, opts)
        self.roles = {}
        self.configurations = {}
        self.rules = []
        for source, destination in ((args.primary, args.secondary), (args.secondary, args.primary)):
            self._direction(name, args, source, destination)
        self.register_outputs({"roles": {d: r.arn for d, r in self.roles.items()}})

    def _direction(
        self, name: str, args: ReplicationArgs, source: ReplicationSide, destination: ReplicationSide
    ) -> None:
        src, dst = source.region, destination.region
        direction = f"{src.code}-to-{dst.code}"
        # IAM is global; the source region's provider declares the role.
        in_source = pulumi.ResourceOptions(parent=self, provider=src.provider)

        source_arns = [source.buckets[kind].arn for kind in args.kinds]
        destination_arns = [destination.buckets[kind].arn for kind in args.kinds]
        access = service_role(
            f"{name}-{direction}",
            account_wide(args.environment, f"replication-{direction}"),
            f"S3 replication of prism-pipeline {args.environment} from {src.name} to {dst.name}",
            "s3.amazonaws.com",
            src.account_id,
            [
                Statement(
                    sid="ReadReplicationConfiguration",
                    actions=["s3:GetReplicationConfiguration", "s3:ListBucket"],
                    resources=source_arns,
                ),
                Statement(
                    sid="ReadSourceVersions",
                    actions=[
                        "s3:GetObjectVersionForReplication",
                        "s3:GetObjectVersionAcl",
                        "s3:GetObjectVersionTagging",
                    ],
                    resources=[pulumi.Output.concat(arn, "/*") for arn in source_arns],
                ),
                Statement(
                    sid="WriteReplicas",
                    actions=["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                    resources=[pulumi.Output.concat(arn, "/*") for arn in destination_arns],
                ),
                Statement(
                    sid="DecryptSourceObjects",
                    actions=["kms:Decrypt"],
                    resources=[source.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"s3.{src.name}.amazonaws.com"}},
                ),
                Statement(
                    sid="EncryptReplicas",
                    actions=["kms:Encrypt", "kms:GenerateDataKey"],
                    resources=[destination.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"s3.{dst.name}.amazonaws.com"}},
                ),
            ],
            in_source,
        )
        role = access.role
        policy = access.policy
        self.roles[direction] = role

        for kind in args.kinds:
            source_bucket, destination_bucket = source.buckets[kind], destination.buckets[kind]
            self.rules.append(
                ReplicationRule(src, dst, kind, source_bucket.name, destination_bucket.name, rule_id(kind, dst))
            )
            self.configurations[f"{kind}-{direction}"] = aws.s3.BucketReplicationConfig(
                f"{name}-{kind}-{direction}",
                aws.s3.BucketReplicationConfigArgs(
                    bucket=source_bucket.bucket.id,
                    role=role.arn,
                    rules=[
                        aws.s3.BucketReplicationConfigRuleArgs(
                            id=rule_id(kind, dst),
                            status="Enabled",
                            priority=1,
                            filter=aws.s3.BucketReplicationConfigRuleFilterArgs(prefix=""),
                            delete_marker_replication=aws.s3.BucketReplicationConfigRuleDeleteMarkerReplicationArgs(
                                status="Enabled"
                            ),
                            source_selection_criteria=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaArgs(
                                # Two-way: changes made to replicas flow back too.
                                replica_modifications=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaReplicaModificationsArgs(
                                    status="Enabled"
                                ),
                                sse_kms_encrypted_objects=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaSseKmsEncryptedObjectsArgs(
                                    status="Enabled"
                                ),
                            ),
                            destination=_destination(destination_bucket.arn, destination.key_arn, args.time_control),
                        )
                    ],
                ),
                pulumi.ResourceOptions(
                    parent=self,
                    provider=src.provider,
                    # S3 rejects a replication configuration unless both buckets are versioned.
                    depends_on=[source_bucket.versioning, destination_bucket.versioning, policy],
                ),
            )
