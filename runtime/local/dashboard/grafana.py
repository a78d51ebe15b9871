"""The Grafana dashboards as the local page reads them: the generated JSON (dashboards/influxdb/*.json),
not a second copy of what they show.

Only what the dashboards use is read, and anything else fails loudly: a panel type, a target
datasource, a variable type or a transformation the page cannot draw the way Grafana does is
an error when the page loads the dashboards (and in the tests), never a panel drawn wrong.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

DASHBOARDS: Final = Path(__file__).resolve().parents[3] / "dashboards" / "influxdb"
PANEL_TYPES: Final = ("timeseries", "table")
TRANSFORMATIONS: Final = ("groupBy",)
_RELATIVE = re.compile(r"^now(?:-(?P<amount>\d+)(?P<unit>[smhd]))?$")
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_DURATION = re.compile(r"^(?P<amount>\d+)(?P<unit>[smhd])$")

ResultFormat = Literal["time_series", "table"]


class DashboardError(ValueError):
    """A dashboard uses something the local page does not draw the way Grafana does."""


@dataclass(frozen=True)
class InfluxTarget:
    ref_id: str
    query: str  # raw InfluxQL, with Grafana's variables and macros
    result_format: ResultFormat
    hidden: bool


@dataclass(frozen=True)
class MathTarget:
    ref_id: str
    expression: str  # Grafana server-side expression, type math: e.g. "$B / $A"
    alias: str | None


Target = InfluxTarget | MathTarget


@dataclass(frozen=True)
class GridPos:
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class Panel:
    id: int
    title: str
    type: str  # timeseries | table
    grid: GridPos
    unit: str | None
    targets: tuple[Target, ...]
    transformations: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Variable:
    name: str
    label: str
    query: str  # InfluxQL that lists its values (SHOW TAG VALUES ...)
    multi: bool
    include_all: bool
    all_value: str | None  # Grafana's "custom all value"


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    file_name: str
    panels: tuple[Panel, ...]
    variables: tuple[Variable, ...]  # the query variables, in the order Grafana shows them
    time_from: str  # e.g. now-1h
    time_to: str
    refresh_seconds: int


def relative_time(text: str, now_ms: int) -> int:
    match = _RELATIVE.match(text)
    if match is None:
        raise DashboardError(f"time {text!r}: the page reads now and now-<n><s|m|h|d> only")
    return now_ms - (int(match["amount"]) * _UNIT_MS[match["unit"]] if match["amount"] else 0)


def duration_seconds(text: str) -> int:
    match = _DURATION.match(text)
    if match is None:
        raise DashboardError(f"refresh {text!r}: the page reads <n><s|m|h|d> only")
    return int(match["amount"]) * _UNIT_MS[match["unit"]] // 1_000


def _target(panel_title: str, target: dict[str, Any]) -> Target:
    kind = target["datasource"]["type"]
    if kind == "influxdb":
        if not target.get("rawQuery"):
            raise DashboardError(f"{panel_title} {target['refId']}: only raw InfluxQL targets are read")
        return InfluxTarget(target["refId"], target["query"], target.get("resultFormat", "time_series"),
                            bool(target.get("hide")))  # fmt: skip
    if kind == "__expr__" and target.get("type") == "math":
        return MathTarget(target["refId"], target["expression"], target.get("alias"))
    raise DashboardError(f"{panel_title} {target['refId']}: a {kind} target is not drawn by the page")


def _panel(panel: dict[str, Any]) -> Panel:
    title = panel["title"]
    if panel["type"] not in PANEL_TYPES:
        raise DashboardError(f"{title}: a {panel['type']} panel is not drawn by the page")
    for transformation in panel.get("transformations", []):
        if transformation["id"] not in TRANSFORMATIONS:
            raise DashboardError(f"{title}: transformation {transformation['id']} is not applied by the page")
    return Panel(
        id=panel["id"],
        title=title,
        type=panel["type"],
        grid=GridPos(**panel["gridPos"]),
        unit=panel.get("fieldConfig", {}).get("defaults", {}).get("unit"),
        targets=tuple(_target(title, t) for t in panel["targets"]),
        transformations=tuple(panel.get("transformations", [])),
    )


def _variables(model: dict[str, Any]) -> tuple[Variable, ...]:
    variables = []
    for variable in model["templating"]["list"]:
        if variable["type"] == "datasource":
            continue  # the page's datasource picker: the run's databases
        if variable["type"] != "query":
            raise DashboardError(f"variable {variable['name']}: a {variable['type']} variable is not read")
        variables.append(Variable(variable["name"], variable.get("label", variable["name"]), variable["query"],
                                  bool(variable.get("multi")), bool(variable.get("includeAll")),
                                  variable.get("allValue")))  # fmt: skip
    return tuple(variables)


def load_dashboard(path: Path) -> Dashboard:
    model = json.loads(path.read_text())
    return Dashboard(
        uid=model["uid"],
        title=model["title"],
        file_name=path.name,
        panels=tuple(_panel(p) for p in model["panels"]),
        variables=_variables(model),
        time_from=model["time"]["from"],
        time_to=model["time"]["to"],
        refresh_seconds=duration_seconds(model.get("refresh", "10s")),
    )


def load_dashboards(folder: Path = DASHBOARDS) -> tuple[Dashboard, ...]:
    """Every InfluxDB dashboard the program gives Grafana, in file order."""
    return tuple(load_dashboard(path) for path in sorted(folder.glob("*.json")))
