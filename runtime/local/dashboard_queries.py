"""The dashboards' InfluxQL queries as Grafana sends them, with every filter value chosen, for the
local pipeline's read-back of the sessions and the tests.

Read from the dashboard files themselves (dashboards/influxdb/*.json, what Grafana gets) and
substituted by the dashboard page's own Grafana rules (dashboard/grafana.py, dashboard/templating.py):
"All" is each variable's custom all value.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.local.dashboard.grafana import DASHBOARDS, Dashboard, InfluxTarget, load_dashboard
from runtime.local.dashboard.templating import ALL, interpolate, variable_value


@dataclass(frozen=True)
class DashboardQueries:
    dashboard: Dashboard

    @classmethod
    def load(cls, file_name: str) -> DashboardQueries:
        return cls(load_dashboard(DASHBOARDS / file_name))

    @property
    def panels(self) -> dict[str, dict[str, str]]:
        """Panel title -> refId -> InfluxQL, as the dashboard file has it."""
        return {panel.title: {t.ref_id: t.query for t in panel.targets if isinstance(t, InfluxTarget)}
                for panel in self.dashboard.panels}  # fmt: skip

    def query(self, title: str, start_ms: int, end_ms: int, ref: str = "A") -> str:
        """The panel's query over [start, end], every filter value chosen."""
        values = {v.name: variable_value(v, [ALL], ()) for v in self.dashboard.variables}
        return interpolate(self.panels[title][ref], values, start_ms, end_ms)
