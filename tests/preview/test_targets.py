"""The first-deploy targets: the repositories, and everything the engine needs to create them first."""

from __future__ import annotations

import pytest

from preview.targets import implicitly_targeted, main, needs, with_dependencies
from tests.graph import STACKS, stack_graph

# The program under mocks reads the built application zips (make test builds them).
pytestmark = pytest.mark.built

REPOSITORY = "aws:ecr/repository:Repository"


@pytest.mark.parametrize("stack", STACKS)
def test_the_targets_are_closed_under_parents_dependencies_and_providers(stack: str) -> None:
    """A targeted up refuses a create that needs a create it skips: every need is a target or implicit."""
    graph = stack_graph(stack)
    targets = set(with_dependencies(graph, {REPOSITORY}))
    by_urn = {r.urn: r for r in graph.resources}
    for urn in targets:
        for need in needs(by_urn[urn]):
            assert need in targets or implicitly_targeted(need), f"{urn} needs {need}, which is not targeted"
            if need in by_urn and implicitly_targeted(need):  # a provider: its own needs are targets too
                assert all(n in targets or implicitly_targeted(n) for n in needs(by_urn[need])), need


@pytest.mark.parametrize("stack", STACKS)
def test_the_repositories_come_with_their_keys_and_the_components_they_sit_in(stack: str) -> None:
    graph = stack_graph(stack)
    targets = set(with_dependencies(graph, {REPOSITORY}))
    repositories = graph.of_type(REPOSITORY)
    keys = {r.property_dependencies["encryptionConfigurations"][0] for r in repositories}
    components = {graph.by_urn(urn).parent for urn in {r.urn for r in repositories} | keys}
    assert targets == {r.urn for r in repositories} | keys | components
    assert {graph.by_urn(urn).type for urn in keys} == {"aws:kms/key:Key"}
    assert {graph.by_urn(urn).type for urn in components} == {
        "prism:ingest:IngestService",
        "prism:encryption:RegionKey",
    }
    assert not any(implicitly_targeted(urn) for urn in targets)


def test_a_type_the_stack_lacks_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--stack", "dev", "aws:nothing/like:This"]) == 2
    assert "no resource of type aws:nothing/like:This" in capsys.readouterr().err
