from __future__ import annotations

import pytest

from components.settings import Settings, from_stack_file
from tests.graph import ROOT, STACKS, Graph, load_graph

_graphs: dict[str, Graph] = {}


@pytest.fixture(params=STACKS, scope="session")
def stack(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def graph(stack: str) -> Graph:
    """The program run under mocks for one stack; every infra test uses it. Run once per stack."""
    if stack not in _graphs:
        _graphs[stack] = load_graph(stack)
    return _graphs[stack]


@pytest.fixture(scope="session")
def settings(stack: str) -> Settings:
    return from_stack_file(ROOT / f"Pulumi.{stack}.yaml")
