"""One panel computed as Grafana computes it: each InfluxQL target sent as Grafana sends it, the math
expressions over their series, the transformations over the table; what a hidden target gives is
used by the expressions and not drawn."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runtime.local.dashboard.frames import Series, Table, math, series_of, table_of, transform
from runtime.local.dashboard.grafana import Dashboard, DashboardError, InfluxTarget, MathTarget, Panel
from runtime.local.dashboard.templating import interpolate, variable_value
from runtime.local.influxdb import InfluxQueryError

# (InfluxQL, database) -> the series of its answer (InfluxServer.query)
Query = Callable[[str, str], list[dict[str, Any]]]


@dataclass(frozen=True)
class PanelData:
    panel: Panel
    queries: tuple[str, ...]  # what was sent, in target order: the page shows it under the panel
    series: tuple[Series, ...] = ()  # a timeseries panel's
    table: Table | None = None  # a table panel's
    error: str | None = None  # InfluxDB's or the page's, instead of data
    refs: Mapping[str, Sequence[Series]] = field(default_factory=dict)  # every target's series, hidden ones too

    @property
    def has_data(self) -> bool:
        if self.table is not None:
            return bool(self.table.rows)
        return any(v is not None for s in self.series for v in s.values)


@dataclass
class Choice:
    """What the page's filters say: the database (Grafana's datasource) and each variable's values."""

    database: str
    chosen: Mapping[str, Sequence[str]] = field(default_factory=dict)  # variable -> values ($__all: All)


def variable_options(dashboard: Dashboard, query: Query, database: str) -> dict[str, list[str]]:
    """Each variable's values, by its own query (SHOW TAG VALUES ...) against the database."""
    options = {}
    for variable in dashboard.variables:
        values = {str(row[1]) for s in query(variable.query, database) for row in s["values"]}
        options[variable.name] = sorted(values)
    return options


def compute_panel(panel: Panel, dashboard: Dashboard, query: Query, choice: Choice, options: Mapping[str, list[str]],
                  start_ms: int, end_ms: int) -> PanelData:  # fmt: skip
    values = {v.name: variable_value(v, choice.chosen.get(v.name, ()), options.get(v.name, ()))
              for v in dashboard.variables}  # fmt: skip
    refs: dict[str, list[Series]] = {}
    tables: list[Table] = []
    sent: list[str] = []
    try:
        for target in panel.targets:
            if isinstance(target, InfluxTarget):
                statement = interpolate(target.query, values, start_ms, end_ms)
                sent.append(statement)
                answer = query(statement, choice.database)
                if panel.type == "table":
                    tables.append(table_of(answer))
                else:
                    refs[target.ref_id] = series_of(answer)
        for target in panel.targets:
            if isinstance(target, MathTarget):
                refs[target.ref_id] = math(target.expression, refs, target.alias or target.ref_id)
    except (DashboardError, InfluxQueryError, OSError) as error:
        return PanelData(panel, tuple(sent), error=str(error))
    if panel.type == "table":
        if len(tables) != 1:
            return PanelData(panel, tuple(sent), error=f"{len(tables)} table targets: the page draws one")
        return PanelData(panel, tuple(sent), table=transform(tables[0], panel.transformations))
    drawn = [s for t in panel.targets if not (isinstance(t, InfluxTarget) and t.hidden) for s in refs[t.ref_id]]
    return PanelData(panel, tuple(sent), series=tuple(drawn), refs=refs)
