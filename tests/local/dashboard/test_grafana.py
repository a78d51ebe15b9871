"""The dashboards as the page reads them, and Grafana's rules the page applies: every panel of the JSON is
on the page, variables and macros are substituted as Grafana's InfluxDB datasource substitutes them,
math expressions and the groupBy transformation compute what Grafana computes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dashboards.build import BUILDS
from runtime.local.dashboard.frames import Series, Table, group_by, math, series_of, table_of
from runtime.local.dashboard.grafana import DASHBOARDS, DashboardError, Variable, load_dashboard, load_dashboards
from runtime.local.dashboard.server import layout_json
from runtime.local.dashboard.templating import ALL, interpolate, variable_value

REGION = Variable("region", "Region", 'SHOW TAG VALUES FROM "sessions" WITH KEY = "region"', True, True, ".*")


def test_every_panel_of_every_influxdb_dashboard_is_on_the_page() -> None:
    dashboards = load_dashboards()
    assert sorted(d.file_name for d in dashboards) == sorted(BUILDS)
    for dashboard in dashboards:
        model = json.loads((DASHBOARDS / dashboard.file_name).read_text())
        layout = layout_json(dashboard)
        on_page = {(p["id"], p["title"], p["type"], p["unit"], tuple(p["grid"].values())) for p in layout["panels"]}
        in_json = {(p["id"], p["title"], p["type"], p["fieldConfig"]["defaults"].get("unit"),
                    tuple(p["gridPos"][k] for k in ("x", "y", "w", "h"))) for p in model["panels"]}  # fmt: skip
        assert on_page == in_json
        assert [v["name"] for v in layout["variables"]] == [
            v["name"] for v in model["templating"]["list"] if v["type"] == "query"
        ]


def test_a_panel_the_page_cannot_draw_as_grafana_does_fails_the_load(tmp_path: Path) -> None:
    model = json.loads((DASHBOARDS / next(iter(BUILDS))).read_text())
    model["panels"][0]["type"] = "piechart"
    (tmp_path / "x.json").write_text(json.dumps(model))
    with pytest.raises(DashboardError, match="a piechart panel is not drawn"):
        load_dashboard(tmp_path / "x.json")


def test_variables_are_substituted_as_grafanas_influxdb_datasource_does() -> None:
    assert variable_value(REGION, [ALL], ["us-east-1", "us-west-2"]) == ".*"
    assert variable_value(REGION, [], ["us-east-1"]) == ".*"
    assert variable_value(REGION, ["us-east-1"], []) == "us-east-1"
    assert variable_value(REGION, ["a.b", "c/d"], []) == "(a\\.b|c\\/d)"
    no_all = Variable("x", "X", "", True, True, None)
    assert variable_value(no_all, [ALL], ["p", "q"]) == "(p|q)"
    query = 'SELECT 1 FROM "s" WHERE $timeFilter AND "region" =~ /^$region$/ AND "x" =~ /^${x}$/ AND [[x]] = 1'
    assert interpolate(query, {"region": ".*", "x": "(p|q)"}, 1_000, 2_000) == (
        'SELECT 1 FROM "s" WHERE time >= 1000ms and time <= 2000ms AND "region" =~ /^.*$/ AND "x" =~ /^(p|q)$/ '
        "AND (p|q) = 1"
    )
    with pytest.raises(DashboardError, match=r"\$__interval is neither"):
        interpolate("GROUP BY time($__interval)", {}, 0, 1)


def test_influxdb_answers_become_grafanas_frames() -> None:
    answer = [{"name": "sessions", "tags": {"region": "us-east-1"}, "columns": ["time", "plays", "starts"],
               "values": [[60_000, 3, None], [120_000, 4, 1]]}]  # fmt: skip
    [plays, starts] = series_of(answer)
    assert plays == Series("sessions.plays {region: us-east-1}", {"region": "us-east-1"}, (60_000, 120_000), (3.0, 4.0))
    assert starts.values == (None, 1.0)
    table = table_of(answer)
    assert table == Table(("time", "region", "plays", "starts"),
                          ((60_000, "us-east-1", 3, None), (120_000, "us-east-1", 4, 1)))  # fmt: skip


def test_math_is_point_by_point_at_common_times_and_a_zero_denominator_leaves_a_gap() -> None:
    ended = [Series("sessions.ended", {}, (1, 2, 3), (4.0, 0.0, 2.0))]
    ebvs = [Series("sessions.ebvs", {}, (1, 2), (1.0, 0.0))]
    [rate] = math("$B / $A", {"A": ended, "B": ebvs}, "ebvs_rate")
    assert rate == Series("ebvs_rate", {}, (1, 2), (0.25, None))
    [scaled] = math("100 * ${B}", {"B": ebvs}, "pct")
    assert scaled.values == (100.0, 0.0)
    with pytest.raises(DashboardError, match="no target C"):
        math("$C / $A", {"A": ended}, "x")


def test_group_by_reduces_as_grafana_names_it() -> None:
    table = Table(("time", "session_id", "last_error_code"),
                  ((1, "s1", "E1"), (2, "s1", "E1"), (3, "s2", "E1"), (4, "s3", "E2")))  # fmt: skip
    options = {"fields": {"last_error_code": {"operation": "groupby", "aggregations": []},
                          "session_id": {"operation": "aggregate", "aggregations": ["distinctCount"]}}}  # fmt: skip
    assert group_by(table, options) == Table(("last_error_code", "session_id (distinctCount)"),
                                             (("E1", 2), ("E2", 1)))  # fmt: skip
