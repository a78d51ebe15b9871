"""The URNs `pulumi up --target` needs to create some resources of a stack ahead of the rest.

    python -m preview.targets --stack dev aws:ecr/repository:Repository

The deploy workflow pushes the ingest image before `pulumi up` runs the service that pulls
it, so in a new account the repositories (and what they are made from: the region's key,
its policy, the providers) are created first. The URNs come from the program itself, run
under mocks (preview/graph.py), so they are exactly the ones `pulumi up` registers.
"""

from __future__ import annotations

import argparse
import sys

from preview.graph import Graph, stack_graph


def with_dependencies(graph: Graph, types: set[str]) -> list[str]:
    """URNs of the resources of these types and of every custom resource they are made from."""
    by_urn = {r.urn: r for r in graph.resources}
    wanted = [r.urn for r in graph.resources if r.type in types]
    if not wanted:
        raise ValueError(f"the stack has no resource of type {', '.join(sorted(types))}")
    found: dict[str, None] = {}
    while wanted:
        urn = wanted.pop()
        if urn in found or urn not in by_urn:
            continue
        resource = by_urn[urn]
        if resource.custom and not resource.type.startswith("pulumi:providers:"):
            found[urn] = None
        wanted.extend(resource.dependencies)
        wanted.extend(u for urns in resource.property_dependencies.values() for u in urns)
    return sorted(found)


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
