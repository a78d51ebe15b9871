"""The resource graph a mocked program run recorded, with the look-ups the tests share."""

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
# The project's own Python code, outside the tests.
CODE_FOLDERS = ("components", "runtime", "bench", "dashboards")
# A mocked program that awaits an output nobody resolves hangs instead of failing.
PROGRAM_TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class Resource:
    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    provider: str
    dependencies: tuple[str, ...]
    region: str | None
    inputs: dict[str, Any]


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


BUCKET = "aws:s3/bucket:Bucket"
STREAM = "aws:kinesis/stream:Stream"
FIREHOSE = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ACCELERATOR = "aws:globalaccelerator/accelerator:Accelerator"
ALB = "aws:lb/loadBalancer:LoadBalancer"
APPLICATION = "aws:kinesisanalyticsv2/application:Application"
CLUSTER = "aws:ecs/cluster:Cluster"
CODE_OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
DATABASE = "aws:timestreamwrite/database:Database"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
ENDPOINT_GROUP = "aws:globalaccelerator/endpointGroup:EndpointGroup"
FUNCTION = "aws:lambda/function:Function"
GA_LISTENER = "aws:globalaccelerator/listener:Listener"
LISTENER = "aws:lb/listener:Listener"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
NAT = "aws:ec2/natGateway:NatGateway"
QUEUE = "aws:sqs/queue:Queue"
ROLE = "aws:iam/role:Role"
SCALING_POLICY = "aws:appautoscaling/policy:Policy"
SCALING_TARGET = "aws:appautoscaling/target:Target"
SERVICE = "aws:ecs/service:Service"
SUBNET = "aws:ec2/subnet:Subnet"
TABLE = "aws:timestreamwrite/table:Table"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
VPC = "aws:ec2/vpc:Vpc"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
WEB_ACL_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
WORKSPACE = "aws:grafana/workspace:Workspace"


def python_files(*folders: str) -> list[Path]:
    """Every .py file under the folders, and the program's __main__.py, in a stable order."""
    return [*sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py")), ROOT / "__main__.py"]


def bucket_kind(bucket: Resource) -> str:
    """prism-<env>-<region code>-<kind>-<account> -> kind."""
    return str(bucket.inputs["bucket"]).split("-")[3]


def run_program(stack: str, stack_file: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tests.pulumi_harness", "--stack", stack]
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
            region=r["region"],
            inputs=r["inputs"],
        )
        for r in document["resources"]
    )
    return Graph(resources=resources, outputs=document["outputs"])
