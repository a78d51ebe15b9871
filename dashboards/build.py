"""Writes the Grafana dashboards of dashboards/ from one description: `python -m dashboards.build`.

The JSON files are what is imported into the workspace (README); this script is how
they are changed, so every panel has the same data source, variables and filters.
Queries are Timestream SQL over the session writer's table: one multi-measure row per
session record (measure name ``session``), columns named as in
runtime/session_writer/records.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
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
  SELECT session_id, bin(time, 1m) AS minute, MAX_BY(state, time) AS state,
         MAX(startup_ms) AS startup_ms, MAX(playing_ms) AS playing_ms, MAX(rebuffer_ms) AS rebuffer_ms
  FROM {TABLE}
  WHERE {FILTERS}
  GROUP BY session_id, bin(time, 1m)
)"""

CONCURRENT_PLAYS = f"""{LATEST_PER_SESSION_MINUTE}
SELECT minute AS time, COUNT(*) AS concurrent_plays
FROM per_session WHERE state IN ('playing', 'buffering')
GROUP BY minute ORDER BY minute"""

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


def by(dimension: str) -> str:
    """Concurrent plays per minute, one series per value of a dimension."""
    return f"""WITH per_session AS (
  SELECT session_id, {dimension}, bin(time, 1m) AS minute, MAX_BY(state, time) AS state
  FROM {TABLE}
  WHERE {FILTERS}
  GROUP BY session_id, {dimension}, bin(time, 1m)
)
SELECT minute AS time, {dimension}, COUNT(*) AS concurrent_plays
FROM per_session WHERE state IN ('playing', 'buffering')
GROUP BY minute, {dimension} ORDER BY minute"""


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


def variable(name: str, label: str) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"rawQuery": f"SELECT DISTINCT {name} FROM {TABLE} WHERE time > ago(1h) ORDER BY {name}"},
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "current": {"text": "All", "value": "$__all"},
    }


def templating() -> dict[str, Any]:
    return {
        "list": [
            {
                "name": "datasource",
                "label": "Timestream",
                "type": "datasource",
                "query": "grafana-timestream-datasource",
            },
            {
                "name": "database",
                "label": "Sessions database (region)",
                "type": "query",
                "datasource": DATASOURCE,
                "query": {"rawQuery": "SHOW DATABASES LIKE 'prism-%-sessions'"},
                "refresh": 1,
            },
            variable("environment", "Environment"),
            variable("region", "Region"),
            variable("content_id", "Content"),
            variable("device_type", "Device"),
        ]
    }


def panel(
    panel_id: int, title: str, kind: str, query: str, grid: tuple[int, int, int, int], unit: str = "short"
) -> dict[str, Any]:
    x, y, w, h = grid
    return {
        "id": panel_id,
        "title": title,
        "type": kind,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [{"refId": "A", "datasource": DATASOURCE, "rawQuery": query, "format": 1}],
    }


def dashboard(uid: str, title: str, panels: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "tags": ["prism", "sessions"],
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "timezone": "utc",
        "time": {"from": "now-1h", "to": "now"},
        "refresh": "10s",
        "templating": templating(),
        "panels": panels,
    }


def live_sessions() -> dict[str, Any]:
    return dashboard(
        "prism-live-sessions",
        "prism: live sessions",
        [
            panel(1, "Concurrent plays (per minute)", "timeseries", CONCURRENT_PLAYS, (0, 0, 12, 8)),
            panel(2, "Starts per minute", "timeseries", STARTS, (12, 0, 12, 8)),
            panel(3, "Startup time p50 / p95", "timeseries", STARTUP, (0, 8, 12, 8), "ms"),
            panel(4, "Rebuffer ratio", "timeseries", REBUFFER_RATIO, (12, 8, 12, 8), "percentunit"),
            panel(
                5,
                "EBVS, VSF and playback failure rates (ended sessions)",
                "timeseries",
                EXITS_AND_FAILURES,
                (0, 16, 12, 8),
                "percentunit",
            ),
            panel(6, "Failed sessions by last error code", "table", ERRORS_BY_CODE, (12, 16, 12, 8)),
        ],
    )


def breakdown() -> dict[str, Any]:
    panels = []
    for row, (dimension, label) in enumerate(
        (("region", "region"), ("content_id", "content"), ("device_type", "device"))
    ):
        panels.append(
            panel(10 + 2 * row, f"Concurrent plays by {label}", "timeseries", by(dimension), (0, 8 * row, 12, 8))
        )
        panels.append(panel(11 + 2 * row, f"Startup and rebuffering by {label}", "table", rebuffer_by(dimension),
                            (12, 8 * row, 12, 8)))  # fmt: skip
    return dashboard("prism-sessions-breakdown", "prism: sessions by region, content and device", panels)


DASHBOARDS = {"live-sessions.json": live_sessions, "sessions-breakdown.json": breakdown}


def main() -> None:
    for file_name, build in DASHBOARDS.items():
        (HERE / file_name).write_text(json.dumps(build(), indent=2) + "\n")
        print(HERE / file_name)


if __name__ == "__main__":
    main()
