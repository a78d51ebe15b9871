"""Before a stack's first `pulumi up`: what the account must offer, checked with read-only calls.

`python -m runtime.ops preflight --stack <name>` runs every check in both of the stack's
regions and prints one line per check: ``ok`` with what it found, or ``FAIL`` with what
to do. What can fail for reasons outside the program is the account: a closed service,
a quota, a missing certificate or image, a billing switch. Each check is a function of
the stack's settings and a way to make AWS clients, so tests run it against moto or
botocore's Stubber. The deploy's IAM actions come from the program (deploy_actions.txt,
written by preview/deploy_actions.py).
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from runtime.ingest.image import source_tag
from runtime.names import RegionNames
from runtime.stack import NewVpc, RegionSettings, Settings

# (service, region) -> a boto3 client
Clients = Callable[[str, str], Any]
BILLING_REGION = "us-east-1"  # Cost Explorer and the billing metrics are served from here
COST_TAG = "environment"  # the tag the region providers put on every resource, budgets filter by it
# Lambda keeps this much of a region's concurrency unreserved: reservations may not take it.
LAMBDA_UNRESERVED_MINIMUM = 100
# An on-demand stream starts with this many shards, and they count against the shard quota.
ON_DEMAND_INITIAL_SHARDS = 4
# Service Quotas codes, and the default each has when the quota cannot be read.
VPCS_QUOTA = ("vpc", "L-F678F1CE", 5)  # VPCs per Region
ELASTIC_IPS_QUOTA = ("ec2", "L-0263D0A3", 5)  # EC2-VPC Elastic IPs
FLINK_KPUS_QUOTA = ("kinesisanalytics", "L-3A88E041", 64)  # Apache Flink KPUs, per application
FLINK_APPLICATIONS_QUOTA = ("kinesisanalytics", "L-3729A2EF", 100)  # applications per Region
# Global Accelerator's quotas live in us-east-1's Service Quotas, while its API answers only in
# us-west-2 (its developer guide, "Quotas"). The quota is found by its name there.
ACCELERATOR_QUOTA_REGION = "us-east-1"
ACCELERATOR_API_REGION = "us-west-2"
STANDARD_ACCELERATORS_QUOTA = ("globalaccelerator", "Standard accelerators per AWS account", 20)


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    message: str  # what was found; for a failure, also what to do

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.check}: {self.message}"


def _fitting(check: str, fits: bool, found: str, fix: str) -> Finding:
    """A quota finding: what is in use and what the stack adds, and the request to make when it does not fit."""
    return Finding(check, fits, found if fits else f"{found}: {fix}")


def _error_code(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "error"))
    return type(error).__name__


FIXES = {
    "liveanalytics": "Timestream for LiveAnalytics is closed to new accounts: set sessionStore.engine to influxdb",
    "influxdb": "enable Timestream for InfluxDB for the account in this region",
}


def session_store(settings: Settings, clients: Clients) -> Iterator[Finding]:
    """The engine the stack names is one the account may create, in each region."""
    engine = settings.session_store.engine
    for region in settings.regions:
        check = f"session-store {region.name}"
        try:
            if engine == "liveanalytics":
                clients("timestream-write", region.name).describe_endpoints()
            else:
                clients("timestream-influxdb", region.name).list_db_instances(maxResults=1)
        except ClientError as error:  # no credentials or no network is not the account's answer: it is raised
            fix = FIXES[engine]
            yield Finding(check, False, f"{engine} answered {_error_code(error)}: {fix}")
            continue
        yield Finding(check, True, f"{engine} is available")


def _quota(clients: Clients, region: str, quota: tuple[str, str, int]) -> float:
    service, code, default = quota
    try:
        return float(
            clients("service-quotas", region).get_service_quota(ServiceCode=service, QuotaCode=code)["Quota"]["Value"]
        )
    except (ClientError, BotoCoreError):
        return float(default)


def _quota_named(clients: Clients, region: str, quota: tuple[str, str, int]) -> float:
    """A quota found by its name, for a service whose quota codes the documentation does not give."""
    service, name, default = quota
    try:
        for page in (
            clients("service-quotas", region).get_paginator("list_service_quotas").paginate(ServiceCode=service)
        ):
            for found in page["Quotas"]:
                if found["QuotaName"].lower() == name.lower():
                    return float(found["Value"])
    except (ClientError, BotoCoreError):
        pass
    return float(default)


def network(settings: Settings, clients: Clients) -> Iterator[Finding]:
    """Room for the VPC the program creates, and for the NAT gateways' addresses."""
    for region in settings.regions:
        if not isinstance(settings.network.vpcs[region.role], NewVpc):
            yield Finding(f"vpcs {region.name}", True, "the stack uses an existing VPC")
            continue
        ec2 = clients("ec2", region.name)
        used = len(ec2.describe_vpcs()["Vpcs"])
        limit = _quota(clients, region.name, VPCS_QUOTA)
        yield _fitting(f"vpcs {region.name}", used + 1 <= limit, f"{used} of {limit:g} in use, the stack adds 1",
                       "request more VPCs per Region in Service Quotas")  # fmt: skip
        if settings.network.egress == "nat":
            addresses = len(ec2.describe_addresses()["Addresses"])
            wanted = settings.network.availability_zones
            limit = _quota(clients, region.name, ELASTIC_IPS_QUOTA)
            yield _fitting(f"elastic-ips {region.name}", addresses + wanted <= limit,
                           f"{addresses} of {limit:g} in use, the NAT gateways add {wanted}",
                           "request more EC2-VPC Elastic IPs in Service Quotas")  # fmt: skip


def kinesis_shards(settings: Settings, clients: Clients) -> Iterator[Finding]:
    """The stack's streams fit in the region's shard quota beside what is open already."""
    wanted = sum(s.shards if s.shards is not None else ON_DEMAND_INITIAL_SHARDS for s in settings.streams.values())
    for region in settings.regions:
        limits = clients("kinesis", region.name).describe_limits()
        open_shards, limit = limits["OpenShardCount"], limits["ShardLimit"]
        yield _fitting(f"kinesis-shards {region.name}", open_shards + wanted <= limit,
                       f"{open_shards} of {limit} open, the stack adds {wanted}",
                       "request more shards per Region in Service Quotas")  # fmt: skip


def _reserved_concurrency(settings: Settings, region: RegionSettings) -> int:
    reserved = settings.session_store.reserved_concurrency
    replay = settings.replay
    if replay.enabled and replay.source is not None and replay.source.region == region.name:
        reserved += replay.reserved_concurrency
    return reserved


def lambda_concurrency(settings: Settings, clients: Clients) -> Iterator[Finding]:
    """The functions' reservations leave Lambda the unreserved concurrency it insists on."""
    for region in settings.regions:
        unreserved = clients("lambda", region.name).get_account_settings()["AccountLimit"]
        free = int(unreserved["UnreservedConcurrentExecutions"])
        reserved = _reserved_concurrency(settings, region)
        fits = free - reserved >= LAMBDA_UNRESERVED_MINIMUM
        found = f"{free} unreserved, the stack reserves {reserved}"
        yield _fitting(f"lambda-concurrency {region.name}", fits,
                       found if fits else f"{found} and Lambda keeps {LAMBDA_UNRESERVED_MINIMUM}",
                       "request more concurrent executions in Service Quotas")  # fmt: skip


def flink(settings: Settings, clients: Clients) -> Iterator[Finding]:
    """Room for one more Managed Flink application per region, and its KPUs within what one may use."""
    sessionizer = settings.sessionizer
    # Managed Flink allocates parallelism / parallelismPerKpu KPUs, and an application's parallelism
    # may not pass parallelismPerKpu x its KPU quota (the guide's "Application scaling").
    kpus = math.ceil(sessionizer.parallelism / sessionizer.parallelism_per_kpu)
    for region in settings.regions:
        pages = clients("kinesisanalyticsv2", region.name).get_paginator("list_applications").paginate()
        used = sum(len(page["ApplicationSummaries"]) for page in pages)
        applications = _quota(clients, region.name, FLINK_APPLICATIONS_QUOTA)
        kpu_limit = _quota(clients, region.name, FLINK_KPUS_QUOTA)
        found = (f"{used} of {applications:g} applications in use, the stack adds one of {kpus} KPUs "
                 f"(one may use {kpu_limit:g})")  # fmt: skip
        short = {"Application count": used + 1 > applications,
                 "Apache Flink Kinesis Processing Units (KPUs)": kpus > kpu_limit}  # fmt: skip
        fixes = [quota for quota, exceeded in short.items() if exceeded]
        yield _fitting(f"flink {region.name}", not fixes, found,
                       f"request more {' and '.join(fixes)} for Managed Flink in Service Quotas")  # fmt: skip


def accelerators(settings: Settings, clients: Clients) -> Iterator[Finding]:
    """Room for the stack's one standard accelerator in the account."""
    pages = clients("globalaccelerator", ACCELERATOR_API_REGION).get_paginator("list_accelerators").paginate()
    used = sum(len(page["Accelerators"]) for page in pages)
    limit = _quota_named(clients, ACCELERATOR_QUOTA_REGION, STANDARD_ACCELERATORS_QUOTA)
    yield _fitting("accelerators", used + 1 <= limit, f"{used} of {limit:g} standard accelerators in use, the "
                   "stack adds 1", f"request more in Service Quotas, {ACCELERATOR_QUOTA_REGION}")  # fmt: skip


def covers(names: list[str], hostname: str) -> bool:
    """Whether a certificate's names cover the host: exactly, or a wildcard for one label."""
    return any(name == hostname or (name.startswith("*.") and fnmatch.fnmatchcase(hostname, name)
                                    and hostname.count(".") == name.count(".")) for name in names)  # fmt: skip


def certificates(settings: Settings, clients: Clients) -> Iterator[Finding]:
    """Each region's ALB certificate is issued and names the host players use."""
    hostname = settings.ingest.hostname
    for region in settings.regions:
        arn = settings.ingest.certificate_arns[region.role]
        check, key = f"certificate {region.name}", f"ingest.{region.role}.certificateArn"
        if arn is None:
            yield Finding(check, True, "none: the stack serves plain HTTP (ingest.allowHttp)")
            continue
        try:
            certificate = clients("acm", region.name).describe_certificate(CertificateArn=arn)["Certificate"]
        except ClientError as error:
            yield Finding(check, False, f"{key} answered {_error_code(error)}: request one for "
                          f"{hostname or 'ingest.hostname'} in ACM, {region.name}")  # fmt: skip
            continue
        names = [certificate.get("DomainName", ""), *certificate.get("SubjectAlternativeNames", [])]
        if certificate.get("Status") != "ISSUED":
            yield Finding(check, False, f"{key} is {certificate.get('Status')}: complete its DNS validation in ACM")
        elif hostname is not None and not covers(names, hostname):
            yield Finding(check, False, f"{key} names {', '.join(sorted(set(names)))}, not {hostname}: "
                          "request one that covers ingest.hostname")  # fmt: skip
        else:
            yield Finding(check, True, f"{key} is issued" + (f" for {hostname}" if hostname else ""))


def ingest_image(settings: Settings, clients: Clients) -> Iterator[Finding]:
    """The image tag the stack runs is in each region's repository, once the repositories exist."""
    tag = None if settings.ingest.image is not None else source_tag()
    for region in settings.regions:
        check = f"ingest-image {region.name}"
        if tag is None:
            yield Finding(check, True, f"the stack runs {settings.ingest.image}, outside its own repositories")
            continue
        repository = RegionNames(settings.environment, region.name).ingest_repository
        try:
            clients("ecr", region.name).describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
        except ClientError as error:
            code = _error_code(error)
            if code == "RepositoryNotFoundException":
                yield Finding(check, True, f"{repository} does not exist yet: the first deploy creates it")
            else:
                yield Finding(check, False, f"{repository}:{tag} answered {code}: build and push it "
                              f"(python -m runtime.ops ingest-image --stack {settings.environment})")  # fmt: skip
            continue
        yield Finding(check, True, f"{repository}:{tag} is there")


def billing(settings: Settings, clients: Clients) -> Iterator[Finding]:
    """The switches the budget and its dashboard need, which no program can turn on."""
    try:
        tags = clients("ce", BILLING_REGION).list_cost_allocation_tags(TagKeys=[COST_TAG])["CostAllocationTags"]
        active = any(t["TagKey"] == COST_TAG and t["Status"] == "Active" for t in tags)
        found = "active" if active else "not active"
    except ClientError as error:
        active, found = False, f"unreadable ({_error_code(error)})"
    yield Finding("cost-allocation-tag", active, f"{COST_TAG} is {found}" + ("" if active else
                  f": aws ce update-cost-allocation-tags-status --cost-allocation-tags-status TagKey={COST_TAG},"
                  "Status=Active (the budget counts no cost until it is)"))  # fmt: skip
    metrics = clients("cloudwatch", BILLING_REGION).list_metrics(Namespace="AWS/Billing", MetricName="EstimatedCharges")
    on = bool(metrics["Metrics"])
    yield Finding("billing-alerts", on, "billing metrics are published" if on else "no billing metric in "
                  f"{BILLING_REGION}: turn on Receive CloudWatch billing alerts (Billing preferences)")  # fmt: skip


DEPLOY_ACTIONS = Path(__file__).with_name("deploy_actions.txt")  # from the program: preview/deploy_actions.py
SIMULATED_PER_CALL = 100
SHOWN_DENIED = 4


def role_arn(caller_arn: str) -> str:
    """The IAM principal behind an STS identity: an assumed role's session is its role."""
    found = re.fullmatch(
        r"arn:(?P<partition>[\w-]+):sts::(?P<account>\d{12}):assumed-role/(?P<role>[^/]+)/.+", caller_arn
    )
    if found is None:
        return caller_arn
    return f"arn:{found['partition']}:iam::{found['account']}:role/{found['role']}"


def deploy_actions() -> list[str]:
    """The actions of DEPLOY_ACTIONS, one a line (comments aside)."""
    lines = [line.strip() for line in DEPLOY_ACTIONS.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def deploy_permissions(settings: Settings, clients: Clients) -> Iterator[Finding]:
    """The caller's policies allow every action a deploy calls (IAM's policy simulator, no call made)."""
    region = settings.primary.name
    principal = role_arn(clients("sts", region).get_caller_identity()["Arn"])
    actions = deploy_actions()
    iam = clients("iam", region)
    denied: list[str] = []
    for start in range(0, len(actions), SIMULATED_PER_CALL):
        batch = actions[start : start + SIMULATED_PER_CALL]
        results = iam.simulate_principal_policy(PolicySourceArn=principal, ActionNames=batch)["EvaluationResults"]
        denied += [r["EvalActionName"] for r in results if r["EvalDecision"] != "allowed"]
    if not denied:
        yield Finding("deploy-permissions", True, f"{principal} may call all {len(actions)} actions a deploy calls")
        return
    shown = ", ".join(denied[:SHOWN_DENIED]) + (f" and {len(denied) - SHOWN_DENIED} more" if len(denied) > SHOWN_DENIED
                                                else "")  # fmt: skip
    yield Finding("deploy-permissions", False, f"{principal} may not call {shown}: grant them to the deploy role")


CHECKS = (
    session_store,
    network,
    kinesis_shards,
    lambda_concurrency,
    flink,
    accelerators,
    certificates,
    ingest_image,
    billing,
    deploy_permissions,
)


def preflight(settings: Settings, clients: Clients) -> list[Finding]:
    """Every check's findings, in order; a check that cannot run is a failed finding, and the rest still run."""
    findings: list[Finding] = []
    for check in CHECKS:
        try:
            findings += check(settings, clients)
        except Exception as error:  # an operator's report: whatever stopped a check is shown, not raised
            findings.append(Finding(check.__name__.replace("_", "-"), False, f"could not run: {error}"))
    return findings
