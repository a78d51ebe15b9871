"""Writes the Grafana dashboards of dashboards/ from one description: `python -m dashboards.build`.

The JSON files are what is imported into the workspace (docs/session-store.md); this script is how
they are changed. Each panel is described once (a Figure) and written for each session
store engine: dashboards/liveanalytics/ in Timestream SQL (timestream.py), and
dashboards/influxdb/ in InfluxQL (influxql.py), so both show the same figures with the
same filters.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dashboards import influxql, timestream
from dashboards.figures import Dimension, Figure
from runtime.session_writer.settings import ENGINES, Engine

HERE = Path(__file__).resolve().parent
LANGUAGES = {"liveanalytics": timestream, "influxdb": influxql}
# The table of every session's newest row; the local pipeline's self-check runs its query.
SESSIONS_DASHBOARD = "sessions-breakdown.json"
SESSIONS_PANEL = "Sessions: the newest row of each"
SESSIONS_PANEL_ID = 20


def panel(engine: Engine, panel_id: int, title: str, kind: str, figure: Figure, grid: tuple[int, int, int, int],
          unit: str = "short") -> dict[str, Any]:  # fmt: skip
    language = LANGUAGES[engine]
    targets, transformations = language.targets(figure)
    x, y, w, h = grid
    return {
        "id": panel_id,
        "title": title,
        "type": kind,
        "datasource": language.DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": targets,
        "transformations": transformations,
    }


def dashboard(engine: Engine, uid: str, title: str, panels: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "tags": ["prism", "sessions", engine],
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "timezone": "utc",
        "time": {"from": "now-1h", "to": "now"},
        "refresh": "10s",
        "templating": {"list": LANGUAGES[engine].templating()},
        "panels": panels,
    }


def live_sessions(engine: Engine) -> dict[str, Any]:
    return dashboard(
        engine,
        "prism-live-sessions",
        "prism: live sessions",
        [
            panel(engine, 1, "Concurrent plays (per minute)", "timeseries", Figure("concurrent_plays"), (0, 0, 12, 8)),
            panel(engine, 2, "Starts per minute", "timeseries", Figure("starts"), (12, 0, 12, 8)),
            panel(engine, 3, "Startup time p50 / p95", "timeseries", Figure("startup"), (0, 8, 12, 8), "ms"),
            panel(engine, 4, "Rebuffer ratio", "timeseries", Figure("rebuffer_ratio"), (12, 8, 12, 8), "percentunit"),
            panel(
                engine,
                5,
                "EBVS, VSF and playback failure rates (ended sessions)",
                "timeseries",
                Figure("exits_and_failures"),
                (0, 16, 12, 8),
                "percentunit",
            ),
            panel(engine, 6, "Failed sessions by last error code", "table", Figure("errors_by_code"), (12, 16, 12, 8)),
        ],
    )


def breakdown(engine: Engine) -> dict[str, Any]:
    panels = []
    breakdowns: tuple[tuple[Dimension, str], ...] = (
        ("region", "region"), ("content_id", "content"), ("device_type", "device")
    )  # fmt: skip
    for row, (dimension, label) in enumerate(breakdowns):
        panels.append(panel(engine, 10 + 2 * row, f"Concurrent plays by {label}", "timeseries",
                            Figure("concurrent_plays", dimension), (0, 8 * row, 12, 8)))  # fmt: skip
        panels.append(panel(engine, 11 + 2 * row, f"Startup and rebuffering by {label}", "table",
                            Figure("rebuffer", dimension), (12, 8 * row, 12, 8)))  # fmt: skip
    panels.append(panel(engine, SESSIONS_PANEL_ID, SESSIONS_PANEL, "table", Figure("sessions"),
                        (0, 8 * len(breakdowns), 24, 10)))  # fmt: skip
    return dashboard(engine, "prism-sessions-breakdown", "prism: sessions by region, content and device", panels)


BUILDS: dict[str, Callable[[Engine], dict[str, Any]]] = {
    "live-sessions.json": live_sessions,
    SESSIONS_DASHBOARD: breakdown,
}
# Path under dashboards/ -> (engine, the dashboard's build).
DASHBOARDS: dict[str, tuple[Engine, Callable[[Engine], dict[str, Any]]]] = {
    f"{engine}/{name}": (engine, build) for engine in ENGINES for name, build in BUILDS.items()
}


def main() -> None:
    for path, (engine, build) in DASHBOARDS.items():
        target = HERE / path
        target.parent.mkdir(exist_ok=True)
        target.write_text(json.dumps(build(engine), indent=2) + "\n")
        print(target)


if __name__ == "__main__":
    main()
