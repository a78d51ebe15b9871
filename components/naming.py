"""Deterministic, readable physical names: ``prism-<env>-<region code>-<what>``.

Every name is checked against the service's rules here, at preview time, rather
than failing half-way through an update.
"""

from __future__ import annotations

import re

import pulumi

from components.settings import RegionSettings

_S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_GENERIC = re.compile(r"^[A-Za-z0-9_.-]+$")

# Service name-length rules (characters).
MAX_KINESIS_STREAM = 128
MAX_FIREHOSE_STREAM = 64
MAX_IAM_ROLE = 64
MAX_S3_BUCKET = 63
MAX_FLINK_APPLICATION = 128
MAX_TIMESTREAM = 256
MAX_SQS_QUEUE = 80
MAX_LAMBDA = 64
MAX_GRAFANA_WORKSPACE = 255
MAX_LOAD_BALANCER = 32  # ALBs and target groups
MAX_ECS = 255
MAX_SECURITY_GROUP = 255
MAX_ACCELERATOR = 64


def _checked(name: str, max_length: int) -> str:
    if len(name) > max_length or not _GENERIC.match(name):
        raise ValueError(f"name {name!r} breaks the service's rule (<= {max_length} of A-Z a-z 0-9 _ . -)")
    return name


def regional(environment: str, region: RegionSettings, what: str, max_length: int = MAX_FIREHOSE_STREAM) -> str:
    """Name of a regional resource, e.g. prism-dev-use1-raw."""
    return _checked(f"prism-{environment}-{region.code}-{what}", max_length)


def account_wide(environment: str, what: str, max_length: int = MAX_IAM_ROLE) -> str:
    """Name of a resource that spans regions (IAM), e.g. prism-dev-replication-use1-to-usw2."""
    return _checked(f"prism-{environment}-{what}", max_length)


def bucket_name(environment: str, region: RegionSettings, kind: str, account_id: str) -> str:
    """S3 bucket names are global: the account id keeps them unique across accounts."""
    name = f"prism-{environment}-{region.code}-{kind}-{account_id}"
    if len(name) > MAX_S3_BUCKET or not _S3_BUCKET.match(name):
        raise ValueError(f"bucket name {name!r} breaks S3's rule (3-63 of a-z 0-9 -)")
    return name


def bucket(environment: str, region: RegionSettings, kind: str, account_id: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.from_input(account_id).apply(lambda account: bucket_name(environment, region, kind, account))
