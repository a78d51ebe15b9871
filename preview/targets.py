"""The URNs `pulumi up --target` needs to create some resources of a stack ahead of the rest.

    python -m preview.targets --stack dev aws:ecr/repository:Repository

The deploy workflow pushes the ingest image before `pulumi up` runs the service that pulls
it, so in a new account the repositories are created first. A targeted `up` skips every
create it was not asked for, and refuses a resource whose parent, dependency or
property dependency is such a skipped create ("untargeted create", the engine's step
generator); providers and the root stack are targeted implicitly, but a provider's own
parent is not. So the targets are closed under all of those: the repositories, the keys
that encrypt them, and the component resources they sit in. The URNs come from the
program itself, run under mocks (preview/graph.py), so they are exactly the ones
`pulumi up` registers.
"""

from __future__ import annotations

import argparse
import sys

from preview.graph import Graph, Resource, stack_graph

ROOT_STACK = "pulumi:pulumi:Stack"
PROVIDER_PREFIX = "pulumi:providers:"


def _provider_urn(reference: str) -> str:
    """A provider reference is its URN and its id, joined by '::'."""
    return reference.rsplit("::", 1)[0] if reference else ""


def implicitly_targeted(urn: str) -> bool:
    """The engine targets providers and the root stack whether or not --target names them."""
    kind = urn.split("::")[2].rsplit("$", 1)[-1]
    return kind == ROOT_STACK or kind.startswith(PROVIDER_PREFIX)


def needs(resource: Resource) -> list[str]:
    """What must exist before the engine creates this resource: parent, dependencies, provider."""
    return [
        *([resource.parent] if resource.parent else []),
        *resource.dependencies,
        *(urn for urns in resource.property_dependencies.values() for urn in urns),
        *([_provider_urn(resource.provider)] if resource.provider else []),
    ]


def with_dependencies(graph: Graph, types: set[str]) -> list[str]:
    """URNs of the resources of these types and of everything their creation needs, closed under needs()."""
    by_urn = {r.urn: r for r in graph.resources}
    wanted = [r.urn for r in graph.resources if r.type in types]
    if not wanted:
        raise ValueError(f"the stack has no resource of type {', '.join(sorted(types))}")
    seen: set[str] = set()
    while wanted:
        urn = wanted.pop()
        if urn in seen or urn not in by_urn:  # the root stack is not a recorded resource
            continue
        seen.add(urn)
        wanted.extend(needs(by_urn[urn]))
    return sorted(urn for urn in seen if not implicitly_targeted(urn))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True)
    parser.add_argument("types", nargs="+", help="resource type tokens, e.g. aws:ecr/repository:Repository")
    args = parser.parse_args(argv)
    try:
        urns = with_dependencies(stack_graph(args.stack), set(args.types))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("\n".join(urns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
