"""The Grafana dashboards: valid dashboard models whose queries use only what the session writer writes.

The InfluxQL ones are also run against a real InfluxDB: tests/session_writer/test_dashboard_queries.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dashboards.build import DASHBOARDS, HERE
from runtime.session_writer.records import DIMENSIONS, MEASURE_NAME, MEASURES
from runtime.session_writer.settings import ENGINES

WRITTEN = {*DIMENSIONS, *MEASURES, "time", "measure_name"}
SQL_WORDS = {
    "select", "from", "where", "and", "or", "in", "as", "group", "by", "order", "with", "count", "distinct", "bin",
    "max", "min", "sum", "avg", "max_by", "case", "when", "then", "else", "end", "is", "not", "null", "nullif",
    "cast", "double", "approx_percentile", "true", "false", "desc", "asc", "limit", "ago", "show", "databases",
    "like", "row_number", "over", "partition",
}  # fmt: skip


DATASOURCES = {"liveanalytics": "grafana-timestream-datasource", "influxdb": "influxdb"}


def dashboards(engine: str | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, (built_for, _) in DASHBOARDS.items():
        if engine in (None, built_for):
            yield path, json.loads((HERE / path).read_text())


def queries(model: dict[str, Any]) -> Iterator[str]:
    """The Timestream SQL of a dashboard: its panels' and its variables'."""
    for panel in model["panels"]:
        for target in panel["targets"]:
            yield target["rawQuery"]
    for variable in model["templating"]["list"]:
        if isinstance(variable.get("query"), dict):
            yield variable["query"]["rawQuery"]


def unknown_names(query: str) -> set[str]:
    """Identifiers of a query that are neither SQL, nor its own aliases, nor written by the session writer."""
    text = re.sub(r"'[^']*'", "''", query)  # string literals
    text = re.sub(r'"[^"]*"', "", text)  # quoted identifiers: "$database"."sessions"
    text = re.sub(r"\$\{[^}]*\}|\$\w+", "", text)  # Grafana variables and macros
    aliases = {m.lower() for m in re.findall(r"\b(\w+)\s+AS\s+\(", text, re.IGNORECASE)}  # CTE names
    aliases |= {m.lower() for m in re.findall(r"\bAS\s+(\w+)", text, re.IGNORECASE)}
    words = {w.lower() for w in re.findall(r"(?<![\w.])[A-Za-z_]\w*", text)}
    return words - SQL_WORDS - aliases - WRITTEN


@pytest.mark.parametrize("path", list(DASHBOARDS))
def test_the_files_are_what_the_build_writes(path: str) -> None:
    engine, build = DASHBOARDS[path]
    assert json.loads((HERE / path).read_text()) == build(engine), "run: python -m dashboards.build"


@pytest.mark.parametrize(("file_name", "model"), list(dashboards()))
def test_each_dashboard_is_a_grafana_model_with_a_datasource_and_a_query_per_panel(
    file_name: str, model: dict[str, Any]
) -> None:
    assert isinstance(model["schemaVersion"], int) and model["schemaVersion"] >= 36
    assert model["uid"] and model["title"] and model["panels"]
    assert len({panel["id"] for panel in model["panels"]}) == len(model["panels"])
    engine = file_name.split("/")[0]
    for panel in model["panels"]:
        assert panel["datasource"]["type"] == DATASOURCES[engine], panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            query = target.get("expression") if target["datasource"]["type"] == "__expr__" else target["rawQuery"]
            assert target["refId"] and query, panel["title"]
        assert set(panel["gridPos"]) == {"x", "y", "w", "h"}
    names = [v["name"] for v in model["templating"]["list"]]
    regions = ["database"] if engine == "liveanalytics" else []  # InfluxDB: one data source per region
    assert names == ["datasource", *regions, "environment", "region", "content_id", "device_type"]


def test_both_engines_have_the_same_dashboards_and_panels() -> None:
    by_engine = {engine: {p.split("/")[1]: m for p, m in dashboards(engine)} for engine in ENGINES}
    shapes = {engine: {name: [(p["id"], p["title"], p["type"], p["gridPos"]) for p in model["panels"]]
                       for name, model in models.items()} for engine, models in by_engine.items()}  # fmt: skip
    assert shapes["liveanalytics"] == shapes["influxdb"]


@pytest.mark.parametrize(("file_name", "model"), list(dashboards("liveanalytics")))
def test_queries_use_only_names_the_session_writer_writes(file_name: str, model: dict[str, Any]) -> None:
    for query in queries(model):
        assert unknown_names(query) == set(), query
    for panel in model["panels"]:  # rows of any other measure stay out of the figures
        assert f"measure_name = '{MEASURE_NAME}'" in panel["targets"][0]["rawQuery"], panel["title"]


def test_the_name_check_catches_a_misspelled_measure() -> None:
    assert unknown_names('SELECT bin(time, 1m) AS t, AVG(rebufer_ratio) FROM "$database"."sessions"') == {
        "rebufer_ratio"
    }


def test_dashboards_are_committed_next_to_their_build() -> None:
    assert {str(p.relative_to(HERE)) for p in Path(HERE).glob("**/*.json")} == set(DASHBOARDS)
