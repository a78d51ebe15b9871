"""The buckets of a region: raw, session and late data, and the artifacts of code.

Every bucket is versioned (replication needs it), encrypted with the region's
customer-managed key, owned by the bucket owner (no ACLs), closed to the public,
reachable over TLS only, and tidied by a lifecycle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.support.policies import Statement, policy_document
from components.support.refs import Ref
from components.support.region import Region
from runtime.names import STREAM_KINDS, BucketKind
from runtime.stack import ArchiveSettings, LifecycleSettings

Rule = aws.s3.BucketLifecycleConfigurationRuleArgs


@dataclass(frozen=True)
class SecureBucketArgs:
    bucket_name: pulumi.Input[str]
    # None: S3-managed keys, for the writers that accept nothing else (ALB access logs).
    key_arn: pulumi.Input[str] | None
    lifecycle_rules: Sequence[Rule]
    # Who else may write here (log delivery), next to the TLS-only statement.
    extra_statements: Sequence[Statement] = ()


class SecureBucket(pulumi.ComponentResource):
    bucket: aws.s3.Bucket
    versioning: aws.s3.BucketVersioning
    arn: pulumi.Output[str]
    name: pulumi.Output[str]

    def __init__(self, name: str, args: SecureBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("prism:archive:SecureBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.bucket = aws.s3.Bucket(name, aws.s3.BucketArgs(bucket=args.bucket_name), child)
        self.arn = self.bucket.arn
        self.name = self.bucket.bucket

        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            aws.s3.BucketOwnershipControlsArgs(
                bucket=self.bucket.id,
                rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            ),
            child,
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            aws.s3.BucketPublicAccessBlockArgs(
                bucket=self.bucket.id,
                block_public_acls=True,
                block_public_policy=True,
                ignore_public_acls=True,
                restrict_public_buckets=True,
            ),
            child,
        )
        self.versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            aws.s3.BucketVersioningInitArgs(
                bucket=self.bucket.id,
                versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            ),
            child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            aws.s3.BucketServerSideEncryptionConfigurationInitArgs(
                bucket=self.bucket.id,
                rules=[
                    aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                        apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                            sse_algorithm="aws:kms" if args.key_arn is not None else "AES256",
                            kms_master_key_id=args.key_arn,
                        ),
                        # One data key per bucket instead of one KMS call per object.
                        bucket_key_enabled=True if args.key_arn is not None else None,
                    )
                ],
            ),
            child,
        )
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            aws.s3.BucketPolicyArgs(
                bucket=self.bucket.id,
                policy=policy_document(
                    Statement(
                        sid="DenyInsecureTransport",
                        effect="Deny",
                        principals={"AWS": "*"},
                        actions=["s3:*"],
                        resources=[self.bucket.arn, pulumi.Output.concat(self.bucket.arn, "/*")],
                        conditions={"Bool": {"aws:SecureTransport": "false"}},
                    ),
                    *args.extra_statements,
                ),
            ),
            # S3 refuses a policy while the public access block is still being applied.
            pulumi.ResourceOptions(parent=self, depends_on=[public_access]),
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            aws.s3.BucketLifecycleConfigurationArgs(bucket=self.bucket.id, rules=list(args.lifecycle_rules)),
            # Noncurrent-version rules mean something only once versioning is on.
            pulumi.ResourceOptions(parent=self, depends_on=[self.versioning]),
        )
        self.register_outputs({"arn": self.arn, "name": self.name})


def _all_objects() -> aws.s3.BucketLifecycleConfigurationRuleFilterArgs:
    return aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix="")


def data_lifecycle_rules(lifecycle: LifecycleSettings, abort_upload_days: int) -> list[Rule]:
    transitions = [
        aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(days=days, storage_class=storage_class)
        for days, storage_class in (
            (lifecycle.infrequent_access_days, "STANDARD_IA"),
            (lifecycle.glacier_days, "GLACIER"),
        )
        if days is not None
    ]
    rules = [
        Rule(
            id="tiering-and-expiry",
            status="Enabled",
            filter=_all_objects(),
            transitions=transitions or None,
            expiration=(
                aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=lifecycle.expiration_days)
                if lifecycle.expiration_days is not None
                else None
            ),
            noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                noncurrent_days=lifecycle.noncurrent_expiration_days
            ),
            abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                days_after_initiation=abort_upload_days
            ),
        )
    ]
    if lifecycle.expiration_days is not None:
        # Expiry leaves delete markers behind in a versioned bucket; S3 may only
        # remove them in a rule of their own.
        rules.append(
            Rule(
                id="remove-expired-delete-markers",
                status="Enabled",
                filter=_all_objects(),
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(expired_object_delete_marker=True),
            )
        )
    return rules


def artifacts_lifecycle_rules(noncurrent_days: int, abort_upload_days: int) -> list[Rule]:
    """Code artifacts never expire while current; old versions go after a while."""
    return [
        Rule(
            id="old-versions",
            status="Enabled",
            filter=_all_objects(),
            noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                noncurrent_days=noncurrent_days
            ),
            abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                days_after_initiation=abort_upload_days
            ),
        )
    ]


@dataclass(frozen=True)
class ArchiveArgs:
    environment: str
    region: Region
    key_arn: pulumi.Input[str]
    archive: ArchiveSettings


class Archive(pulumi.ComponentResource):
    buckets: Mapping[BucketKind, SecureBucket]

    def __init__(self, name: str, args: ArchiveArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("prism:archive:Archive", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = args.archive

        rules: dict[BucketKind, list[Rule]] = {
            kind: data_lifecycle_rules(settings.lifecycle(kind), settings.abort_incomplete_upload_days)
            for kind in STREAM_KINDS
        }
        rules["artifacts"] = artifacts_lifecycle_rules(
            settings.artifacts_noncurrent_expiration_days, settings.abort_incomplete_upload_days
        )
        self.buckets = {
            kind: SecureBucket(
                f"{name}-{kind}",
                SecureBucketArgs(
                    bucket_name=args.region.bucket(kind),
                    key_arn=args.key_arn,
                    lifecycle_rules=kind_rules,
                ),
                child,
            )
            for kind, kind_rules in rules.items()
        }
        self.register_outputs({f"{kind}_bucket": bucket.name for kind, bucket in self.buckets.items()})

    def ref(self, kind: BucketKind) -> Ref:
        return Ref(self.buckets[kind].name, self.buckets[kind].arn)
