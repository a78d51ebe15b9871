"""The pack's policies over a recorded resource graph, without the Pulumi CLI.

    python -m policy.offline --stack dev      # prints each violation; exit 1 if any

The engine hands a policy pack each resource's type, inputs (as proxies that refuse unknown
values), provider, parent and dependencies; this hands over the same from the graph the program
recorded under mocks (preview/graph.py), so the tests hold every stack to the same policies a
`pulumi preview --policy-pack policy` would.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    Policy,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from policy.config import policy_config
from policy.guardrails import POLICIES
from preview.graph import Graph, Resource, stack_graph


@dataclass(frozen=True)
class Violation:
    policy: str
    urn: str | None
    message: str

    def __str__(self) -> str:
        return f"[{self.policy}] {self.message}" + (f" ({self.urn})" if self.urn else "")


def _options(resource: Resource) -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], resource.parent or None)


def _provider_urn(reference: str) -> str:
    """A provider reference is "<urn>::<id>"."""
    return reference.rsplit("::", 1)[0] if reference else ""


def policy_resources(graph: Graph) -> list[PolicyResource]:
    """The graph's resources as a stack validation sees them, linked to each other."""
    by_urn: dict[str, PolicyResource] = {}
    providers: dict[str, PolicyProviderResource] = {}
    for resource in graph.resources:
        if resource.type.startswith("pulumi:providers:"):
            providers[resource.urn] = PolicyProviderResource(
                resource.type, unknown_checking_proxy(resource.inputs), resource.urn, resource.name
            )
    for resource in graph.resources:
        by_urn[resource.urn] = PolicyResource(
            resource.type,
            unknown_checking_proxy(resource.inputs),
            resource.urn,
            resource.name,
            _options(resource),
            providers.get(_provider_urn(resource.provider)),
            None,
            [],
            {},
        )
    for resource in graph.resources:
        linked = by_urn[resource.urn]
        linked.parent = by_urn.get(resource.parent)
        linked.dependencies = [by_urn[urn] for urn in resource.dependencies if urn in by_urn]
        linked.property_dependencies = {
            prop: [by_urn[urn] for urn in urns if urn in by_urn]
            for prop, urns in resource.property_dependencies.items()
        }
    return list(by_urn.values())


def run_policies(
    graph: Graph,
    config: Mapping[str, Mapping[str, Any]],
    policies: Sequence[Policy] = POLICIES,
) -> list[Violation]:
    resources = policy_resources(graph)
    violations: list[Violation] = []
    for policy in policies:
        policy_config = config.get(policy.name, {})

        def report(message: str, urn: str | None = None, name: str = policy.name) -> None:
            violations.append(Violation(name, urn, message))

        if isinstance(policy, StackValidationPolicy):
            policy.validate(StackValidationArgs(resources, policy_config), report)
            continue
        assert isinstance(policy, ResourceValidationPolicy)
        for resource in resources:
            args = ResourceValidationArgs(resource.resource_type, resource.props, resource.urn, resource.name,
                                          resource.opts, resource.provider, policy_config)  # fmt: skip

            def report_resource(message: str, urn: str | None = None, at: str = resource.urn) -> None:
                report(message, urn or at)

            try:
                policy.validate(args, report_resource)
            except UnknownValueError:
                continue  # as the engine does: the resource is not checked until its value is known
    return violations


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True)
    args = parser.parse_args(argv)
    violations = run_policies(stack_graph(args.stack), policy_config(args.stack))
    for violation in violations:
        print(violation)
    print(f"{args.stack}: {len(violations)} violation(s) of {len(POLICIES)} policies", file=sys.stderr)
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
