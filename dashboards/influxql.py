"""The dashboards' figures in InfluxQL, over the session writer's InfluxDB points.

One point per session record in the measurement ``sessions`` (records.py): the dimensions
are tags, the metrics typed fields; each session's start is a point in ``session_starts``.
Each region is a data source of its own (the ``datasource`` variable), as each region has
its own InfluxDB. InfluxQL has no CASE and cannot group by a field, so the exit rates are
counts divided by Grafana math expressions, and the error codes are grouped by a Grafana
transformation. An outer query's time windows are applied to its subquery too, so a
"first record of a session" cannot be found per window: starts have points of their own.
"""

from __future__ import annotations

from typing import Any

from dashboards.figures import Dimension, Figure, filter_variable
from runtime.session_writer.records import INFLUX_MEASUREMENT, INFLUX_STARTS_MEASUREMENT, INFLUX_VERSION_FIELD

DATASOURCE = {"type": "influxdb", "uid": "${datasource}"}
EXPRESSION = {"type": "__expr__", "uid": "__expr__"}
MEASUREMENT = f'"{INFLUX_MEASUREMENT}"'
VARIABLES = ("environment", "region", "content_id", "device_type")
# Every query honours the dashboard's filters (Grafana writes a multi-value variable as a regex).
FILTERS = "$timeFilter AND " + " AND ".join(f'"{name}" =~ /^${name}$/' for name in VARIABLES)


def _latest_per_session_minute(fields: str, dimension: Dimension | None = None, condition: str = "") -> str:
    """Each session's newest values within each minute (of its rows that meet the condition):
    a session counts once per minute."""
    group = 'time(1m), "session_id"' + (f", {_tag(dimension)}" if dimension else "")
    where = f"{FILTERS} AND {condition}" if condition else FILTERS
    return f"SELECT {fields} FROM {MEASUREMENT} WHERE {where} GROUP BY {group}"


def _tag(dimension: Dimension) -> str:
    return f'"{dimension}"'


_LAST_STATE = 'last("state") AS "state"'
PLAYING = "(\"state\" = 'playing' OR \"state\" = 'buffering')"


def concurrent_plays(dimension: Dimension | None = None) -> str:
    """Sessions seen playing (or buffering) in each minute: any of their rows of the minute says so,
    so a session that starts and ends within one minute still counts."""
    group = "time(1m)" + (f", {_tag(dimension)}" if dimension else "")
    inner = _latest_per_session_minute(_LAST_STATE, dimension, PLAYING)
    return f'SELECT count("state") AS "concurrent_plays" FROM ({inner}) WHERE $timeFilter GROUP BY {group}'


# Each session's start is a point of its own (records.py): no first-record search needed.
STARTS = f'SELECT count("startup_ms") AS "starts" FROM "{INFLUX_STARTS_MEASUREMENT}" WHERE {FILTERS} GROUP BY time(1m)'

_MAX_STARTUP = _latest_per_session_minute('max("startup_ms") AS "startup_ms"')
STARTUP = (
    'SELECT percentile("startup_ms", 50) AS "startup_p50_ms", percentile("startup_ms", 95) AS "startup_p95_ms" '
    f"FROM ({_MAX_STARTUP}) WHERE $timeFilter GROUP BY time(1m)"
)

_RATIO = 'sum("rebuffer_ms") / (sum("playing_ms") + sum("rebuffer_ms")) AS "rebuffer_ratio"'
_MAX_PLAYING = _latest_per_session_minute('max("playing_ms") AS "playing_ms", max("rebuffer_ms") AS "rebuffer_ms"')
REBUFFER_RATIO = f"SELECT {_RATIO} FROM ({_MAX_PLAYING}) WHERE $timeFilter GROUP BY time(1m)"


def _final_sessions(condition: str, alias: str) -> str:
    return (
        f'SELECT count("version") AS "{alias}" FROM {MEASUREMENT} '
        f'WHERE {FILTERS} AND "final" = true{condition} GROUP BY time(1m)'
    )


EXITS = {  # refId -> (query, what it counts)
    "A": _final_sessions("", "ended"),
    "B": _final_sessions(' AND "ebvs" = true', "ebvs"),
    "C": _final_sessions(' AND "vsf" = true', "vsf"),
    "D": _final_sessions(' AND "playback_failure" = true', "playback_failure"),
}
RATES = {"E": ("$B / $A", "ebvs_rate"), "F": ("$C / $A", "vsf_rate"), "G": ("$D / $A", "playback_failure_rate")}

ERRORS_BY_CODE = (
    f'SELECT "last_error_code" FROM {MEASUREMENT} '
    f'WHERE {FILTERS} AND "final" = true AND "playback_failure" = true GROUP BY "session_id"'
)

# Each session's newest row: max() is a selector, so the other columns are those of the
# highest version's point (the local pipeline's self-check reads the sessions back with this).
SESSIONS = (
    f'SELECT max("{INFLUX_VERSION_FIELD}") AS "{INFLUX_VERSION_FIELD}", * FROM {MEASUREMENT} '
    f'WHERE {FILTERS} GROUP BY "session_id"'
)


def rebuffer_by(dimension: Dimension) -> str:
    fields = 'max("playing_ms") AS "playing_ms", max("rebuffer_ms") AS "rebuffer_ms", max("startup_ms") AS "startup_ms"'
    per_session = f'SELECT {fields} FROM {MEASUREMENT} WHERE {FILTERS} GROUP BY "session_id", {_tag(dimension)}'
    return (
        f'SELECT count("playing_ms") AS "sessions", percentile("startup_ms", 50) AS "startup_p50_ms", {_RATIO} '
        f"FROM ({per_session}) WHERE $timeFilter GROUP BY {_tag(dimension)}"
    )


def _target(ref: str, query: str, result_format: str = "time_series") -> dict[str, Any]:
    return {"refId": ref, "datasource": DATASOURCE, "query": query, "rawQuery": True, "resultFormat": result_format}


def targets(figure: Figure) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The panel's queries (InfluxQL, and Grafana math over them) and its transformations."""
    if figure.name == "concurrent_plays":
        return [_target("A", concurrent_plays(figure.dimension))], []
    if figure.name == "rebuffer" and figure.dimension is not None:
        return [_target("A", rebuffer_by(figure.dimension), "table")], []
    if figure.name == "exits_and_failures":
        counts = [{**_target(ref, query), "hide": True} for ref, query in EXITS.items()]
        rates = [{"refId": ref, "datasource": EXPRESSION, "type": "math", "expression": expression, "alias": alias}
                 for ref, (expression, alias) in RATES.items()]  # fmt: skip
        return counts + rates, []
    if figure.name == "errors_by_code":
        group = {"id": "groupBy", "options": {"fields": {
            "last_error_code": {"operation": "groupby", "aggregations": []},
            "session_id": {"operation": "aggregate", "aggregations": ["distinctCount"]},
        }}}  # fmt: skip
        return [_target("A", ERRORS_BY_CODE, "table")], [group]
    if figure.name == "sessions":
        return [_target("A", SESSIONS, "table")], []
    return [_target("A", {"starts": STARTS, "startup": STARTUP, "rebuffer_ratio": REBUFFER_RATIO}[figure.name])], []


def _variable(name: str, label: str) -> dict[str, Any]:
    return filter_variable(
        name, label, DATASOURCE, f'SHOW TAG VALUES FROM {MEASUREMENT} WITH KEY = "{name}"', allValue=".*"
    )


def templating() -> list[dict[str, Any]]:
    return [
        {"name": "datasource", "label": "Sessions InfluxDB (region)", "type": "datasource", "query": "influxdb"},
        _variable("environment", "Environment"),
        _variable("region", "Region"),
        _variable("content_id", "Content"),
        _variable("device_type", "Device"),
    ]
