"""preflight: each check passes and fails as the account says, against moto or botocore's Stubber."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from moto import mock_aws

from runtime import ops
from runtime.ingest.image import source_tag
from runtime.names import RegionNames
from runtime.preflight import (
    SIMULATED_PER_CALL,
    accelerators,
    billing,
    certificates,
    covers,
    deploy_actions,
    deploy_permissions,
    flink,
    ingest_image,
    kinesis_shards,
    lambda_concurrency,
    network,
    preflight,
    role_arn,
    session_store,
)
from runtime.session_writer.settings import Engine
from runtime.stack import RegionRole, Settings, from_stack_file, parse_settings, stack_file_values
from tests.certificates import certificate
from tests.graph import ROOT, STACKS

HOST = "ingest.dev.example.com"


@dataclass
class Account:
    """A moto account, with some clients replaced by stubbed ones (for what moto does not serve)."""

    session: boto3.session.Session
    stubbed: dict[tuple[str, str], Any] = field(default_factory=dict)

    def __call__(self, service: str, region: str) -> Any:
        return self.stubbed.get((service, region)) or self.session.client(service, region_name=region)

    def stub(self, service: str, region: str) -> Stubber:
        client = self.session.client(service, region_name=region)
        stubber = Stubber(client)
        stubber.activate()
        self.stubbed[(service, region)] = client
        return stubber


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[Account]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        yield Account(boto3.session.Session())


def dev() -> Settings:
    return from_stack_file(ROOT / "Pulumi.dev.yaml")


def _ok(findings: Any) -> list[bool]:
    return [finding.ok for finding in findings]


# -- session store -----------------------------------------------------------------------


def _with_engine(engine: Engine) -> Settings:
    settings = dev()
    return dataclasses.replace(settings, session_store=dataclasses.replace(settings.session_store, engine=engine))


@pytest.mark.parametrize("engine", ["liveanalytics", "influxdb"])
def test_the_session_store_engine_is_available(account: Account, engine: Engine) -> None:
    assert _ok(session_store(_with_engine(engine), account)) == [True, True]


def test_an_account_without_liveanalytics_is_told_to_use_influxdb(account: Account) -> None:
    account.stub("timestream-write", "us-west-2").add_client_error("describe_endpoints", "AccessDeniedException")
    findings = list(session_store(_with_engine("liveanalytics"), account))
    assert _ok(findings) == [True, False]
    assert findings[1].line() == ("FAIL session-store us-west-2: liveanalytics answered AccessDeniedException: "
                                  "Timestream for LiveAnalytics is closed to new accounts: set sessionStore.engine "
                                  "to influxdb")  # fmt: skip


# -- quotas ------------------------------------------------------------------------------


def test_the_vpcs_fit_until_the_quota_is_used_up(account: Account) -> None:
    assert _ok(network(dev(), account)) == [True, True]
    for _ in range(4):  # beside the default VPC: 5 of 5
        account("ec2", "us-east-1").create_vpc(CidrBlock="10.9.0.0/16")
    findings = list(network(dev(), account))
    assert _ok(findings) == [False, True]
    assert findings[0].message == "5 of 5 in use, the stack adds 1: request more VPCs per Region in Service Quotas"


def test_nat_egress_needs_an_address_per_zone(account: Account) -> None:
    values = stack_file_values(ROOT / "Pulumi.dev.yaml")
    values["network"] = {**values["network"], "egress": "nat"}
    settings = parse_settings(values)
    assert _ok(network(settings, account)) == [True, True, True, True]
    for _ in range(4):
        account("ec2", "us-west-2").allocate_address(Domain="vpc")
    findings = list(network(settings, account))
    assert findings[3].line() == ("FAIL elastic-ips us-west-2: 4 of 5 in use, the NAT gateways add 2: request more "
                                  "EC2-VPC Elastic IPs in Service Quotas")  # fmt: skip


def test_the_streams_fit_in_the_shard_quota(account: Account) -> None:
    assert _ok(kinesis_shards(dev(), account)) == [True, True]
    account.stub("kinesis", "us-east-1").add_response(
        "describe_limits",
        {"ShardLimit": 10, "OpenShardCount": 8, "OnDemandStreamCount": 0, "OnDemandStreamCountLimit": 50},
    )
    findings = list(kinesis_shards(dev(), account))
    assert findings[0].line() == ("FAIL kinesis-shards us-east-1: 8 of 10 open, the stack adds 3: request more "
                                  "shards per Region in Service Quotas")  # fmt: skip


def _unreserved(account: Account, region: str, free: int) -> None:
    account.stub("lambda", region).add_response(
        "get_account_settings",
        {"AccountLimit": {"UnreservedConcurrentExecutions": free, "ConcurrentExecutions": 1000}, "AccountUsage": {}},
    )


def test_the_functions_reservations_leave_lambda_its_unreserved_hundred(account: Account) -> None:
    _unreserved(account, "us-east-1", 1000)
    _unreserved(account, "us-west-2", 101)
    findings = list(lambda_concurrency(dev(), account))
    assert _ok(findings) == [True, False]
    assert findings[1].message == ("101 unreserved, the stack reserves 2 and Lambda keeps 100: request more "
                                   "concurrent executions in Service Quotas")  # fmt: skip


def _flink_application(account: Account, region: str, name: str) -> None:
    account("kinesisanalyticsv2", region).create_application(
        ApplicationName=name, RuntimeEnvironment="FLINK-1_20", ServiceExecutionRole="arn:aws:iam::123456789012:role/r"
    )


def _with_parallelism(parallelism: int, per_kpu: int) -> Settings:
    settings = dev()
    sessionizer = dataclasses.replace(settings.sessionizer, parallelism=parallelism, parallelism_per_kpu=per_kpu)
    return dataclasses.replace(settings, sessionizer=sessionizer)


def test_a_flink_application_fits_beside_those_in_use_within_the_default_quotas(account: Account) -> None:
    """moto serves no Managed Flink quota: the documented defaults apply (100 applications, 64 KPUs each)."""
    _flink_application(account, "us-west-2", "someone-else")
    findings = list(flink(_with_parallelism(16, 2), account))
    assert [f.line() for f in findings] == [
        "ok   flink us-east-1: 0 of 100 applications in use, the stack adds one of 8 KPUs (one may use 64)",
        "ok   flink us-west-2: 1 of 100 applications in use, the stack adds one of 8 KPUs (one may use 64)",
    ]


def test_a_full_region_or_too_many_kpus_names_the_quota_to_raise(account: Account) -> None:
    _flink_application(account, "us-east-1", "someone-else")
    quotas = account.stub("service-quotas", "us-east-1")
    for code, value in (("L-3729A2EF", 1.0), ("L-3A88E041", 4.0)):
        quotas.add_response("get_service_quota", {"Quota": {"QuotaCode": code, "Value": value}},
                            {"ServiceCode": "kinesisanalytics", "QuotaCode": code})  # fmt: skip
    findings = list(flink(_with_parallelism(9, 2), account))
    assert findings[0].line() == (
        "FAIL flink us-east-1: 1 of 1 applications in use, the stack adds one of 5 KPUs (one may use 4): request "
        "more Application count and Apache Flink Kinesis Processing Units (KPUs) for Managed Flink in Service Quotas"
    )
    assert findings[1].ok  # us-west-2: moto's defaults
    quotas.assert_no_pending_responses()


def _accelerators(account: Account, used: int, quota: float | None) -> None:
    api = account.stub("globalaccelerator", "us-west-2")
    accelerators = [{"AcceleratorArn": f"arn:aws:globalaccelerator::123456789012:accelerator/{n:016x}",
                     "Name": f"a{n}", "Enabled": True} for n in range(used)]  # fmt: skip
    api.add_response("list_accelerators", {"Accelerators": accelerators})
    quotas = account.stub("service-quotas", "us-east-1")  # where Global Accelerator's quotas are kept
    listed = [{"QuotaName": "Custom routing accelerators per AWS account", "Value": 10.0}]
    if quota is not None:
        listed.append({"QuotaName": "Standard accelerators per AWS account", "Value": quota})
    quotas.add_response("list_service_quotas", {"Quotas": listed}, {"ServiceCode": "globalaccelerator"})


def test_the_accelerator_fits_in_the_account_quota(account: Account) -> None:
    _accelerators(account, 3, 25.0)
    assert [f.line() for f in accelerators(dev(), account)] == [
        "ok   accelerators: 3 of 25 standard accelerators in use, the stack adds 1"
    ]


def test_a_full_account_is_told_where_to_ask_and_an_unlisted_quota_is_the_default(account: Account) -> None:
    _accelerators(account, 20, None)
    assert [f.line() for f in accelerators(dev(), account)] == [
        "FAIL accelerators: 20 of 20 standard accelerators in use, the stack adds 1: request more in Service "
        "Quotas, us-east-1"
    ]


# -- certificates and the image ----------------------------------------------------------


def _import_certificate(account: Account, region: str, names: tuple[str, ...]) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = certificate(names[0], key, None, key, ca=False, names=names)
    return str(account("acm", region).import_certificate(
        Certificate=cert.public_bytes(serialization.Encoding.PEM),
        PrivateKey=key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()),
    )["CertificateArn"])  # fmt: skip


def _with_certificates(arns: dict[RegionRole, str | None], hostname: str | None = HOST) -> Settings:
    settings = dev()
    ingest = dataclasses.replace(settings.ingest, certificate_arns=arns, hostname=hostname)
    return dataclasses.replace(settings, ingest=ingest)


def test_issued_certificates_that_name_the_host_pass(account: Account) -> None:
    arns: dict[RegionRole, str | None] = {
        "primary": _import_certificate(account, "us-east-1", (HOST,)),
        "secondary": _import_certificate(account, "us-west-2", ("*.dev.example.com",)),
    }
    assert _ok(certificates(_with_certificates(arns), account)) == [True, True]
    assert _ok(certificates(dev(), account)) == [True, True], "dev serves plain HTTP: nothing to check"


def test_a_certificate_for_another_name_or_none_at_all_fails(account: Account) -> None:
    other = _import_certificate(account, "us-east-1", ("ingest.other.example.com",))
    missing = "arn:aws:acm:us-west-2:123456789012:certificate/00000000-0000-0000-0000-000000000000"
    findings = list(certificates(_with_certificates({"primary": other, "secondary": missing}), account))
    assert _ok(findings) == [False, False]
    assert findings[0].message == (f"ingest.primary.certificateArn names ingest.other.example.com, not {HOST}: "
                                   "request one that covers ingest.hostname")  # fmt: skip
    assert findings[1].message == ("ingest.secondary.certificateArn answered ResourceNotFoundException: request one "
                                   f"for {HOST} in ACM, us-west-2")  # fmt: skip


@pytest.mark.parametrize(("names", "host", "covered"), [
    (("ingest.example.com",), "ingest.example.com", True), (("*.example.com",), "ingest.example.com", True),
    (("*.example.com",), "a.ingest.example.com", False), (("example.com",), "ingest.example.com", False),
])  # fmt: skip
def test_a_wildcard_covers_one_label(names: tuple[str, ...], host: str, covered: bool) -> None:
    assert covers(list(names), host) is covered


def test_the_image_tag_is_in_each_regions_repository_once_it_exists(account: Account) -> None:
    settings = dev()
    findings = list(ingest_image(settings, account))
    assert _ok(findings) == [True, True] and "does not exist yet" in findings[0].message
    for region in settings.regions:
        repository = RegionNames(settings.environment, region.name).ingest_repository
        ecr = account("ecr", region.name)
        ecr.create_repository(repositoryName=repository)
        if region.role == "primary":
            manifest = '{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}'
            ecr.put_image(repositoryName=repository, imageManifest=manifest, imageTag=source_tag())
    findings = list(ingest_image(settings, account))
    assert _ok(findings) == [True, False]
    assert findings[1].message == (f"prism-dev-usw2-ingest:{source_tag()} answered "
                                   "ImageNotFoundException: build and push it (python -m runtime.ops ingest-image "
                                   "--stack dev)")  # fmt: skip


# -- billing -----------------------------------------------------------------------------


def _cost_tag(account: Account, status: str) -> None:
    tags = [{"TagKey": "environment", "Type": "UserDefined", "Status": status}]
    account.stub("ce", "us-east-1").add_response("list_cost_allocation_tags", {"CostAllocationTags": tags},
                                                 {"TagKeys": ["environment"]})  # fmt: skip


def test_the_cost_tag_and_billing_alerts_are_on(account: Account) -> None:
    _cost_tag(account, "Active")
    account("cloudwatch", "us-east-1").put_metric_data(
        Namespace="AWS/Billing", MetricData=[{"MetricName": "EstimatedCharges", "Value": 12.5,
                                              "Dimensions": [{"Name": "Currency", "Value": "USD"}]}])  # fmt: skip
    assert _ok(billing(dev(), account)) == [True, True]


def test_an_inactive_cost_tag_and_no_billing_metric_say_what_to_turn_on(account: Account) -> None:
    _cost_tag(account, "Inactive")
    findings = list(billing(dev(), account))
    assert [finding.line() for finding in findings] == [
        "FAIL cost-allocation-tag: environment is not active: aws ce update-cost-allocation-tags-status "
        "--cost-allocation-tags-status TagKey=environment,Status=Active (the budget counts no cost until it is)",
        "FAIL billing-alerts: no billing metric in us-east-1: turn on Receive CloudWatch billing alerts "
        "(Billing preferences)",
    ]


# -- the deploy's permissions ------------------------------------------------------------

ROLE_SESSION = "arn:aws:sts::123456789012:assumed-role/prism-github-deploy-dev/GitHubActions"


def _simulated(account: Account, denied: set[str]) -> list[str]:
    """The caller is a deploy role's session; the simulator allows all but `denied`."""
    actions = deploy_actions()
    account.stub("sts", "us-east-1").add_response(
        "get_caller_identity", {"UserId": "AROAEXAMPLE:GitHubActions", "Account": "123456789012", "Arn": ROLE_SESSION}
    )
    iam = account.stub("iam", "us-east-1")
    for start in range(0, len(actions), SIMULATED_PER_CALL):
        batch = actions[start : start + SIMULATED_PER_CALL]
        results = [{"EvalActionName": a, "EvalResourceName": "*",
                    "EvalDecision": "implicitDeny" if a in denied else "allowed"} for a in batch]  # fmt: skip
        iam.add_response("simulate_principal_policy", {"EvaluationResults": results},
                         {"PolicySourceArn": "arn:aws:iam::123456789012:role/prism-github-deploy-dev",
                          "ActionNames": batch})  # fmt: skip
    return actions


def test_a_deploy_role_allowed_every_action_passes(account: Account) -> None:
    actions = _simulated(account, set())
    (finding,) = deploy_permissions(dev(), account)
    assert finding.ok
    assert finding.message == (f"arn:aws:iam::123456789012:role/prism-github-deploy-dev may call all {len(actions)} "
                               "actions a deploy calls")  # fmt: skip


def test_the_actions_a_role_may_not_call_are_named(account: Account) -> None:
    denied = {"kinesis:CreateStream", "iam:PassRole", "ecs:CreateService", "s3:CreateBucket", "sns:Subscribe"}
    _simulated(account, denied)
    (finding,) = deploy_permissions(dev(), account)
    assert finding.line() == ("FAIL deploy-permissions: arn:aws:iam::123456789012:role/prism-github-deploy-dev may "
                              "not call ecs:CreateService, iam:PassRole, kinesis:CreateStream, s3:CreateBucket and "
                              "1 more: grant them to the deploy role")  # fmt: skip


def test_a_user_is_simulated_as_itself() -> None:
    assert role_arn("arn:aws:iam::123456789012:user/ops") == "arn:aws:iam::123456789012:user/ops"


# -- the command -------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_runs_and_a_check_that_cannot_run_is_a_failure(account: Account, stack: str) -> None:
    """moto answers no GetAccountSettings: that check fails, visibly, and the others still run."""
    _cost_tag(account, "Active")
    findings = preflight(from_stack_file(ROOT / f"Pulumi.{stack}.yaml"), account)
    names = [finding.check.split()[0] for finding in findings]
    assert {"session-store", "vpcs", "kinesis-shards", "certificate", "ingest-image", "billing-alerts"} <= set(names)
    (concurrency,) = [f for f in findings if f.check == "lambda-concurrency"]
    assert not concurrency.ok and concurrency.message.startswith("could not run:")


def test_the_report_fits_on_a_screen_and_fails_the_exit_status(
    account: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ops.main(["preflight", "--stack", "slowprod"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) <= 24 and all(len(line) <= 160 for line in lines), lines
    assert lines[-1].endswith("to fix before pulumi up")
    assert all(line.startswith(("ok   ", "FAIL ")) for line in lines[:-1])
