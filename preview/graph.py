"""A stack's resource graph as the mocked program run (preview/harness.py) records it, and its look-ups.

The tests, the policy run (policy/offline.py) and the diagram (preview/diagram.py) all read
a stack through this one recording: each stack's program runs once per process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STACKS = ("dev", "datamart", "slowprod", "loadtest")
# A mocked program that awaits an output nobody resolves hangs instead of failing.
PROGRAM_TIMEOUT_SECONDS = 120
BUCKET = "aws:s3/bucket:Bucket"


@dataclass(frozen=True)
class Resource:
    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    provider: str
    dependencies: tuple[str, ...]
    property_dependencies: dict[str, tuple[str, ...]]  # input -> the URNs its value came from
    region: str | None
    inputs: dict[str, Any]
    aliases: tuple[str, ...] = ()  # URNs, or a spec's type, the resource was known by before


@dataclass(frozen=True)
class Graph:
    resources: tuple[Resource, ...]
    outputs: dict[str, Any]

    def of_type(self, token: str) -> list[Resource]:
        return [r for r in self.resources if r.type == token]

    def in_region(self, token: str, region: str) -> list[Resource]:
        return [r for r in self.of_type(token) if r.region == region]

    def by_urn(self, urn: str) -> Resource:
        return next(r for r in self.resources if r.urn == urn)

    def aws_resources(self) -> Iterator[Resource]:
        return (r for r in self.resources if r.custom and r.type.startswith("aws:"))

    def bucket_by_arn(self, arn: str) -> Resource:
        return next(r for r in self.of_type(BUCKET) if f"arn:aws:s3:::{r.inputs['bucket']}" == arn)

    def bucket_by_name(self, name: str) -> Resource:
        return next(r for r in self.of_type(BUCKET) if r.inputs["bucket"] == name)

    def attached_to_bucket(self, token: str, bucket: Resource) -> list[Resource]:
        return [r for r in self.of_type(token) if r.inputs.get("bucket") == bucket.inputs["bucket"]]


def run_program(stack: str, stack_file: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "preview.harness", "--stack", stack]
    if stack_file is not None:
        command += ["--config-file", str(stack_file)]
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=PROGRAM_TIMEOUT_SECONDS, check=False
    )


_GRAPHS: dict[str, Graph] = {}


def stack_graph(stack: str) -> Graph:
    """The program run under mocks for a stack's own file, once per test session."""
    if stack not in _GRAPHS:
        _GRAPHS[stack] = load_graph(stack)
    return _GRAPHS[stack]


def load_graph(stack: str, stack_file: Path | None = None) -> Graph:
    result = run_program(stack, stack_file)
    if result.returncode != 0:
        raise AssertionError(f"program for stack {stack} failed:\n{result.stderr}")
    document = json.loads(result.stdout)
    resources = tuple(
        Resource(
            urn=r["urn"],
            type=r["type"],
            name=r["name"],
            custom=r["custom"],
            parent=r["parent"],
            provider=r["provider"],
            dependencies=tuple(r["dependencies"]),
            property_dependencies={prop: tuple(urns) for prop, urns in r["property_dependencies"].items()},
            region=r["region"],
            inputs=r["inputs"],
            aliases=tuple(r["aliases"]),
        )
        for r in document["resources"]
    )
    return Graph(resources=resources, outputs=document["outputs"])
