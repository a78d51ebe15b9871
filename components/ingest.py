"""The ingest service of one region on ECS Fargate, behind the region's ALB.

The tasks run runtime/ingest in private subnets. Their role may put records on this
region's raw stream (and list its shards, which the KPL-format aggregation needs to
pick explicit hash keys) and put batches on the failed-events Firehose, nothing else.
A deployment rolls task by task and rolls itself back when new tasks never get
healthy. The service scales on CPU and on ALB requests per task.

The container definition is written in the form ECS returns it (keys sorted, defaults
spelled out, the environment sorted by name), so a preview after ``pulumi up`` shows
no change where nothing changed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.image_repository import image_repository
from components.support.policies import Statement, service_role
from components.support.refs import Ref
from components.support.region import Region
from components.support.security_groups import allow_tcp, security_group
from runtime.ingest.image import source_tag
from runtime.ingest.settings import base_settings, environment
from runtime.names import MAX_SECURITY_GROUP
from runtime.stack import IngestServiceSettings, task_stop_timeout_seconds

CONTAINER_NAME = "ingest"
# The image's user (runtime/ingest/Dockerfile).
CONTAINER_USER = "10001"
# CloudWatch embedded-metric lines from the service, once a minute.
METRICS_EMF_INTERVAL_SECONDS = 60


def service_environment(
    settings: IngestServiceSettings,
    region: str,
    stream_name: str,
    failed_events_stream: str,
    heartbeat_interval_ms: int,
) -> dict[str, str]:
    """What the service reads at start-up, written by the service's own settings module."""
    service = dataclasses.replace(
        base_settings(stream_name, region),
        failed_events_stream=failed_events_stream,
        port=settings.port,
        workers=settings.workers,
        max_body_bytes=settings.max_body_bytes,
        max_batch_events=settings.max_batch_events,
        max_clock_skew_ms=settings.max_clock_skew_ms,
        # Players are told the interval the sessionizer expects heartbeats at.
        heartbeat_interval_ms=heartbeat_interval_ms,
        cors_origins=settings.cors_origins,
        ack_timeout_seconds=settings.ack_timeout_seconds,
        shutdown_drain_seconds=settings.shutdown_drain_seconds,
        metrics_emf_interval_seconds=METRICS_EMF_INTERVAL_SECONDS,
        kinesis_transport=settings.kinesis_transport,
    )
    return environment(service)


def container_definitions(
    image: str, port: int, environment: Mapping[str, str], log_group: str, region: str, stop_timeout: int
) -> str:
    """The task's one container, in ECS's canonical form (see the module docstring)."""
    container: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": image,
        "cpu": 0,
        "essential": True,
        "user": CONTAINER_USER,
        "readonlyRootFilesystem": True,
        "environment": [{"name": key, "value": environment[key]} for key in sorted(environment)],
        "portMappings": [{"containerPort": port, "hostPort": port, "protocol": "tcp"}],
        "mountPoints": [],
        "volumesFrom": [],
        "systemControls": [],
        # One connection per player request: the default 1,024 files run out under load.
        "ulimits": [{"name": "nofile", "softLimit": 65536, "hardLimit": 65536}],
        "stopTimeout": stop_timeout,
        "healthCheck": {
            "command": [
                "CMD",
                "python",
                "-c",
                f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/health', timeout=2)",
            ],
            "interval": 10,
            "timeout": 3,
            "retries": 3,
            "startPeriod": 10,
        },
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": log_group,
                "awslogs-region": region,
                "awslogs-stream-prefix": CONTAINER_NAME,
                # A slow log pipe must not stall request handling.
                "mode": "non-blocking",
                "max-buffer-size": "25m",
            },
        },
    }
    return json.dumps([container], sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class IngestServiceArgs:
    environment: str
    region: Region
    settings: IngestServiceSettings
    heartbeat_interval_ms: int
    vpc_id: pulumi.Input[str]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    load_balancer_security_group: aws.ec2.SecurityGroup
    target_group: aws.lb.TargetGroup
    load_balancer: aws.lb.LoadBalancer
    listeners: Sequence[aws.lb.Listener]
    raw_stream: Ref
    failed_events: Ref  # the failed-events Firehose
    key_arn: pulumi.Input[str]
    log_retention_days: int


class IngestService(pulumi.ComponentResource):
    repository: aws.ecr.Repository
    cluster: aws.ecs.Cluster
    task_definition: aws.ecs.TaskDefinition
    service: aws.ecs.Service
    task_role: aws.iam.Role
    execution_role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup
    security_group: aws.ec2.SecurityGroup

    def __init__(self, name: str, args: IngestServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("prism:ingest:IngestService", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        region, s = args.region, args.settings
        service_name = region.names.ingest_service
        role_name = region.names.role("ingest-task")
        execution_role_name = region.names.role("ingest-exec")
        # The stack's own repository (the deploy workflow pushes to it): its image's tag comes from
        # the source, so a preview of an unchanged image shows the task definition unchanged.
        self.repository = image_repository(f"{name}-images", region, args.key_arn, s.keep_images,
                                           not s.deletion_protection, child)  # fmt: skip
        image: pulumi.Input[str] = (
            pulumi.Output.concat(self.repository.repository_url, ":", source_tag())
            if s.image is None
            else region.account_id.apply(lambda account: s.image_for(region.name, account))
        )

        # The tasks take the service port from the ALB only, and reach AWS APIs over HTTPS.
        self.security_group = security_group(
            f"{name}-tasks",
            args.vpc_id,
            region.names.regional("ingest-tasks", MAX_SECURITY_GROUP),
            "Ingest tasks: the service port from the ALB only; HTTPS out to AWS APIs",
            child,
        )
        tasks, alb = self.security_group, args.load_balancer_security_group
        allow_tcp(f"{name}-alb-to-tasks", "out", alb, s.port, "requests and health checks", child, peer=tasks)
        allow_tcp(f"{name}-tasks-from-alb", "in", tasks, s.port, "the service port from the ALB", child, peer=alb)
        allow_tcp(f"{name}-tasks-to-aws", "out", tasks, 443, "HTTPS to Kinesis, Firehose, ECR, Logs, STS", child,
                  cidr="0.0.0.0/0")  # fmt: skip

        self.cluster = aws.ecs.Cluster(
            name,
            aws.ecs.ClusterArgs(
                name=service_name,
                settings=[aws.ecs.ClusterSettingArgs(name="containerInsights", value=s.container_insights)],
            ),
            child,
        )
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            aws.cloudwatch.LogGroupArgs(name=region.names.ingest_log_group, retention_in_days=args.log_retention_days),
            child,
        )

        task_access = service_role(
            f"{name}-task",
            role_name,
            f"ingest tasks of {service_name}: put raw events, put failed events",
            "ecs-tasks.amazonaws.com",
            region.account_id,
            [
                Statement(
                    sid="PutRawEvents",
                    actions=["kinesis:ListShards", "kinesis:PutRecord", "kinesis:PutRecords"],
                    resources=[args.raw_stream.arn],
                ),
                Statement(
                    sid="PutFailedEvents", actions=["firehose:PutRecordBatch"], resources=[args.failed_events.arn]
                ),
                # Writing to a KMS-encrypted stream needs data keys of its key, through Kinesis only.
                Statement(
                    sid="EncryptRawEvents",
                    actions=["kms:GenerateDataKey"],
                    resources=[args.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": [f"kinesis.{region.name}.amazonaws.com"]}},
                ),
            ],
            child,
        )
        self.task_role = task_access.role

        log_group_arn = self.log_group.arn
        pull: list[Statement] = []
        if s.from_ecr:
            repository: pulumi.Input[str] = (
                self.repository.arn
                if s.image is None
                else pulumi.Output.all(region.account_id, region.partition).apply(
                    lambda v: s.ecr_repository_arn(region.name, v[0], v[1])
                )
            )
            pull = [
                # GetAuthorizationToken has no resource to scope it to.
                Statement(sid="AuthenticateToEcr", actions=["ecr:GetAuthorizationToken"], resources=["*"]),
                Statement(
                    sid="PullImage",
                    actions=["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                    resources=[repository],
                ),
            ]
        execution_access = service_role(
            f"{name}-execution",
            execution_role_name,
            f"ECS for {service_name}: pull the image, write the logs",
            "ecs-tasks.amazonaws.com",
            region.account_id,
            [
                *pull,
                Statement(
                    sid="WriteLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[pulumi.Output.concat(log_group_arn, ":log-stream:*")],
                ),
            ],
            child,
        )
        self.execution_role = execution_access.role

        stop_timeout = task_stop_timeout_seconds(s.shutdown_drain_seconds, s.ack_timeout_seconds)
        definitions = pulumi.Output.all(
            image, args.raw_stream.name, args.failed_events.name, self.log_group.name
        ).apply(
            lambda v: container_definitions(
                image=v[0],
                port=s.port,
                environment=service_environment(s, region.name, v[1], v[2], args.heartbeat_interval_ms),
                log_group=v[3],
                region=region.name,
                stop_timeout=stop_timeout,
            )
        )
        self.task_definition = aws.ecs.TaskDefinition(
            name,
            aws.ecs.TaskDefinitionArgs(
                family=service_name,
                cpu=str(s.cpu),
                memory=str(s.memory_mb),
                network_mode="awsvpc",
                requires_compatibilities=["FARGATE"],
                runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                    operating_system_family="LINUX", cpu_architecture=s.cpu_architecture
                ),
                execution_role_arn=self.execution_role.arn,
                task_role_arn=self.task_role.arn,
                container_definitions=definitions,
            ),
            # A task must not start before its roles can do what it needs.
            pulumi.ResourceOptions(parent=self, depends_on=[task_access.policy, execution_access.policy]),
        )

        self.service = aws.ecs.Service(
            name,
            aws.ecs.ServiceArgs(
                name=service_name,
                cluster=self.cluster.arn,
                task_definition=self.task_definition.arn,
                launch_type="FARGATE",
                platform_version="LATEST",
                desired_count=s.tasks.desired,
                # Rolling: new tasks first, old ones leave once the new are healthy.
                deployment_minimum_healthy_percent=100,
                deployment_maximum_percent=200,
                deployment_circuit_breaker=aws.ecs.ServiceDeploymentCircuitBreakerArgs(enable=True, rollback=True),
                network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
                    subnets=list(args.private_subnet_ids),
                    security_groups=[self.security_group.id],
                    assign_public_ip=False,
                ),
                load_balancers=[
                    aws.ecs.ServiceLoadBalancerArgs(
                        target_group_arn=args.target_group.arn, container_name=CONTAINER_NAME, container_port=s.port
                    )
                ],
                health_check_grace_period_seconds=30,
                availability_zone_rebalancing="ENABLED",
                enable_ecs_managed_tags=True,
                propagate_tags="SERVICE",
                wait_for_steady_state=False,
            ),
            pulumi.ResourceOptions(
                parent=self,
                # ECS refuses a target group no listener uses yet.
                depends_on=list(args.listeners),
                # Autoscaling owns the running count once the service exists.
                ignore_changes=["desiredCount"],
            ),
        )

        scaling = aws.appautoscaling.Target(
            name,
            aws.appautoscaling.TargetArgs(
                service_namespace="ecs",
                scalable_dimension="ecs:service:DesiredCount",
                resource_id=pulumi.Output.concat("service/", self.cluster.name, "/", self.service.name),
                min_capacity=s.tasks.minimum,
                max_capacity=s.tasks.maximum,
            ),
            child,
        )
        request_label = pulumi.Output.concat(args.load_balancer.arn_suffix, "/", args.target_group.arn_suffix)
        for suffix, metric, target, label in (
            ("cpu", "ECSServiceAverageCPUUtilization", s.cpu_target_percent, None),
            ("requests", "ALBRequestCountPerTarget", s.requests_per_target, request_label),
        ):
            aws.appautoscaling.Policy(
                f"{name}-{suffix}",
                aws.appautoscaling.PolicyArgs(
                    name=f"{service_name}-{suffix}",
                    policy_type="TargetTrackingScaling",
                    service_namespace=scaling.service_namespace,
                    scalable_dimension=scaling.scalable_dimension,
                    resource_id=scaling.resource_id,
                    target_tracking_scaling_policy_configuration=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                        target_value=float(target),
                        scale_in_cooldown=s.scale_in_cooldown_seconds,
                        scale_out_cooldown=s.scale_out_cooldown_seconds,
                        predefined_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                            predefined_metric_type=metric, resource_label=label
                        ),
                    ),
                ),
                child,
            )
        self.register_outputs(
            {
                "repository": self.repository.repository_url,
                "cluster": self.cluster.name,
                "service": self.service.name,
                "task_definition": self.task_definition.arn,
            }
        )
