"""The first-deploy targets are the repositories and exactly what they are made from."""

from __future__ import annotations

import pytest

from preview.targets import main, with_dependencies
from tests.graph import STACKS, stack_graph

# The program under mocks reads the built application zips (make test builds them).
pytestmark = pytest.mark.built

REPOSITORY = "aws:ecr/repository:Repository"


@pytest.mark.parametrize("stack", STACKS)
def test_the_repositories_come_with_the_keys_that_encrypt_them(stack: str) -> None:
    graph = stack_graph(stack)
    urns = with_dependencies(graph, {REPOSITORY})
    repositories = graph.of_type(REPOSITORY)
    keys = {r.property_dependencies["encryptionConfigurations"][0] for r in repositories}
    assert set(urns) == {r.urn for r in repositories} | keys
    assert all(graph.by_urn(key).type == "aws:kms/key:Key" for key in keys)


def test_a_type_the_stack_lacks_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--stack", "dev", "aws:nothing/like:This"]) == 2
    assert "no resource of type aws:nothing/like:This" in capsys.readouterr().err
