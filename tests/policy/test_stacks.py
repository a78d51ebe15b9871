"""Every stack, as the program builds it under mocks, passes every guardrail."""

from __future__ import annotations

import pytest

from policy.config import policy_config
from policy.offline import policy_resources, run_policies
from preview.graph import STACKS, stack_graph

# The program under mocks reads the built application zips (make test builds them).
pytestmark = pytest.mark.built


@pytest.mark.parametrize("stack", STACKS)
def test_the_stack_passes_every_policy(stack: str) -> None:
    violations = run_policies(stack_graph(stack), policy_config(stack))
    assert [str(v) for v in violations] == []


@pytest.mark.parametrize("stack", STACKS)
def test_the_policies_see_the_stacks_relations(stack: str) -> None:
    """The run is only as good as the links it follows: every bucket part names its bucket by dependency."""
    resources = policy_resources(stack_graph(stack))
    own_buckets = {r.props["bucket"] for r in resources if r.resource_type == "aws:s3/bucket:Bucket"}
    # Parts of this stack's buckets (the replayer's source bucket may be another stack's, named by text).
    parts = [
        r for r in resources
        if r.resource_type.startswith("aws:s3/bucket") and r.resource_type != "aws:s3/bucket:Bucket"
        and r.props.get("bucket") in own_buckets
    ]  # fmt: skip
    assert parts and all(r.property_dependencies.get("bucket") for r in parts)
    assert all(r.provider is not None for r in resources if r.resource_type.startswith("aws:"))


def test_the_stack_config_allows_http_only_where_the_stack_does() -> None:
    assert policy_config("dev")["alb-listeners-https"] == {"allowHttp": True}
    assert policy_config("slowprod")["alb-listeners-https"] == {"allowHttp": False}
    assert policy_config("slowprod")["stack-tags"]["tags"]["environment"] == "slowprod"
