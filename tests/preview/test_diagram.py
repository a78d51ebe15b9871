"""The diagram is drawn from the program for every stack, along the data path the program wires."""

from __future__ import annotations

from pathlib import Path

import pytest

from preview.diagram import Key, draw, edges_of, label
from runtime.names import RegionNames
from runtime.stack import from_stack_file
from tests.graph import ROOT, STACKS

# The program under mocks reads the built application zips (make test builds them).
pytestmark = pytest.mark.built

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("stack", STACKS)
def test_the_command_draws_an_image_of_the_stack(stack: str, tmp_path: Path) -> None:
    output = draw(stack, tmp_path / "nested" / f"{stack}.png")
    assert output.read_bytes().startswith(PNG_MAGIC) and output.stat().st_size > 50_000


@pytest.mark.parametrize("stack", STACKS)
def test_the_arrows_follow_the_data_path_in_each_region(stack: str) -> None:
    settings = from_stack_file(ROOT / f"Pulumi.{stack}.yaml")
    edges = {(source, target) for source, target, _ in edges_of(stack)}
    accounts = "123456789012"  # the mocks' account
    for region in settings.regions:
        names = RegionNames(settings.environment, region.name)
        stream = {kind: ("stream", names.stream(kind)) for kind in ("raw", "session", "late")}
        bucket = {kind: ("bucket", names.bucket(kind, accounts)) for kind in ("raw", "session", "late")}
        application: Key = ("application", names.flink_application)
        writer: Key = ("function", names.session_writer_function)
        path = [
            (("alb", names.load_balancer), ("service", names.ingest_service)),
            (("service", names.ingest_service), stream["raw"]),
            (stream["raw"], application),
            (application, stream["session"]),
            (application, stream["late"]),
            (stream["session"], writer),
            (writer, ("database", names.sessions_database)),
        ]
        for kind in ("raw", "session", "late"):
            path += [
                (stream[kind], ("delivery", names.delivery(kind))),
                (("delivery", names.delivery(kind)), bucket[kind]),
            ]
        missing = [edge for edge in path if edge not in edges]
        assert missing == [], f"{region.name}: {missing}"
        assert any(source[0] == "accelerator" and target == ("alb", names.load_balancer) for source, target in edges)
    primary, secondary = (RegionNames(settings.environment, r.name) for r in settings.regions)
    for kind in ("raw", "session", "late"):
        there, back = ("bucket", primary.bucket(kind, accounts)), ("bucket", secondary.bucket(kind, accounts))
        assert {(there, back), (back, there)} <= edges, f"two-way replication of the {kind} buckets"


def test_the_replayer_is_drawn_from_its_source_to_its_targets() -> None:
    settings = from_stack_file(ROOT / "Pulumi.loadtest.yaml")
    assert settings.replay.source is not None
    edges = {(source, target) for source, target, _ in edges_of("loadtest")}
    replayer: Key = ("function", RegionNames("loadtest", settings.replay.source.region).replayer_function)
    rule = next(source for source, target in edges if target == replayer and source[0] == "rule")
    assert (("bucket", settings.replay.source.bucket), rule) in edges
    for target in settings.replay.targets:
        assert target.url is None
        assert (replayer, ("stream", RegionNames(target.environment, target.region).stream("raw"))) in edges


def test_labels_keep_the_whole_physical_name() -> None:
    assert label("prism-dev-use1-raw-to-s3") == "prism-dev-use1-\nraw-to-s3"
    assert label("prism-dev") == "prism-dev"


def test_the_readme_shows_the_dev_diagram() -> None:
    assert "![dev, drawn from the program](docs/architecture-dev.png)" in (ROOT / "README.md").read_text()
    assert (ROOT / "docs" / "architecture-dev.png").read_bytes().startswith(PNG_MAGIC)
