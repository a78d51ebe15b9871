"""Type tokens and look-ups the tests share; the graph itself is preview/graph.py's."""

from __future__ import annotations

from pathlib import Path

from preview.graph import BUCKET, ROOT, STACKS, Graph, Resource, load_graph, run_program, stack_graph

__all__ = ["BUCKET", "ROOT", "STACKS", "Graph", "Resource", "load_graph", "run_program", "stack_graph"]

# The project's own Python code, outside the tests.
CODE_FOLDERS = ("components", "runtime", "bench", "dashboards", "policy", "preview")

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
INFLUX_INSTANCE = "aws:timestreaminfluxdb/dbInstance:DbInstance"
SECRET = "aws:secretsmanager/secret:Secret"
PEERING = "aws:ec2/vpcPeeringConnection:VpcPeeringConnection"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
INVOCATION = "aws:lambda/invocation:Invocation"
GA_LISTENER = "aws:globalaccelerator/listener:Listener"
LISTENER = "aws:lb/listener:Listener"
LISTENER_RULE = "aws:lb/listenerRule:ListenerRule"
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


def one_in_region(graph: Graph, token: str, region: str) -> Resource:
    """The one resource of a type in a region (a test fails if there are none or several)."""
    (resource,) = graph.in_region(token, region)
    return resource
