"""The page server without a run: its JSON from canned InfluxDB answers, the pipeline view from snapshots,
a 4xx naming what is wrong for a request it cannot answer, and the run's report page."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from runtime.local.dashboard.pipeline import PipelineHistory
from runtime.local.dashboard.server import NO_QUERY_STORE, DashboardApp, SessionsStore
from runtime.local.report_page import FIGURE_IDS, write_report
from runtime.local.snapshot import RegionSnapshot, Snapshot
from runtime.local.verify import ComparedSession, Report

DATABASE = "prism-dev-use1-sessions"
NOW_MS = 1_796_443_200_000


def canned_query(statement: str, database: str) -> list[dict[str, Any]]:
    """InfluxDB's answer to whatever the page sends: tag values, or one series of one point per value."""
    assert database == DATABASE
    if statement.startswith("SHOW TAG VALUES"):
        key = re.search(r'WITH KEY = "(\w+)"', statement)
        assert key is not None
        return [{"name": "sessions", "columns": ["key", "value"], "values": [[key[1], "a"], [key[1], "b"]]}]
    columns = re.findall(r'AS "(\w+)"', statement.split(" FROM ", 1)[0]) or ["last_error_code"]
    tags = {"session_id": "s1"} if 'GROUP BY "session_id"' in statement else {}
    return [
        {
            "name": "sessions",
            "tags": tags,
            "columns": ["time", *columns],
            "values": [[NOW_MS - 60_000, *[1] * len(columns)]],
        }
    ]


def snapshot(phase: str, acknowledged: int, faults: tuple[str, ...] = ()) -> Snapshot:
    region = RegionSnapshot("us-east-1", (("ingest", True),), (("raw", acknowledged), ("session", 1), ("late", 0)),
                            frozenset(), (), (100.0, 200.0), (300.0,), (("firehose-raw", 5),))  # fmt: skip
    return Snapshot("dev", phase, 10.0, 10.0, acknowledged, (), (region,), (), (), faults)


def app(store: SessionsStore | None, history: PipelineHistory | None = None) -> TestClient:
    history = history or PipelineHistory(None)
    return TestClient(DashboardApp(history, store, clock=lambda: NOW_MS / 1000).app)


def test_every_panel_is_answered_with_its_queries_and_grafana_shaped_data() -> None:
    client = app(SessionsStore(canned_query, [DATABASE]))
    layout = client.get("/api/dashboards").json()
    assert layout["store"] == "influxdb" and layout["databases"] == [DATABASE]
    for dashboard in layout["dashboards"]:
        uid = dashboard["uid"]
        assert client.get(f"/d/{uid}").status_code == 200
        options = client.get(f"/api/d/{uid}/variables").json()
        assert options == {v["name"]: ["a", "b"] for v in dashboard["variables"]}
        answer = client.get(f"/api/d/{uid}/panels", params={"var-region": ["a", "b"], "from": "now-5m"}).json()
        assert [p["id"] for p in answer["panels"]] == [p["id"] for p in dashboard["panels"]]
        for panel in answer["panels"]:
            assert panel["error"] is None and panel["has_data"], panel
            assert all("=~ /^(a|b)$/" in q for q in panel["queries"] if '"region" =~' in q)
            assert all(f"time >= {NOW_MS - 300_000}ms" in q for q in panel["queries"])


def test_a_request_the_page_cannot_answer_gets_a_4xx_that_says_why() -> None:
    client = app(SessionsStore(canned_query, [DATABASE]))
    uid = "prism-live-sessions"
    assert client.get("/d/nope").status_code == 404
    wrong = client.get(f"/api/d/{uid}/panels", params={"datasource": "other"})
    assert wrong.status_code == 400 and "not one of the run's databases" in wrong.json()["error"]
    unknown = client.get(f"/api/d/{uid}/panels", params={"var-planet": "mars"})
    assert unknown.status_code == 400 and "var-planet: not a filter" in unknown.json()["error"]
    when = client.get(f"/api/d/{uid}/panels", params={"from": "yesterday"})
    assert when.status_code == 400 and "now-<n>" in when.json()["error"]


def test_with_a_store_that_answers_no_query_the_page_says_so_and_serves_the_pipeline_view() -> None:
    client = app(None)
    layout = client.get("/api/dashboards").json()
    assert layout["store"] == "liveanalytics" and layout["note"] == NO_QUERY_STORE
    refused = client.get("/api/d/prism-live-sessions/panels")
    assert refused.status_code == 409 and "answers no query" in refused.json()["error"]
    assert client.get("/api/pipeline").status_code == 200
    assert client.get("/static/plotly.min.js").content.startswith(b"/**")


def test_the_pipeline_view_is_rates_between_samples_with_faults_and_phases_marked() -> None:
    snapshots = iter([snapshot("traffic 1 of 40 s", 10), snapshot("traffic 3 of 40 s", 30),
                      snapshot("draining", 30, ("kill sessionizer us-east-1 at 2 s (back at 5 s)",))])  # fmt: skip
    clock = iter([100.0, 102.0, 104.0])
    history = PipelineHistory(lambda: next(snapshots), clock=lambda: next(clock))
    for _ in range(3):
        history.sample()
    view = history.view()
    assert view["events_in"] == [10.0, 0.0] and view["times"] == [102_000, 104_000]
    assert view["lag_ms"] == {"firehose-raw (us-east-1)": [5, 5]}
    assert [(m["kind"], m["text"]) for m in view["marks"]] == [
        ("phase", "traffic"),
        ("phase", "draining"),
        ("fault", "kill sessionizer us-east-1 at 2 s (back at 5 s)"),
    ]
    restored = PipelineHistory.restore(json.loads(json.dumps(history.saved())))
    assert restored.view() == view


def test_the_report_page_holds_every_figure_and_fetches_nothing(tmp_path: Path) -> None:
    record = {"startupMs": 900, "updateTime": NOW_MS, "playingMs": 9_000, "rebufferMs": 1_000, "deviceType": "tv",
              "ebvs": False, "vsf": True}  # fmt: skip
    stored = {"startup_ms": ("900", "BIGINT"), "playing_ms": ("9000", "BIGINT"), "rebuffer_ms": ("1000", "BIGINT"),
              "vsf": ("true", "BOOLEAN")}  # fmt: skip
    compared = [ComparedSession("s1", record, stored)]
    report = Report(1, 1.0, 1, 0, 1, [], 0, 0, 0, [], 0, (0, 0), 0, 0, [], 1.0, 2.0, 3.0, 4.0, 0.0, True, [],
                    compared=compared, late_events=[(NOW_MS, "behind_watermark")])  # fmt: skip
    page = write_report(tmp_path, "a run", report, {"times": [NOW_MS], "events_in": [1.0], "streams": {"raw": [1.0]}},
                        [], [100.0], [300.0])  # fmt: skip
    text = page.read_text()
    assert all(f'id="{figure}"' in text for figure in FIGURE_IDS)
    assert "agrees with the ground truth" in text
    assert not re.search(r'<(script|link)[^>]*(src|href)="(https?:)?//', text)
