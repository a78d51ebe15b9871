"""What AWS accepts, as the stack settings check it: limits, retention periods, name and ARN shapes."""

from __future__ import annotations

import re

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip


ENVIRONMENT_NAME = re.compile(r"^[a-z][a-z0-9]{1,11}$")


VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")


SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8,17}$")


# arn:aws:acm:us-east-1:123456789012:certificate/<uuid>
CERTIFICATE_ARN = re.compile(
    r"^arn:aws(?:-[a-z]+)*:acm:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):certificate/[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}$"
)


# A container image tag, as registries accept it.
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
# registry/repository:tag or @sha256:digest; {account} and {region} are filled per region.
IMAGE = re.compile(
    r"^(?P<registry>[a-z0-9{}.-]+(?::\d+)?)/(?P<repository>[a-z0-9]+(?:[._/-][a-z0-9]+)*)"
    rf"(?::(?P<tag>{_TAG})|@sha256:[0-9a-f]{{64}})$"
)
ECR_REGISTRY = re.compile(
    r"^(?P<account>\d{12}|\{account\})\.dkr\.ecr\.(?P<region>[a-z0-9-]+|\{region\})\.amazonaws\.com$"
)


HOSTNAME = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


# ALB security policies that allow TLS 1.2 and 1.3 only (or 1.3 only).
TLS_POLICIES = (
    "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-3-2021-06",
)


# Fargate task sizes: CPU units -> (lowest memory, highest memory, step), MiB.
FARGATE_MEMORY = {
    256: (512, 2048, None), 512: (1024, 4096, 1024), 1024: (2048, 8192, 1024), 2048: (4096, 16384, 1024),
    4096: (8192, 30720, 1024), 8192: (16384, 61440, 4096), 16384: (32768, 122880, 8192),
}  # fmt: skip


# Fargate gives a container at most 120 s between SIGTERM and SIGKILL.
FARGATE_MAX_STOP_TIMEOUT = 120


# A WAF web ACL in front of an ALB sees at most the first 8 KB of a body.
WAF_ALB_BODY_INSPECTION_BYTES = 8_192
