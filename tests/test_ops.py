"""`python -m runtime.ops flink-timeouts`: the AWS support request for production Flink timeouts."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from runtime.ops import main


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):  # fmt: skip
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


def test_prints_the_case_for_every_application_and_the_restart(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flink-timeouts", "--stack", "slowprod", "--account-id", "111122223333"]) == 0
    out = capsys.readouterr().out
    for region, code in (("us-east-1", "use1"), ("us-west-2", "usw2")):
        arn = f"arn:aws:kinesisanalytics:{region}:111122223333:application/prism-slowprod-{code}-sessionizer"
        assert f"{arn} (region {region})" in out
        assert f"start-application --region {region} --application-name prism-slowprod-{code}-sessionizer" in out
    assert "heartbeat.timeout: 300000 ms (300 s)" in out
    assert "akka.ask.timeout: 300 s" in out
    assert "apply only after a restart" in out


def test_a_stack_without_production_traffic_has_nothing_to_request(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flink-timeouts", "--stack", "dev", "--account-id", "111122223333"]) == 2
    assert "prism-pipeline:sessionizer.productionTimeouts is false" in capsys.readouterr().err


def test_an_unknown_stack_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flink-timeouts", "--stack", "prod", "--account-id", "111122223333"]) == 2
    assert "no stack file Pulumi.prod.yaml" in capsys.readouterr().err


def test_open_case_files_the_text_with_the_callers_account(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flink-timeouts", "--stack", "loadtest", "--open-case", "--severity", "high"]) == 0
    out = capsys.readouterr().out
    assert "Opened AWS Support case case-" in out
    cases = boto3.client("support", region_name="us-east-1").describe_cases()["cases"]
    assert len(cases) == 1
    case = cases[0]
    assert case["subject"].startswith("Managed Service for Apache Flink: heartbeat.timeout and akka.ask.timeout")
    body = case["recentCommunications"]["communications"][0]["body"]
    assert "arn:aws:kinesisanalytics:us-west-2:123456789012:application/prism-loadtest-usw2-sessionizer" in body
