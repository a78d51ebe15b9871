"""The IAM actions a deploy calls, derived from the resource types the program declares.

Each AWS resource type the program creates in any stack (and with either session store
engine) maps to the actions its creation calls. A type the table does not know stops the
writer, so a new kind of resource cannot slip past the preflight. The result is a data
file the runtime reads (runtime/deploy_actions.txt: `python -m runtime.ops preflight`
simulates the caller's policies against it); `python -m preview.deploy_actions` writes
it and a test holds it equal to the program.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import yaml

from preview.graph import ROOT, STACKS, Graph, load_graph, stack_graph
from runtime.session_writer.settings import ENGINES
from runtime.stack import from_stack_file

ACTIONS_FILE = ROOT / "runtime" / "deploy_actions.txt"
# Creating a resource of a type: the calls the provider makes (reads and tags aside).
CREATE_ACTIONS: dict[str, tuple[str, ...]] = {
    "aws:appautoscaling/policy:Policy": ("application-autoscaling:PutScalingPolicy",),
    "aws:appautoscaling/target:Target": ("application-autoscaling:RegisterScalableTarget",),
    "aws:athena/workgroup:Workgroup": ("athena:CreateWorkGroup",),
    "aws:budgets/budget:Budget": ("budgets:ModifyBudget",),
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": ("cloudwatch:PutCompositeAlarm",),
    "aws:cloudwatch/dashboard:Dashboard": ("cloudwatch:PutDashboard",),
    "aws:cloudwatch/eventRule:EventRule": ("events:PutRule",),
    "aws:cloudwatch/eventTarget:EventTarget": ("events:PutTargets",),
    "aws:cloudwatch/logGroup:LogGroup": ("logs:CreateLogGroup", "logs:PutRetentionPolicy"),
    "aws:cloudwatch/logStream:LogStream": ("logs:CreateLogStream",),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("cloudwatch:PutMetricAlarm",),
    "aws:costexplorer/anomalyMonitor:AnomalyMonitor": ("ce:CreateAnomalyMonitor",),
    "aws:costexplorer/anomalySubscription:AnomalySubscription": ("ce:CreateAnomalySubscription",),
    # A table encrypted with a customer-managed key: DynamoDB creates its grant with the caller's permissions.
    "aws:dynamodb/table:Table": (
        "dynamodb:CreateTable",
        "dynamodb:UpdateTimeToLive",
        "kms:CreateGrant",
        "kms:DescribeKey",
    ),
    "aws:ec2/eip:Eip": ("ec2:AllocateAddress",),
    "aws:ec2/internetGateway:InternetGateway": ("ec2:CreateInternetGateway", "ec2:AttachInternetGateway"),
    "aws:ec2/natGateway:NatGateway": ("ec2:CreateNatGateway",),
    "aws:ec2/route:Route": ("ec2:CreateRoute",),
    "aws:ec2/routeTable:RouteTable": ("ec2:CreateRouteTable",),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": ("ec2:AssociateRouteTable",),
    "aws:ec2/securityGroup:SecurityGroup": ("ec2:CreateSecurityGroup",),
    "aws:ec2/subnet:Subnet": ("ec2:CreateSubnet",),
    "aws:ec2/vpc:Vpc": ("ec2:CreateVpc", "ec2:ModifyVpcAttribute"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("ec2:CreateVpcEndpoint",),
    "aws:ec2/vpcPeeringConnection:VpcPeeringConnection": ("ec2:CreateVpcPeeringConnection",),
    "aws:ec2/vpcPeeringConnectionAccepter:VpcPeeringConnectionAccepter": ("ec2:AcceptVpcPeeringConnection",),
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": ("ecr:PutLifecyclePolicy",),
    "aws:ecr/repository:Repository": ("ecr:CreateRepository",),
    "aws:ecs/cluster:Cluster": ("ecs:CreateCluster",),
    "aws:ecs/service:Service": ("ecs:CreateService",),
    "aws:ecs/taskDefinition:TaskDefinition": ("ecs:RegisterTaskDefinition",),
    "aws:globalaccelerator/accelerator:Accelerator": ("globalaccelerator:CreateAccelerator",),
    "aws:globalaccelerator/endpointGroup:EndpointGroup": ("globalaccelerator:CreateEndpointGroup",),
    "aws:globalaccelerator/listener:Listener": ("globalaccelerator:CreateListener",),
    "aws:glue/catalogDatabase:CatalogDatabase": ("glue:CreateDatabase",),
    "aws:glue/catalogTable:CatalogTable": ("glue:CreateTable",),
    "aws:grafana/workspace:Workspace": ("grafana:CreateWorkspace",),
    "aws:iam/role:Role": ("iam:CreateRole", "iam:PassRole"),
    "aws:iam/rolePolicy:RolePolicy": ("iam:PutRolePolicy",),
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": ("firehose:CreateDeliveryStream",),
    "aws:kinesis/stream:Stream": ("kinesis:CreateStream", "kinesis:StartStreamEncryption"),
    "aws:kinesisanalyticsv2/application:Application": ("kinesisanalytics:CreateApplication",),
    "aws:kms/alias:Alias": ("kms:CreateAlias",),
    "aws:kms/key:Key": ("kms:CreateKey", "kms:EnableKeyRotation"),
    "aws:lambda/eventSourceMapping:EventSourceMapping": ("lambda:CreateEventSourceMapping",),
    "aws:lambda/function:Function": ("lambda:CreateFunction", "lambda:PutFunctionConcurrency"),
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": ("lambda:PutFunctionEventInvokeConfig",),
    "aws:lambda/invocation:Invocation": ("lambda:InvokeFunction",),
    "aws:lambda/permission:Permission": ("lambda:AddPermission",),
    "aws:lb/listener:Listener": ("elasticloadbalancing:CreateListener",),
    "aws:lb/listenerRule:ListenerRule": ("elasticloadbalancing:CreateRule",),
    "aws:lb/loadBalancer:LoadBalancer": ("elasticloadbalancing:CreateLoadBalancer",),
    "aws:lb/targetGroup:TargetGroup": ("elasticloadbalancing:CreateTargetGroup",),
    "aws:s3/bucket:Bucket": ("s3:CreateBucket",),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": ("s3:PutLifecycleConfiguration",),
    "aws:s3/bucketNotification:BucketNotification": ("s3:PutBucketNotification",),
    "aws:s3/bucketObjectv2:BucketObjectv2": ("s3:PutObject",),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": ("s3:PutBucketOwnershipControls",),
    "aws:s3/bucketPolicy:BucketPolicy": ("s3:PutBucketPolicy",),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": ("s3:PutBucketPublicAccessBlock",),
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig": ("s3:PutReplicationConfiguration",),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "s3:PutEncryptionConfiguration",
    ),
    "aws:s3/bucketVersioning:BucketVersioning": ("s3:PutBucketVersioning",),
    "aws:secretsmanager/secret:Secret": ("secretsmanager:CreateSecret",),
    "aws:secretsmanager/secretVersion:SecretVersion": ("secretsmanager:PutSecretValue",),
    "aws:sfn/stateMachine:StateMachine": ("states:CreateStateMachine",),
    "aws:sns/topic:Topic": ("sns:CreateTopic",),
    "aws:sns/topicPolicy:TopicPolicy": ("sns:SetTopicAttributes",),
    "aws:sns/topicSubscription:TopicSubscription": ("sns:Subscribe",),
    "aws:sqs/queue:Queue": ("sqs:CreateQueue",),
    "aws:sqs/queuePolicy:QueuePolicy": ("sqs:SetQueueAttributes",),
    "aws:timestreaminfluxdb/dbInstance:DbInstance": ("timestream-influxdb:CreateDbInstance",),
    "aws:timestreamwrite/database:Database": ("timestream:CreateDatabase",),
    "aws:timestreamwrite/table:Table": ("timestream:CreateTable",),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": ("ec2:AuthorizeSecurityGroupEgress",),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": ("ec2:AuthorizeSecurityGroupIngress",),
    "aws:wafv2/webAcl:WebAcl": ("wafv2:CreateWebACL",),
    "aws:wafv2/webAclAssociation:WebAclAssociation": ("wafv2:AssociateWebACL",),
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": ("wafv2:PutLoggingConfiguration",),
}


def with_engine(stack: str, engine: str, folder: Path) -> Path:
    """The stack's own file with another session store engine (the other engine's keys dropped)."""
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    store = document["config"]["prism-pipeline:sessionStore"]
    for key in ("memoryRetentionHours", "magneticRetentionDays", "influxdb"):
        store.pop(key, None)
    store["engine"] = engine
    path = folder / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def program_graphs() -> list[Graph]:
    """Every stack as it is, and each with the other session store engine."""
    graphs = [stack_graph(stack) for stack in STACKS]
    with tempfile.TemporaryDirectory() as scratch:
        for stack in STACKS:
            engine = from_stack_file(ROOT / f"Pulumi.{stack}.yaml").session_store.engine
            other = next(e for e in ENGINES if e != engine)
            folder = Path(scratch) / stack
            folder.mkdir()
            graphs.append(load_graph(stack, with_engine(stack, other, folder)))
    return graphs


def deploy_actions(graphs: list[Graph]) -> list[str]:
    types = {resource.type for graph in graphs for resource in graph.aws_resources()}
    unknown = sorted(types - set(CREATE_ACTIONS))
    if unknown:
        raise ValueError(f"no IAM actions known for {unknown}: add them to CREATE_ACTIONS in preview/deploy_actions.py")
    return sorted({action for token in types for action in CREATE_ACTIONS[token]})


def file_text(actions: list[str]) -> str:
    header = "# The IAM actions a deploy of any stack calls, from the program (python -m preview.deploy_actions).\n"
    return header + "".join(f"{action}\n" for action in actions)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=f"Write {ACTIONS_FILE.relative_to(ROOT)} from the program.")
    parser.parse_args(argv)
    ACTIONS_FILE.write_text(file_text(deploy_actions(program_graphs())))
    print(f"{ACTIONS_FILE.relative_to(ROOT)} written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
