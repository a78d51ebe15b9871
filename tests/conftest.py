from __future__ import annotations

from collections.abc import Iterator

import pytest

from runtime.local.kinesis_mock import KinesisMock, start_kinesis_mock
from runtime.local.moto_server import MotoServer, start_moto_server
from runtime.stack import Settings, from_stack_file
from tests.graph import ROOT, STACKS, Graph, stack_graph

# PyFlink cannot live beside pulumi: `make test` runs tests/flink in .venv-sessionizer.
collect_ignore = ["flink"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test of the program under mocks (tests/components, or the graph fixture) reads the
    application zips `make test` builds first."""
    components = ROOT / "tests" / "components"
    for item in items:
        if "graph" in getattr(item, "fixturenames", ()) or item.path.is_relative_to(components):
            item.add_marker(pytest.mark.built)


@pytest.fixture(params=STACKS, scope="session")
def stack(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def graph(stack: str) -> Graph:
    """The program run under mocks for one stack; every infra test uses it. Run once per stack."""
    return stack_graph(stack)


@pytest.fixture(scope="session")
def settings(stack: str) -> Settings:
    return from_stack_file(ROOT / f"Pulumi.{stack}.yaml")


@pytest.fixture(scope="session")
def kinesis_mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KinesisMock]:
    """kinesis-mock on a free loopback port for the whole test session, stopped by pid."""
    mock = start_kinesis_mock(ROOT / ".local" / "kinesis-mock", tmp_path_factory.mktemp("kinesis-mock-logs"))
    try:
        yield mock
    finally:
        mock.stop()


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """moto server on a free loopback port for the whole test session, stopped by pid."""
    server = start_moto_server(tmp_path_factory.mktemp("moto-logs"))
    try:
        yield server
    finally:
        server.stop()
