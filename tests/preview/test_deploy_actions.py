"""The preflight's list of a deploy's IAM actions is what the program's resources call."""

from __future__ import annotations

import pytest

from preview.deploy_actions import ACTIONS_FILE, CREATE_ACTIONS, deploy_actions, file_text, program_graphs
from preview.graph import stack_graph

pytestmark = pytest.mark.built


def test_the_actions_file_is_what_the_program_declares() -> None:
    """`python -m preview.deploy_actions` rewrites it when this fails."""
    assert ACTIONS_FILE.read_text() == file_text(deploy_actions(program_graphs()))


def test_a_resource_type_without_its_actions_stops_the_writer() -> None:
    graph = stack_graph("dev")
    known = dict(CREATE_ACTIONS)
    try:
        del CREATE_ACTIONS["aws:kinesis/stream:Stream"]
        with pytest.raises(ValueError, match=r"no IAM actions known for \['aws:kinesis/stream:Stream'\]"):
            deploy_actions([graph])
    finally:
        CREATE_ACTIONS.clear()
        CREATE_ACTIONS.update(known)
