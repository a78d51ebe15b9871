"""Operator commands: `python -m runtime.ops <command> --stack <env>`.

flink-timeouts
    Stacks with production traffic (``sessionizer.productionTimeouts: true``) need
    ``heartbeat.timeout`` and ``akka.ask.timeout`` at 300 s on their Managed Flink
    applications, and only AWS support can set them. Prints the case text with each
    application's ARN and region and the exact request; with ``--open-case`` opens the
    case through the AWS Support API (Business support or higher) and prints its id.
    The application ARNs come from ``--account-id``, or else from the caller's
    identity (STS), named exactly as the Pulumi program names the applications.
    The new timeouts apply only after the applications restart.

preflight
    Before a stack's first ``pulumi up``: read-only checks in both regions of what the
    account must offer (runtime/preflight.py), one line each, ``ok`` or ``FAIL`` with what
    to do; exit status 1 when any failed. Uses the caller's AWS credentials.

ingest-image
    Where the deploy workflow copies the ingest image for a stack, as JSON: the tag the
    program names (runtime/ingest/image.py), the task's platform (``ingest.cpuArchitecture``)
    and the stack's own ingest repository in each region, named as the program names them.

preview-role-policy
    The inline policy of the role pull requests' previews assume, as JSON, for
    ``--account-id``: read and list the state bucket, ``kms:Decrypt`` with the secrets key
    (runtime/state_access.py); it goes beside AWS's managed ReadOnlyAccess.

capacity
    What ``--viewers`` concurrent viewers (default: the stack's ``capacity.peakViewers``) need of
    every stage in each region, from the benchmarks' reference figures and AWS's per-unit limits,
    beside the stack's own settings with their headroom; then the monthly cost per region at list
    prices and per 1,000 viewer-hours (runtime/capacity/). ``--json`` for a program. Exit status 1
    when a stage cannot carry them.

grafana-dashboards
    Imports (or updates) the dashboards of dashboards/<engine>/ into a Grafana workspace
    through its HTTP API: ``--url`` is the workspace endpoint (the stack output
    ``grafana.endpoint``), ``--token`` a service account token with the Editor role
    (or GRAFANA_TOKEN), ``--engine`` the session store the stack writes (Timestream SQL
    dashboards for ``liveanalytics``, InfluxQL ones for ``influxdb``, the default). With ``influxdb``,
    ``--outputs`` is the stack's ``pulumi stack output --json``: first each region's
    InfluxDB becomes a data source (created, or updated when it exists), with the read
    token the program's provisioner keeps in Secrets Manager (read with the caller's
    AWS credentials); the dashboards' region picker lists them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.ingest.image import source_tag
from runtime.names import RegionNames
from runtime.preflight import preflight
from runtime.session_writer.influxdb import InfluxCredentials
from runtime.session_writer.settings import DEFAULT_ENGINE, ENGINES
from runtime.stack import Settings, SettingsError, from_stack_file
from runtime.state_access import preview_role_policy

ROOT = Path(__file__).resolve().parents[1]
TIMEOUTS = (("heartbeat.timeout", "300000 ms (300 s)"), ("akka.ask.timeout", "300 s"))
SEVERITIES = ("low", "normal", "high", "urgent", "critical")
SUPPORT_API_REGION = "us-east-1"  # the AWS Support API has one endpoint


@dataclass(frozen=True)
class FlinkApplication:
    name: str
    region: str
    arn: str


def flink_applications(settings: Settings, account_id: str) -> list[FlinkApplication]:
    applications = []
    for region in settings.regions:
        name = RegionNames(settings.environment, region.name).flink_application
        arn = f"arn:aws:kinesisanalytics:{region.name}:{account_id}:application/{name}"
        applications.append(FlinkApplication(name, region.name, arn))
    return applications


def case_subject(settings: Settings) -> str:
    return f"Managed Service for Apache Flink: heartbeat.timeout and akka.ask.timeout to 300 s ({settings.environment})"


def case_text(settings: Settings, applications: Sequence[FlinkApplication]) -> str:
    lines = [
        "Hello AWS Support,",
        "",
        f"Our prism-pipeline '{settings.environment}' environment runs production-level traffic through the",
        "Managed Service for Apache Flink (FLINK-1_20, PyFlink) applications below. Please set these Flink",
        "configuration values on each of them:",
        "",
        *(f"  {key}: {value}" for key, value in TIMEOUTS),
        "",
        "Applications:",
        *(f"  - {app.arn} (region {app.region})" for app in applications),
        "",
        "We will restart the applications ourselves once you confirm the change, so that it takes effect.",
        "",
        "Thank you.",
    ]
    return "\n".join(lines)


def restart_reminder(applications: Sequence[FlinkApplication]) -> str:
    commands = [
        f"  aws kinesisanalyticsv2 stop-application --region {app.region} --application-name {app.name}\n"
        f"  aws kinesisanalyticsv2 start-application --region {app.region} --application-name {app.name} "
        '--run-configuration \'{"ApplicationRestoreConfiguration":'
        ' {"ApplicationRestoreType": "RESTORE_FROM_LATEST_SNAPSHOT"}}\''
        for app in applications
    ]
    return "\n".join(
        [
            "Once support confirms, restart each application: the timeouts apply only after a restart.",
            "Stopping takes a snapshot; starting restores from it, so sessions in flight survive.",
            *commands,
        ]
    )


def caller_account_id(session: Any) -> str:
    return str(session.client("sts").get_caller_identity()["Account"])


def open_case(session: Any, settings: Settings, body: str, severity: str, service_code: str | None,
              category_code: str | None) -> str:  # fmt: skip
    request: dict[str, Any] = {
        "subject": case_subject(settings),
        "communicationBody": body,
        "severityCode": severity,
        "issueType": "technical",
        "language": "en",
    }
    # Optional in CreateCase: support routes the case by its text when they are not given.
    if service_code:
        request["serviceCode"] = service_code
    if category_code:
        request["categoryCode"] = category_code
    response = session.client("support", region_name=SUPPORT_API_REGION).create_case(**request)
    return str(response["caseId"])


def stack_settings(stack: str) -> Settings | None:
    """The stack's settings, or None after saying on stderr why there are none."""
    stack_file = ROOT / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file():
        print(f"error: no stack file {stack_file.name}", file=sys.stderr)
        return None
    try:
        return from_stack_file(stack_file)
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return None


def flink_timeouts(args: argparse.Namespace) -> int:
    settings = stack_settings(args.stack)
    if settings is None:
        return 2
    if not settings.sessionizer.production_timeouts:
        print(
            f"error: stack {args.stack} does not carry production traffic "
            "(prism-pipeline:sessionizer.productionTimeouts is false); there is nothing to request",
            file=sys.stderr,
        )
        return 2

    session = None
    account_id = args.account_id
    if account_id is None or args.open_case:
        import boto3

        session = boto3.Session()
        if account_id is None:
            account_id = caller_account_id(session)
    applications = flink_applications(settings, account_id)
    body = case_text(settings, applications)
    print(f"Subject: {case_subject(settings)}\n\n{body}\n")
    if args.open_case:
        case_id = open_case(session, settings, body, args.severity, args.service_code, args.category_code)
        print(f"Opened AWS Support case {case_id}.\n")
    print(restart_reminder(applications))
    return 0


def read_token(secret_arn: str, region: str) -> str:
    """The InfluxDB read token the provisioner stored ({"token": ...})."""
    import boto3

    text = boto3.client("secretsmanager", region_name=region).get_secret_value(SecretId=secret_arn)["SecretString"]
    token = InfluxCredentials.from_secret(text).token
    if not token:
        raise ValueError(f"{secret_arn} holds no token (the provisioner fills it; has it run?)")
    return token


def influx_data_source(environment: str, region: str, influx: dict[str, str], token: str) -> dict[str, Any]:
    """A Grafana InfluxDB (InfluxQL) data source for one region's instance, by its read token."""
    return {
        "uid": influx["database"],  # the region's sessions database: one data source each
        "name": f"prism {environment} sessions {region}",
        "type": "influxdb",
        "access": "proxy",
        "url": influx["url"],
        "jsonData": {"dbName": influx["database"], "httpMode": "POST", "httpHeaderName1": "Authorization"},
        "secureJsonData": {"httpHeaderValue1": f"Token {token}"},
    }


def _grafana_call(base: str, token: str, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"{base.rstrip('/')}{path}", data=json.dumps(body).encode(), method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        if error.code != 409:
            raise
        return 409, {}


def influx_data_sources(base: str, token: str, outputs_file: Path) -> None:
    outputs = json.loads(outputs_file.read_text())
    for role in ("primary", "secondary"):
        region = outputs[role]["region"]
        influx = outputs[role]["session_store"].get("influxdb")
        if influx is None:
            raise SettingsError("sessionStore.engine", "is not influxdb in these stack outputs", None)
        source = influx_data_source(
            outputs["environment"], region, influx, read_token(influx["reader_token_secret"], region)
        )
        status, _ = _grafana_call(base, token, "POST", "/api/datasources", source)
        if status == 409:  # it exists: bring it up to date
            _grafana_call(base, token, "PUT", f"/api/datasources/uid/{source['uid']}", source)
        print(f"data source {source['name']}: {'updated' if status == 409 else 'created'}")


def grafana_dashboards(args: argparse.Namespace) -> int:
    token = args.token or os.environ.get("GRAFANA_TOKEN")
    if not token:
        print("error: --token or GRAFANA_TOKEN (a Grafana service account token) is required", file=sys.stderr)
        return 2
    base = args.url if args.url.startswith(("http://", "https://")) else f"https://{args.url}"
    if args.engine == "influxdb":
        if args.outputs is None:
            print("error: --outputs (pulumi stack output --json) is required with --engine influxdb", file=sys.stderr)
            return 2
        influx_data_sources(base, token, args.outputs)
    for path in sorted((ROOT / "dashboards" / args.engine).glob("*.json")):
        body = json.dumps({"dashboard": json.loads(path.read_text()), "overwrite": True, "folderUid": ""}).encode()
        request = urllib.request.Request(
            f"{base.rstrip('/')}/api/dashboards/db",
            data=body,
            method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read() or b"{}")
        print(f"{path.name}: {answer.get('status', response.status)} {answer.get('url', '')}".rstrip())
    return 0


PLATFORMS = {"X86_64": "linux/amd64", "ARM64": "linux/arm64"}


def ingest_image(args: argparse.Namespace) -> int:
    settings = stack_settings(args.stack)
    if settings is None:
        return 2
    image = {
        "platform": PLATFORMS[settings.ingest.cpu_architecture],
        "tag": source_tag(),
        "repositories": [
            {"region": region.name, "name": RegionNames(settings.environment, region.name).ingest_repository}
            for region in settings.regions
        ],
    }
    print(json.dumps(image))
    return 0


def preflight_command(args: argparse.Namespace) -> int:
    settings = stack_settings(args.stack)
    if settings is None:
        return 2
    import boto3

    session = boto3.Session()
    findings = preflight(settings, lambda service, region: session.client(service, region_name=region))
    for finding in findings:
        print(finding.line())
    failed = sum(not finding.ok for finding in findings)
    print(f"{len(findings) - failed} ok, {failed} to fix before pulumi up" if failed else f"{len(findings)} ok")
    return 1 if failed else 0


def capacity_command(args: argparse.Namespace) -> int:
    settings = stack_settings(args.stack)
    if settings is None:
        return 2
    from runtime.capacity.cost import monthly_costs
    from runtime.capacity.figures import MissingFigure
    from runtime.capacity.model import capacity_model
    from runtime.capacity.prices import price_table
    from runtime.capacity.report import document, table

    try:
        model = capacity_model(settings, args.viewers)
    except MissingFigure as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    prices = price_table()
    costs = monthly_costs(model, prices)
    print(json.dumps(document(model, costs, prices), indent=1) if args.json else table(model, costs, prices))
    return 1 if model.shortfalls else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runtime.ops", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    timeouts = commands.add_parser("flink-timeouts", help="the AWS support request for 300 s Flink timeouts")
    timeouts.add_argument("--stack", required=True, help="dev, datamart, slowprod or loadtest")
    timeouts.add_argument("--account-id", help="AWS account of the stack (default: the caller's, from STS)")
    timeouts.add_argument("--open-case", action="store_true", help="open the case through the AWS Support API")
    timeouts.add_argument("--severity", choices=SEVERITIES, default="normal")
    timeouts.add_argument("--service-code", help="AWS Support service code (optional)")
    timeouts.add_argument("--category-code", help="AWS Support category code (optional)")
    dashboards = commands.add_parser("grafana-dashboards", help="import dashboards/ into a Grafana workspace")
    dashboards.add_argument("--url", required=True, help="the workspace endpoint (stack output grafana.endpoint)")
    dashboards.add_argument("--token", help="Grafana service account token (default: GRAFANA_TOKEN)")
    dashboards.add_argument("--engine", choices=ENGINES, default=DEFAULT_ENGINE,
                            help=f"the stack's session store, which dashboards (default {DEFAULT_ENGINE})")  # fmt: skip
    dashboards.add_argument("--outputs", type=Path, help="influxdb: the stack's outputs (pulumi stack output --json)")
    image = commands.add_parser("ingest-image", help="the ingest image's tag, platform and repositories, as JSON")
    image.add_argument("--stack", required=True, help="dev, datamart, slowprod or loadtest")
    role = commands.add_parser("preview-role-policy", help="the preview role's inline policy, as JSON")
    role.add_argument("--account-id", required=True, help="the AWS account of the state bucket")
    checks = commands.add_parser("preflight", help="what the account must offer before the first pulumi up")
    checks.add_argument("--stack", required=True, help="dev, datamart, slowprod or loadtest")
    capacity = commands.add_parser("capacity", help="what N viewers need of each stage, and what it costs")
    capacity.add_argument("--stack", required=True, help="dev, datamart, slowprod or loadtest")
    capacity.add_argument("--viewers", type=int, help="concurrent viewers (default: the stack's capacity.peakViewers)")
    capacity.add_argument("--json", action="store_true", help="the model as JSON")
    args = parser.parse_args(argv)
    if args.command == "capacity":
        return capacity_command(args)
    if args.command == "preflight":
        return preflight_command(args)
    if args.command == "grafana-dashboards":
        return grafana_dashboards(args)
    if args.command == "ingest-image":
        return ingest_image(args)
    if args.command == "preview-role-policy":
        print(json.dumps(preview_role_policy(args.account_id), indent=2))
        return 0
    return flink_timeouts(args)


if __name__ == "__main__":
    sys.exit(main())
