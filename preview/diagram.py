"""A stack's architecture, drawn from the program: `make diagram STACK=dev` or

    python -m preview.diagram --stack dev --output docs/architecture-dev.png

The program runs under mocks (preview/graph.py) and every box is a resource it declares, under
its physical name; every arrow is a reference the program wires: the accelerator's endpoint
groups, the ingest tasks' stream, the sessionizer's streams, each Firehose's source and
bucket, the session writer's event source, the replication rules, the replayer's rule and
targets. Regions are clusters, stages run left to right in data-path order.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from diagrams import Cluster, Diagram, Edge, Node
from diagrams.aws.analytics import KinesisDataAnalytics, KinesisDataFirehose, KinesisDataStreams
from diagrams.aws.compute import ElasticContainerServiceService, Lambda
from diagrams.aws.database import Timestream
from diagrams.aws.integration import EventbridgeRule
from diagrams.aws.management import AmazonManagedGrafana
from diagrams.aws.network import ElbApplicationLoadBalancer, GlobalAccelerator
from diagrams.aws.storage import SimpleStorageServiceS3Bucket

from preview.graph import Graph, Resource, stack_graph
from runtime.ingest.settings import load_settings as load_ingest_settings
from runtime.replay.settings import load_settings as load_replay_settings
from runtime.session_writer import package as session_writer_package
from runtime.session_writer.settings import load_settings as load_writer_settings
from runtime.sessionizer.config import parse_config as parse_sessionizer_config

GRAPH_ATTRIBUTES = {"fontsize": "20", "pad": "0.4", "nodesep": "0.5", "ranksep": "0.9", "splines": "spline"}
# Stage by stage in the order events flow: what each resource type is, and is drawn as.
STAGES: tuple[tuple[str, str, type[Node]], ...] = (
    ("aws:lb/loadBalancer:LoadBalancer", "alb", ElbApplicationLoadBalancer),
    ("aws:ecs/service:Service", "service", ElasticContainerServiceService),
    ("aws:kinesis/stream:Stream", "stream", KinesisDataStreams),
    ("aws:kinesisanalyticsv2/application:Application", "application", KinesisDataAnalytics),
    ("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream", "delivery", KinesisDataFirehose),
    ("aws:s3/bucket:Bucket", "bucket", SimpleStorageServiceS3Bucket),
    ("aws:lambda/function:Function", "function", Lambda),
    ("aws:timestreamwrite/database:Database", "database", Timestream),
    ("aws:cloudwatch/eventRule:EventRule", "rule", EventbridgeRule),
    ("aws:grafana/workspace:Workspace", "workspace", AmazonManagedGrafana),
)
STAGE_ICONS: dict[str, type[Node]] = {kind: icon for _, kind, icon in STAGES}
ACCELERATOR = "aws:globalaccelerator/accelerator:Accelerator"


def physical_name(resource: Resource) -> str:
    inputs = resource.inputs
    for key in ("name", "bucket", "databaseName"):
        if isinstance(inputs.get(key), str):
            return str(inputs[key])
    return resource.name


def _variables(function: Resource) -> dict[str, str]:
    return dict((function.inputs.get("environment") or {}).get("variables") or {})


def _arn_tail(arn: str) -> str:
    """The name in an ARN: stream/x, function:x, :::bucket, loadbalancer/app/x/id -> x."""
    tail = arn.split(":::", 1)[1] if ":::" in arn else arn.rsplit(":", 1)[-1]
    parts = tail.split("/")
    return parts[2] if parts[0] == "loadbalancer" else parts[-1]


Key = tuple[str, str]  # (kind, physical name): an ALB and its ECS service share a name


@dataclass
class Drawing:
    """The arrows of one stack between resources named by kind and physical name."""

    graph: Graph
    edges: list[tuple[Key, Key, str]] = field(default_factory=list)  # (from, to, style)

    def connect(self, source: Key, target: Key, style: str = "solid") -> None:
        self.edges.append((source, target, style))

    @property
    def connected(self) -> set[Key]:
        return {key for source, target, _ in self.edges for key in (source, target)}


def label(name: str) -> str:
    """Physical names are long: broken after the prefix that names environment and region."""
    parts = name.split("-")
    return "-".join(parts[:3]) + "-\n" + "-".join(parts[3:]) if len(parts) > 3 else name


def data_path(drawing: Drawing) -> None:
    """The arrows, each from a reference in the resources' inputs."""
    graph = drawing.graph
    for group in graph.of_type("aws:globalaccelerator/endpointGroup:EndpointGroup"):
        for endpoint in group.inputs.get("endpointConfigurations", []):
            for accelerator in graph.of_type(ACCELERATOR):
                drawing.connect(("accelerator", physical_name(accelerator)), ("alb", _arn_tail(endpoint["endpointId"])))
    services = {s.region: physical_name(s) for s in graph.of_type("aws:ecs/service:Service")}
    for balancer in graph.of_type("aws:lb/loadBalancer:LoadBalancer"):
        if balancer.region in services:
            drawing.connect(("alb", physical_name(balancer)), ("service", services[balancer.region]))
    for definition in graph.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        for container in json.loads(definition.inputs["containerDefinitions"]):
            variables = {v["name"]: v["value"] for v in container.get("environment", [])}
            if definition.region in services:
                # The service's own settings reader says which stream the task definition names.
                stream = load_ingest_settings(variables).stream_name
                drawing.connect(("service", services[definition.region]), ("stream", stream))
    for application in graph.of_type("aws:kinesisanalyticsv2/application:Application"):
        groups = application.inputs["applicationConfiguration"]["environmentProperties"]["propertyGroups"]
        # The job's own settings reader says which streams the application's properties name.
        job = parse_sessionizer_config({k: v for group in groups for k, v in group["propertyMap"].items()})
        name = physical_name(application)
        drawing.connect(("stream", job.raw_stream), ("application", name))
        drawing.connect(("application", name), ("stream", job.session_stream))
        drawing.connect(("application", name), ("stream", job.late_stream), "dashed")
    for delivery in graph.of_type("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"):
        source = delivery.inputs.get("kinesisSourceConfiguration", {}).get("kinesisStreamArn")
        if source:
            drawing.connect(("stream", _arn_tail(source)), ("delivery", physical_name(delivery)))
        bucket = _arn_tail(delivery.inputs["extendedS3Configuration"]["bucketArn"])
        drawing.connect(("delivery", physical_name(delivery)), ("bucket", bucket))
    for mapping in graph.of_type("aws:lambda/eventSourceMapping:EventSourceMapping"):
        drawing.connect(("stream", _arn_tail(mapping.inputs["eventSourceArn"])),
                        ("function", _arn_tail(mapping.inputs["functionName"])))  # fmt: skip
    writer = session_writer_package.PACKAGE.handler
    for function in graph.of_type("aws:lambda/function:Function"):
        if function.inputs.get("handler") == writer:
            # The writer's own settings reader says which database its environment names.
            drawing.connect(("function", physical_name(function)),
                            ("database", load_writer_settings(_variables(function)).target.database))  # fmt: skip
    for workspace in graph.of_type("aws:grafana/workspace:Workspace"):
        for database in graph.of_type("aws:timestreamwrite/database:Database"):
            drawing.connect(("database", physical_name(database)), ("workspace", physical_name(workspace)), "dotted")
    for replication in graph.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig"):
        for rule in replication.inputs.get("rules", []):
            destination = _arn_tail(rule["destination"]["bucket"])
            drawing.connect(("bucket", str(replication.inputs["bucket"])), ("bucket", destination), "dotted")
    for target in graph.of_type("aws:cloudwatch/eventTarget:EventTarget"):
        rule = next((r for r in graph.of_type("aws:cloudwatch/eventRule:EventRule")
                     if physical_name(r) == target.inputs.get("rule")), None)  # fmt: skip
        if rule is not None and target.inputs["arn"].startswith("arn:aws:lambda:"):
            drawing.connect(("rule", physical_name(rule)), ("function", _arn_tail(target.inputs["arn"])))
            pattern = json.loads(rule.inputs["eventPattern"])
            for bucket in pattern["detail"]["bucket"]["name"]:
                drawing.connect(("bucket", bucket), ("rule", physical_name(rule)))
            replayer = next(f for f in graph.of_type("aws:lambda/function:Function")
                            if physical_name(f) == _arn_tail(target.inputs["arn"]))  # fmt: skip
            for spec in load_replay_settings(_variables(replayer)).targets:
                if spec.stream is not None:
                    drawing.connect(("function", physical_name(replayer)), ("stream", spec.stream), "dashed")


def draw(stack: str, output: Path, graph: Graph | None = None) -> Path:
    """Draws the stack to `output` (.png or .svg): every resource on the data path, in its region."""
    graph = graph or stack_graph(stack)
    drawing = Drawing(graph)
    data_path(drawing)
    shown = drawing.connected
    regions = sorted({r.region for r in graph.resources if r.region and r.type.startswith("aws:")})
    outformat = output.suffix.lstrip(".") or "png"
    with tempfile.TemporaryDirectory() as work:
        base = Path(work) / "diagram"
        with Diagram(f"prism-pipeline: {stack}", filename=str(base), outformat=outformat, show=False,
                     direction="LR", graph_attr=GRAPH_ATTRIBUTES):  # fmt: skip
            nodes: dict[Key, Node] = {}
            for accelerator in graph.of_type(ACCELERATOR):
                key = ("accelerator", physical_name(accelerator))
                nodes[key] = GlobalAccelerator(label(key[1]))
            for region in regions:
                with Cluster(region):
                    for token, kind, icon in STAGES:
                        for resource in graph.in_region(token, region):
                            key = (kind, physical_name(resource))
                            if key in shown:
                                nodes[key] = icon(label(key[1]))
            for source, target, style in drawing.edges:
                for key in (source, target):
                    if key not in nodes:  # named by this stack, owned by another (the replay's source, its targets)
                        nodes[key] = STAGE_ICONS[key[0]](f"{label(key[1])}\n(another stack)")
                nodes[source] >> Edge(style=style) >> nodes[target]
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(base.with_suffix(f".{outformat}").read_bytes())
    return output


def edges_of(stack: str) -> list[tuple[Key, Key, str]]:
    drawing = Drawing(stack_graph(stack))
    data_path(drawing)
    return drawing.edges


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--output", type=Path, help="a .png or .svg path (default docs/architecture-<stack>.png)")
    args = parser.parse_args(argv)
    output = args.output or Path("docs") / f"architecture-{args.stack}.png"
    print(draw(args.stack, output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
