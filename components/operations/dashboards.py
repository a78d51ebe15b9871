"""The stack's resource dashboard: both regions side by side, stage by stage in data-path order.

Built from what the program declared: every alarm is drawn as its own graph (CloudWatch
draws an alarm's metric and threshold from the alarm's ARN), traffic graphs name the
resources' real names, and the alarm states of both regions sit on top. CloudWatch
dashboards are global; the body names each widget's region.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.operations.signals import ALB, KINESIS, LAMBDA, TIMESTREAM, Signal
from components.operations.watch import RegionWatch
from components.support.region import GLOBAL_ACCELERATOR_API_REGION
from runtime.ingest import metrics as ingest_metrics
from runtime.names import StackNames
from runtime.reconciler import metrics as reconciler_metrics

GRID_WIDTH = 24  # CloudWatch dashboards are 24 units wide
HALF = GRID_WIDTH // 2
TILE_WIDTH = 6
TILE_HEIGHT = 5

# Stages in the order data flows through them; a signal belongs to the first whose test holds.
STAGES: tuple[str, ...] = (
    "Accelerator and ALB",
    "Ingest service",
    "Raw stream",
    "Firehose and Flink",
    "Session and late streams",
    "Session writer",
    "Session store",
    "Replication",
    "Reconciler",
    "Live replay",
)


def stage_of(signal: Signal) -> str:
    kind = signal.kind
    if kind.startswith("alb-"):
        return "Accelerator and ALB"
    if kind.startswith("ingest-"):
        return "Ingest service"
    if kind.startswith("stream-"):
        return "Raw stream" if signal.subject == "raw" else "Session and late streams"
    if kind.startswith(("delivery-", "sessionizer-")):
        return "Firehose and Flink"
    if kind.startswith("writer-"):
        return "Session writer"
    if kind.startswith(("timestream-", "influxdb-")):
        return "Session store"
    if kind.startswith("replication-"):
        return "Replication"
    if kind.startswith("reconciler-"):
        return "Reconciler"
    if kind.startswith("replay-"):
        return "Live replay"
    raise ValueError(f"no dashboard stage for alarm kind {kind}")


@dataclass(frozen=True)
class RegionPanel:
    """One region's half of the dashboard."""

    watch: RegionWatch
    signals: Sequence[Signal]
    alarm_arns: Sequence[pulumi.Input[str]]  # in the order of `signals`
    pipeline_unhealthy_arn: pulumi.Input[str]


def _traffic(panel: RegionPanel, stage: str) -> list[dict[str, Any]]:
    """Graphs of the traffic through a stage, beside its alarms."""
    w = panel.watch

    def graph(title: str, metrics: list[list[Any]]) -> dict[str, Any]:
        return {
            "title": title,
            "region": w.region,
            "view": "timeSeries",
            "stat": "Sum",
            "period": 60,
            "metrics": metrics,
        }

    if stage == "Accelerator and ALB":
        return [graph("ALB requests", [[ALB, "RequestCount", "LoadBalancer", w.load_balancer]])]
    if stage == "Ingest service":
        emf = [
            ingest_metrics.EMF_NAMESPACE,
            ingest_metrics.EVENTS_ACCEPTED,
            ingest_metrics.EMF_DIMENSION,
            w.streams["raw"],
        ]
        return [graph("Events acknowledged", [emf])]
    if stage == "Raw stream":
        return [graph("Raw records in", [[KINESIS, "IncomingRecords", "StreamName", w.streams["raw"]]])]
    if stage == "Session and late streams":
        return [
            graph(
                "Session and late records in",
                [[KINESIS, "IncomingRecords", "StreamName", w.streams[kind]] for kind in ("session", "late")],
            )
        ]
    if stage == "Session writer":
        return [graph("Writer invocations", [[LAMBDA, "Invocations", "FunctionName", w.function]])]
    if stage == "Reconciler":
        written = [
            reconciler_metrics.NAMESPACE,
            reconciler_metrics.RECORDS_WRITTEN,
            "service",
            reconciler_metrics.SERVICE,
        ]
        due = [
            reconciler_metrics.NAMESPACE,
            reconciler_metrics.MOVED_SESSIONS_DUE,
            "service",
            reconciler_metrics.SERVICE,
        ]
        return [graph("Moved sessions due, records written", [due, written])]
    if stage == "Session store" and w.database is not None:
        latency = [
            TIMESTREAM,
            "SuccessfulRequestLatency",
            "Operation",
            "WriteRecords",
            "DatabaseName",
            w.database,
            "TableName",
            w.table,
            {"stat": "p99"},
        ]
        return [graph("WriteRecords latency p99 (ms)", [latency])]
    return []


def _tiles(panel: RegionPanel, stage: str) -> list[dict[str, Any]]:
    tiles = _traffic(panel, stage)
    for signal, alarm_arn in zip(panel.signals, panel.alarm_arns, strict=True):
        if stage_of(signal) == stage:
            tiles.append(
                {
                    "title": signal.what,
                    "region": panel.watch.region,
                    "annotations": {"alarms": [alarm_arn]},
                    "view": "timeSeries",
                }
            )
    return tiles


def resource_dashboard_body(
    environment: str, panels: Sequence[RegionPanel], accelerator_id: pulumi.Input[str]
) -> dict[str, Any]:
    """The dashboard's body (with outputs inside; json-dump it with pulumi.Output.json_dumps)."""
    widgets: list[dict[str, Any]] = []
    y = 0

    def text(markdown: str, height: int = 1) -> None:
        nonlocal y
        widgets.append(
            {
                "type": "text",
                "x": 0,
                "y": y,
                "width": GRID_WIDTH,
                "height": height,
                "properties": {"markdown": markdown},
            }
        )
        y += height

    text(f"# prism-pipeline {environment}: " + " | ".join(p.watch.region for p in panels), 1)
    for column, panel in enumerate(panels):
        widgets.append(
            {
                "type": "alarm",
                "x": column * HALF,
                "y": y,
                "width": HALF,
                "height": 6,
                "properties": {
                    "title": f"{panel.watch.region} alarms",
                    "alarms": [panel.pipeline_unhealthy_arn, *panel.alarm_arns],
                },
            }
        )
    y += 6
    for stage in STAGES:
        columns = [_tiles(panel, stage) for panel in panels]
        if not any(columns):
            continue  # a stage this stack does not run (the replayer outside loadtest)
        text(f"## {stage}")
        if stage == "Accelerator and ALB":
            # Global Accelerator publishes in its API region only.
            widgets.append(
                {
                    "type": "metric",
                    "x": 0,
                    "y": y,
                    "width": GRID_WIDTH,
                    "height": TILE_HEIGHT,
                    "properties": {
                        "title": "Accelerator flows",
                        "region": GLOBAL_ACCELERATOR_API_REGION,
                        "stat": "Sum",
                        "period": 60,
                        "view": "timeSeries",
                        "metrics": [["AWS/GlobalAccelerator", "NewFlowCount", "Accelerator", accelerator_id]],
                    },
                }
            )
            y += TILE_HEIGHT
        per_row = HALF // TILE_WIDTH
        rows = max((len(tiles) + per_row - 1) // per_row for tiles in columns)
        for column, tiles in enumerate(columns):
            for index, properties in enumerate(tiles):
                widgets.append(
                    {
                        "type": "metric",
                        "x": column * HALF + (index % per_row) * TILE_WIDTH,
                        "y": y + (index // per_row) * TILE_HEIGHT,
                        "width": TILE_WIDTH,
                        "height": TILE_HEIGHT,
                        "properties": properties,
                    }
                )
        y += rows * TILE_HEIGHT
    return {"start": "-PT6H", "periodOverride": "inherit", "widgets": widgets}


@dataclass(frozen=True)
class ResourceDashboardArgs:
    environment: str
    panels: Sequence[RegionPanel]
    accelerator_id: pulumi.Input[str]


class ResourceDashboard(pulumi.ComponentResource):
    dashboard: aws.cloudwatch.Dashboard

    def __init__(self, name: str, args: ResourceDashboardArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("prism:dashboards:ResourceDashboard", name, None, opts)
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            aws.cloudwatch.DashboardArgs(
                dashboard_name=StackNames(args.environment).resource_dashboard,
                dashboard_body=pulumi.Output.json_dumps(
                    resource_dashboard_body(args.environment, args.panels, args.accelerator_id)
                ),
            ),
            pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"name": self.dashboard.dashboard_name})
