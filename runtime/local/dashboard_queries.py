"""The dashboards' InfluxQL queries as Grafana sends them, for the local pipeline and the tests.

Read from the dashboard files themselves (dashboards/influxdb/*.json, what Grafana gets),
with Grafana's ``$timeFilter`` macro and filter variables replaced as Grafana replaces them
with every value chosen ("All" is the variable's ``allValue``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"


@dataclass(frozen=True)
class DashboardQueries:
    all_values: dict[str, str]  # filter variable -> its "All" value
    panels: dict[str, dict[str, str]]  # panel title -> refId -> InfluxQL

    @classmethod
    def load(cls, file_name: str) -> DashboardQueries:
        model = json.loads((DASHBOARDS / "influxdb" / file_name).read_text())
        all_values = {v["name"]: v["allValue"] for v in model["templating"]["list"] if "allValue" in v}
        panels = {
            panel["title"]: {t["refId"]: t["query"] for t in panel["targets"] if t["datasource"]["type"] == "influxdb"}
            for panel in model["panels"]
        }
        return cls(all_values, panels)

    def query(self, title: str, start_ms: int, end_ms: int, ref: str = "A") -> str:
        """The panel's query over [start, end], every filter value chosen."""
        query = self.panels[title][ref].replace("$timeFilter", f"time >= {start_ms}ms AND time <= {end_ms}ms")
        return re.sub(r"\$(\w+)", lambda match: self.all_values[match.group(1)], query)
