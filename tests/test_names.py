"""One owner for names: the local pipeline's resources are named exactly as the program names them."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from runtime.local.resources import names
from runtime.names import RegionNames, region_code
from runtime.stack import Settings
from tests.graph import (
    BUCKET,
    CODE_FOLDERS,
    DATABASE,
    FIREHOSE,
    INFLUX_INSTANCE,
    ROOT,
    STREAM,
    TABLE,
    Graph,
    python_files,
)


def test_the_local_pipeline_creates_every_resource_with_the_programs_name(graph: Graph, settings: Settings) -> None:
    for region in settings.regions:
        local = names(settings, region)
        assert sorted(local.streams.values()) == sorted(r.inputs["name"] for r in graph.in_region(STREAM, region.name))
        program_buckets = {r.inputs["bucket"] for r in graph.in_region(BUCKET, region.name)}
        assert set(local.buckets.values()) <= program_buckets
        assert sorted([*local.deliveries.values(), local.failed_events_delivery]) == sorted(
            r.inputs["name"] for r in graph.in_region(FIREHOSE, region.name)
        )
        if settings.session_store.engine == "influxdb":
            # The local InfluxDB's database is the instance's bucket, which its v1 API names as a database.
            [instance] = graph.in_region(INFLUX_INSTANCE, region.name)
            assert instance.inputs["bucket"] == local.database
            continue
        assert [r.inputs["databaseName"] for r in graph.in_region(DATABASE, region.name)] == [local.database]
        assert [(r.inputs["databaseName"], r.inputs["tableName"]) for r in graph.in_region(TABLE, region.name)] == [
            (local.database, local.table)
        ]


def test_the_operator_commands_name_the_programs_flink_applications(graph: Graph, settings: Settings) -> None:
    from runtime.ops import flink_applications

    program = sorted(r.inputs["name"] for r in graph.of_type("aws:kinesisanalyticsv2/application:Application"))
    assert sorted(app.name for app in flink_applications(settings, "123456789012")) == program


@pytest.mark.parametrize(
    ("region", "code"), [("us-east-1", "use1"), ("us-west-2", "usw2"), ("eu-central-1", "euc1"),
                         ("ap-southeast-2", "apse2"), ("us-gov-west-1", "usgw1")],
)  # fmt: skip
def test_region_codes_are_short_and_readable(region: str, code: str) -> None:
    assert region_code(region) == code


def test_a_name_past_the_services_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="breaks S3's rule"):
        RegionNames("dev", "us-east-1").bucket("x" * 40, "123456789012")


def _strings_in_code(path: Path) -> list[str]:
    """String constants of a module's code, docstrings aside."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


SOURCES = python_files(*CODE_FOLDERS)
INGEST_OWNER = ROOT / "runtime" / "ingest" / "settings.py"
SESSIONIZER_OWNER = ROOT / "runtime" / "sessionizer" / "config.py"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_configuration_keys_are_spelled_only_by_their_owner(path: Path) -> None:
    from runtime.sessionizer.config import ENV_PREFIX, KEYS

    dotted_keys = {key for key in KEYS.values() if "." in key}
    strings = _strings_in_code(path)
    if path != INGEST_OWNER:
        assert not [s for s in strings if re.search(r"INGEST_[A-Z]", s)], "ask runtime/ingest/settings.py"
    if path != SESSIONIZER_OWNER:
        assert not [s for s in strings if s in dotted_keys or s.startswith(ENV_PREFIX)], (
            "ask runtime/sessionizer/config.py"
        )
