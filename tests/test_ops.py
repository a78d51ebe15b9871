"""`python -m runtime.ops flink-timeouts`: the AWS support request for production Flink timeouts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from runtime.ops import main
from tests.graph import STACKS, stack_graph
from tests.recording_server import Answer, Request, recording_server


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


@pytest.mark.parametrize("command", [["flink-timeouts", "--account-id", "111122223333"], ["ingest-image"]])
def test_an_unknown_stack_is_named(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "--stack", "prod"]) == 2
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


def dashboard_saved(request: Request) -> Answer:
    if request.path.startswith("/api/datasources"):
        # The primary's data source is new; the secondary's exists already (409), and is then updated.
        exists = "us-west-2" in json.loads(request.body)["name"] and request.method == "POST"
        return Answer(409 if exists else 200, b'{"message": "data source with the same name already exists"}'
                      if exists else b"{}")  # fmt: skip
    uid = json.loads(request.body)["dashboard"]["uid"]
    body = json.dumps({"status": "success", "url": f"/d/{uid}"}).encode()
    return Answer(200, body, {"Content-Type": "application/json"})


INFLUX_OUTPUTS: dict[str, Any] = {
    "environment": "dev",
    **{
        role: {"region": region, "session_store": {"influxdb": {
            "url": f"https://abc-{region}.timestream-influxdb.amazonaws.com:8086",
            "database": f"prism-dev-{code}-sessions",
            "reader_token_secret": f"arn:aws:secretsmanager:{region}:123456789012:secret:{code}-influxdb-reader",
        }}}
        for role, region, code in (("primary", "us-east-1", "use1"), ("secondary", "us-west-2", "usw2"))
    },
}  # fmt: skip


@pytest.mark.parametrize(
    ("engine", "datasource"), [("liveanalytics", "grafana-timestream-datasource"), (None, "influxdb")]
)
def test_grafana_dashboards_are_posted_to_the_workspace_api(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, engine: str | None,
    datasource: str,
) -> None:  # fmt: skip
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(INFLUX_OUTPUTS))
    monkeypatch.setattr("runtime.ops.read_token", lambda arn, region: f"{region}-token")
    with recording_server(dashboard_saved) as grafana:
        chosen = ["--engine", engine] if engine else ["--outputs", str(outputs)]  # influxdb by default
        assert main(["grafana-dashboards", "--url", grafana.url, "--token", "glsa_test", *chosen]) == 0
    received = [(r.method, r.path, r.headers["authorization"], json.loads(r.body)) for r in grafana.requests]
    sources = [(method, path, body) for method, path, _, body in received if path.startswith("/api/datasources")]
    dashboards = [(path, auth, body) for _, path, auth, body in received if path == "/api/dashboards/db"]
    assert len(dashboards) == len(received) - len(sources) == 2
    assert all(auth == "Bearer glsa_test" for _, auth, _ in dashboards)
    assert sorted(body["dashboard"]["uid"] for _, _, body in dashboards) == [
        "prism-live-sessions", "prism-sessions-breakdown",
    ]  # fmt: skip
    assert all(body["overwrite"] is True for _, _, body in dashboards)
    assert {body["dashboard"]["panels"][0]["datasource"]["type"] for _, _, body in dashboards} == {datasource}
    out = capsys.readouterr().out
    assert "live-sessions.json: success /d/prism-live-sessions" in out
    if engine == "liveanalytics":
        assert sources == []
        return
    assert [(method, path) for method, path, _ in sources] == [
        ("POST", "/api/datasources"), ("POST", "/api/datasources"),
        ("PUT", "/api/datasources/uid/prism-dev-usw2-sessions"),
    ]  # fmt: skip
    primary = sources[0][2]
    assert (primary["type"], primary["url"], primary["jsonData"]["dbName"]) == (
        "influxdb", INFLUX_OUTPUTS["primary"]["session_store"]["influxdb"]["url"], "prism-dev-use1-sessions",
    )  # fmt: skip
    assert primary["secureJsonData"] == {"httpHeaderValue1": "Token us-east-1-token"}
    assert "data source prism dev sessions us-west-2: updated" in out


def test_grafana_dashboards_need_a_token(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("GRAFANA_TOKEN", raising=False)
    assert main(["grafana-dashboards", "--url", "g-123.grafana-workspace.us-east-1.amazonaws.com"]) == 2
    assert "GRAFANA_TOKEN" in capsys.readouterr().err


@pytest.mark.built
@pytest.mark.parametrize("stack", STACKS)
def test_ingest_image_names_the_programs_repositories_tag_and_the_tasks_platform(
    stack: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest-image", "--stack", stack]) == 0
    image = json.loads(capsys.readouterr().out)
    graph = stack_graph(stack)
    assert {(r["region"], r["name"]) for r in image["repositories"]} == {
        (repository.region, repository.inputs["name"]) for repository in graph.of_type("aws:ecr/repository:Repository")
    }
    (definition, *_) = graph.of_type("aws:ecs/taskDefinition:TaskDefinition")
    architecture = definition.inputs["runtimePlatform"]["cpuArchitecture"]
    assert image["platform"] == {"X86_64": "linux/amd64", "ARM64": "linux/arm64"}[architecture]
    # The tag the workflow pushes is the one every task definition of the stack runs.
    images = {json.loads(d.inputs["containerDefinitions"])[0]["image"].rsplit(":", 1)[1]
              for d in graph.of_type("aws:ecs/taskDefinition:TaskDefinition")}  # fmt: skip
    assert images == {image["tag"]}
