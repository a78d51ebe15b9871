"""The dashboards' figures in Timestream SQL, over the session writer's LiveAnalytics table.

One multi-measure row per session record (measure name ``session``), columns named as in
runtime/session_writer/records.py; the database is the dashboard's ``database`` variable
(one per region).
"""

from __future__ import annotations

from typing import Any

from dashboards.figures import Figure, filter_variable

DATASOURCE = {"type": "grafana-timestream-datasource", "uid": "${datasource}"}
TABLE = '"$database"."sessions"'
# Every panel honours the dashboard's filters.
FILTERS = (
    "$__timeFilter AND measure_name = 'session'"
    " AND environment IN (${environment:singlequote}) AND region IN (${region:singlequote})"
    " AND content_id IN (${content_id:singlequote}) AND device_type IN (${device_type:singlequote})"
)
# The newest record of each session within each minute: a session counts once per minute.
LATEST_PER_SESSION_MINUTE = f"""WITH per_session AS (
  SELECT session_id, bin(time, 1m) AS minute,
         MAX(startup_ms) AS startup_ms, MAX(playing_ms) AS playing_ms, MAX(rebuffer_ms) AS rebuffer_ms
  FROM {TABLE}
  WHERE {FILTERS}
  GROUP BY session_id, bin(time, 1m)
)"""

# Sessions seen playing (or buffering) in each minute: any of their rows of the minute says so,
# so a session that starts and ends within one minute still counts.
CONCURRENT_PLAYS = f"""WITH playing AS (
  SELECT DISTINCT session_id, bin(time, 1m) AS minute
  FROM {TABLE}
  WHERE {FILTERS} AND state IN ('playing', 'buffering')
)
SELECT minute AS time, COUNT(*) AS concurrent_plays
FROM playing GROUP BY minute ORDER BY minute"""

STARTS = f"""WITH starts AS (
  SELECT session_id, MIN(time) AS started
  FROM {TABLE}
  WHERE {FILTERS} AND startup_ms IS NOT NULL
  GROUP BY session_id
)
SELECT bin(started, 1m) AS time, COUNT(*) AS starts
FROM starts GROUP BY bin(started, 1m) ORDER BY time"""

STARTUP = f"""{LATEST_PER_SESSION_MINUTE}
SELECT minute AS time, approx_percentile(startup_ms, 0.5) AS startup_p50_ms,
       approx_percentile(startup_ms, 0.95) AS startup_p95_ms
FROM per_session WHERE startup_ms IS NOT NULL
GROUP BY minute ORDER BY minute"""

REBUFFER_RATIO = f"""{LATEST_PER_SESSION_MINUTE}
SELECT minute AS time,
       SUM(rebuffer_ms) / NULLIF(CAST(SUM(playing_ms) + SUM(rebuffer_ms) AS DOUBLE), 0) AS rebuffer_ratio
FROM per_session
GROUP BY minute ORDER BY minute"""

EXITS_AND_FAILURES = f"""SELECT bin(time, 1m) AS time,
       AVG(CASE WHEN ebvs THEN 1.0 ELSE 0.0 END) AS ebvs_rate,
       AVG(CASE WHEN vsf THEN 1.0 ELSE 0.0 END) AS vsf_rate,
       AVG(CASE WHEN playback_failure THEN 1.0 ELSE 0.0 END) AS playback_failure_rate
FROM {TABLE}
WHERE {FILTERS} AND final = true
GROUP BY bin(time, 1m) ORDER BY time"""

ERRORS_BY_CODE = f"""SELECT last_error_code, COUNT(DISTINCT session_id) AS sessions
FROM {TABLE}
WHERE {FILTERS} AND final = true AND playback_failure = true
GROUP BY last_error_code ORDER BY sessions DESC LIMIT 20"""

# Each session's newest row (its highest version: what the table keeps per time), every column.
SESSIONS = f"""SELECT * FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY session_id ORDER BY time DESC) AS newest
  FROM {TABLE}
  WHERE {FILTERS}
) WHERE newest = 1 ORDER BY time DESC LIMIT 1000"""


def by(dimension: str) -> str:
    """Concurrent plays per minute, one series per value of a dimension."""
    return f"""WITH playing AS (
  SELECT DISTINCT session_id, {dimension}, bin(time, 1m) AS minute
  FROM {TABLE}
  WHERE {FILTERS} AND state IN ('playing', 'buffering')
)
SELECT minute AS time, {dimension}, COUNT(*) AS concurrent_plays
FROM playing GROUP BY minute, {dimension} ORDER BY minute"""


def rebuffer_by(dimension: str) -> str:
    return f"""WITH per_session AS (
  SELECT session_id, {dimension}, MAX(playing_ms) AS playing_ms, MAX(rebuffer_ms) AS rebuffer_ms,
         MAX(startup_ms) AS startup_ms
  FROM {TABLE}
  WHERE {FILTERS}
  GROUP BY session_id, {dimension}
)
SELECT {dimension}, COUNT(*) AS sessions, approx_percentile(startup_ms, 0.5) AS startup_p50_ms,
       SUM(rebuffer_ms) / NULLIF(CAST(SUM(playing_ms) + SUM(rebuffer_ms) AS DOUBLE), 0) AS rebuffer_ratio
FROM per_session
GROUP BY {dimension} ORDER BY sessions DESC LIMIT 50"""


def _variable(name: str, label: str) -> dict[str, Any]:
    return filter_variable(
        name,
        label,
        DATASOURCE,
        {"rawQuery": f"SELECT DISTINCT {name} FROM {TABLE} WHERE time > ago(1h) ORDER BY {name}"},
    )


def templating() -> list[dict[str, Any]]:
    return [
        {"name": "datasource", "label": "Timestream", "type": "datasource", "query": "grafana-timestream-datasource"},
        {
            "name": "database",
            "label": "Sessions database (region)",
            "type": "query",
            "datasource": DATASOURCE,
            "query": {"rawQuery": "SHOW DATABASES LIKE 'prism-%-sessions'"},
            "refresh": 1,
        },
        _variable("environment", "Environment"),
        _variable("region", "Region"),
        _variable("content_id", "Content"),
        _variable("device_type", "Device"),
    ]


def _query(figure: Figure) -> str:
    if figure.dimension is not None:
        return {"concurrent_plays": by, "rebuffer": rebuffer_by}[figure.name](figure.dimension)
    return {
        "concurrent_plays": CONCURRENT_PLAYS,
        "starts": STARTS,
        "startup": STARTUP,
        "rebuffer_ratio": REBUFFER_RATIO,
        "exits_and_failures": EXITS_AND_FAILURES,
        "errors_by_code": ERRORS_BY_CODE,
        "sessions": SESSIONS,
    }[figure.name]


def targets(figure: Figure) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The panel's queries and its transformations (none: SQL says it all)."""
    return [{"refId": "A", "datasource": DATASOURCE, "rawQuery": _query(figure), "format": 1}], []
