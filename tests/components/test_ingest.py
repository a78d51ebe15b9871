"""Ingest infrastructure under mocks, every stack: network, Fargate, accelerator (ALB, WAF: test_load_balancer.py)."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest

from components.influxdb import SECRETS_ENDPOINTS
from components.ingest import CONTAINER_NAME, container_definitions, service_environment
from components.network import INTERFACE_ENDPOINTS, subnet_cidrs
from preview.harness import endpoint_service_zones, zone_names
from runtime.ingest.image import source_tag
from runtime.ingest.settings import load_settings
from runtime.names import RegionNames
from runtime.stack import NewVpc, Settings, from_stack_file, task_stop_timeout_seconds
from tests.graph import (
    ACCELERATOR,
    ALB,
    CLUSTER,
    ENDPOINT,
    ENDPOINT_GROUP,
    FIREHOSE,
    GA_LISTENER,
    LOG_GROUP,
    NAT,
    ROLE_POLICY,
    ROOT,
    SCALING_POLICY,
    SCALING_TARGET,
    SERVICE,
    STREAM,
    SUBNET,
    TASK_DEFINITION,
    VPC,
    Graph,
    one_in_region,
)


def _statements(graph: Graph, role_name: str) -> dict[str, dict[str, Any]]:
    policy = next(p for p in graph.of_type(ROLE_POLICY) if p.inputs["role"] == role_name)
    return {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}


def _container(graph: Graph, region: str) -> dict[str, Any]:
    (container,) = json.loads(one_in_region(graph, TASK_DEFINITION, region).inputs["containerDefinitions"])
    return dict(container)


# -- network -----------------------------------------------------------------------------


def test_each_region_has_a_vpc_with_public_and_private_subnets_in_distinct_zones(
    graph: Graph, settings: Settings
) -> None:
    zones = settings.network.availability_zones
    for region in settings.regions:
        vpc = one_in_region(graph, VPC, region.name)
        wanted = settings.network.vpcs[region.role]
        assert isinstance(wanted, NewVpc)
        assert vpc.inputs["cidrBlock"] == wanted.cidr
        assert vpc.inputs["enableDnsHostnames"] is True and vpc.inputs["enableDnsSupport"] is True
        subnets = graph.in_region(SUBNET, region.name)
        by_tier = {tier: [s for s in subnets if s.inputs["tags"]["tier"] == tier] for tier in ("public", "private")}
        network = ipaddress.IPv4Network(wanted.cidr)
        for tier, tier_subnets in by_tier.items():
            assert len(tier_subnets) == zones, tier
            assert len({s.inputs["availabilityZone"] for s in tier_subnets}) == zones, tier
            assert all(s.inputs["availabilityZone"].startswith(region.name) for s in tier_subnets)
            assert all(ipaddress.IPv4Network(s.inputs["cidrBlock"]).subnet_of(network) for s in tier_subnets)
        cidrs = [ipaddress.IPv4Network(s.inputs["cidrBlock"]) for s in subnets]
        assert not any(a.overlaps(b) for i, a in enumerate(cidrs) for b in cidrs[i + 1 :])


def _interface_endpoints(settings: Settings) -> tuple[str, ...]:
    """The ingest tasks' endpoints, and Secrets Manager's for the InfluxDB tokens."""
    return (*INTERFACE_ENDPOINTS, *(SECRETS_ENDPOINTS if settings.session_store.engine == "influxdb" else ()))


def test_private_subnets_reach_aws_through_endpoints_or_nat_as_the_stack_says(graph: Graph, settings: Settings) -> None:
    interface = _interface_endpoints(settings)
    for region in settings.regions:
        endpoints = {e.inputs["serviceName"].removeprefix(f"com.amazonaws.{region.name}."): e
                     for e in graph.in_region(ENDPOINT, region.name)}  # fmt: skip
        nats = graph.in_region(NAT, region.name)
        if settings.network.egress == "endpoints":
            assert set(endpoints) == {*interface, "s3"}
            assert not nats
            for service in interface:
                assert endpoints[service].inputs["vpcEndpointType"] == "Interface"
                assert endpoints[service].inputs["privateDnsEnabled"] is True
                assert len(endpoints[service].inputs["subnetIds"]) == settings.network.availability_zones
            assert endpoints["s3"].inputs["vpcEndpointType"] == "Gateway", "ECR image layers come from S3"
        else:
            assert not endpoints
            assert len(nats) == settings.network.availability_zones


def test_with_endpoints_the_subnets_are_in_zones_where_every_endpoint_is_offered(
    graph: Graph, settings: Settings
) -> None:
    """Zone names map to other physical zones per account: the zones are chosen by what each service offers."""
    for region in settings.regions:
        names = zone_names(region.name)
        wanted = _interface_endpoints(settings)
        offered = set(names).intersection(*(endpoint_service_zones(region.name, s) for s in wanted))
        expected = [zone for zone in names if zone in offered][: settings.network.availability_zones]
        zones = {s.inputs["availabilityZone"] for s in graph.in_region(SUBNET, region.name)}
        if settings.network.egress == "endpoints":
            assert zones == set(expected), "the mocks' ECR endpoint skips the first zone"
        else:
            assert zones == set(names[: settings.network.availability_zones])


def test_subnets_are_cut_so_a_third_zone_keeps_the_existing_ones() -> None:
    two = subnet_cidrs("10.40.0.0/16", 2)
    three = subnet_cidrs("10.40.0.0/16", 3)
    assert two == (["10.40.0.0/19", "10.40.32.0/19"], ["10.40.128.0/19", "10.40.160.0/19"])
    assert three[0][:2] == two[0] and three[1][:2] == two[1]


# -- Fargate -----------------------------------------------------------------------------


def test_task_role_may_put_only_on_its_own_regions_raw_stream(graph: Graph, settings: Settings) -> None:
    for region in settings.regions:
        definition = one_in_region(graph, TASK_DEFINITION, region.name)
        role_name = definition.inputs["taskRoleArn"].rsplit("/", 1)[1]
        statements = _statements(graph, role_name)
        assert set(statements) == {"PutRawEvents", "PutFailedEvents", "EncryptRawEvents"}
        raw = next(s for s in graph.in_region(STREAM, region.name) if s.inputs["name"].endswith("-raw"))
        raw_arn = f"arn:aws:kinesis:{region.name}:123456789012:stream/{raw.inputs['name']}"
        put = statements["PutRawEvents"]
        assert put["Resource"] == [raw_arn]
        assert set(put["Action"]) == {"kinesis:PutRecord", "kinesis:PutRecords", "kinesis:ListShards"}
        failed = next(f for f in graph.in_region(FIREHOSE, region.name) if f.inputs["name"].endswith("-failed-to-s3"))
        assert statements["PutFailedEvents"]["Action"] == ["firehose:PutRecordBatch"]
        assert statements["PutFailedEvents"]["Resource"] == [
            f"arn:aws:firehose:{region.name}:123456789012:deliverystream/{failed.inputs['name']}"
        ]
        assert statements["EncryptRawEvents"]["Resource"][0].startswith(f"arn:aws:kms:{region.name}:")


def test_execution_role_pulls_only_the_image_repository_and_writes_only_its_log_group(
    graph: Graph, settings: Settings
) -> None:
    for region in settings.regions:
        definition = one_in_region(graph, TASK_DEFINITION, region.name)
        statements = _statements(graph, definition.inputs["executionRoleArn"].rsplit("/", 1)[1])
        repository = statements["PullImage"]["Resource"]
        names = RegionNames(settings.environment, region.name)
        assert repository == [f"arn:aws:ecr:{region.name}:123456789012:repository/{names.ingest_repository}"]
        log_group = _container(graph, region.name)["logConfiguration"]["options"]["awslogs-group"]
        assert statements["WriteLogs"]["Resource"] == [
            f"arn:aws:logs:{region.name}:123456789012:log-group:{log_group}:log-stream:*"
        ]


def test_task_definition_is_fargate_sized_from_settings_with_a_canonical_container(
    graph: Graph, settings: Settings
) -> None:
    s = settings.ingest
    for region in settings.regions:
        definition = one_in_region(graph, TASK_DEFINITION, region.name).inputs
        assert (definition["cpu"], definition["memory"]) == (str(s.cpu), str(s.memory_mb))
        assert definition["requiresCompatibilities"] == ["FARGATE"] and definition["networkMode"] == "awsvpc"
        text = definition["containerDefinitions"]
        container = _container(graph, region.name)
        repository = RegionNames(settings.environment, region.name).ingest_repository
        assert container["image"] == f"123456789012.dkr.ecr.{region.name}.amazonaws.com/{repository}:{source_tag()}"
        assert container["stopTimeout"] == task_stop_timeout_seconds(s.shutdown_drain_seconds, s.ack_timeout_seconds)
        assert container["stopTimeout"] <= 120
        assert container["portMappings"] == [{"containerPort": s.port, "hostPort": s.port, "protocol": "tcp"}]
        names = [variable["name"] for variable in container["environment"]]
        assert names == sorted(names)
        # Canonical: what json.dumps with sorted keys and no spaces writes for the parsed form.
        assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))
        for default in ("mountPoints", "volumesFrom", "systemControls"):
            assert container[default] == []
        assert (container["cpu"], container["essential"]) == (0, True)


def test_the_service_accepts_the_environment_the_task_definition_gives_it(graph: Graph, settings: Settings) -> None:
    for region in settings.regions:
        container = _container(graph, region.name)
        environment = {variable["name"]: variable["value"] for variable in container["environment"]}
        service = load_settings(environment)
        raw = next(s for s in graph.in_region(STREAM, region.name) if s.inputs["name"].endswith("-raw"))
        assert service.stream_name == raw.inputs["name"]
        assert service.region == region.name
        assert service.failed_events_stream == f"prism-{settings.environment}-{region.code}-failed-to-s3"
        assert service.port == settings.ingest.port
        assert service.heartbeat_interval_ms == settings.sessionizer.heartbeat_interval_ms
        assert service.shutdown_drain_seconds == settings.ingest.shutdown_drain_seconds
        assert service.cors_origins == settings.ingest.cors_origins
        assert service.kinesis_endpoint is None, "tasks talk to the real Kinesis"


def test_service_rolls_back_failed_deployments_and_scales_on_cpu_and_requests(graph: Graph, settings: Settings) -> None:
    tasks = settings.ingest.tasks
    for region in settings.regions:
        service = one_in_region(graph, SERVICE, region.name).inputs
        assert service["launchType"] == "FARGATE"
        assert service["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
        assert service["desiredCount"] == tasks.desired
        assert service["networkConfiguration"]["assignPublicIp"] is False
        private = {
            s.inputs["cidrBlock"] for s in graph.in_region(SUBNET, region.name) if s.inputs["tags"]["tier"] == "private"
        }
        assert len(service["networkConfiguration"]["subnets"]) == len(private)
        (balancer,) = service["loadBalancers"]
        assert (balancer["containerName"], balancer["containerPort"]) == (CONTAINER_NAME, settings.ingest.port)
        target = one_in_region(graph, SCALING_TARGET, region.name).inputs
        assert (target["minCapacity"], target["maxCapacity"]) == (tasks.minimum, tasks.maximum)
        assert target["resourceId"] == f"service/{service['name']}/{service['name']}"
        metrics = {
            p.inputs["targetTrackingScalingPolicyConfiguration"]["predefinedMetricSpecification"][
                "predefinedMetricType"
            ]: p.inputs["targetTrackingScalingPolicyConfiguration"]
            for p in graph.in_region(SCALING_POLICY, region.name)
        }
        assert metrics["ECSServiceAverageCPUUtilization"]["targetValue"] == settings.ingest.cpu_target_percent
        requests = metrics["ALBRequestCountPerTarget"]
        assert requests["targetValue"] == settings.ingest.requests_per_target
        label = requests["predefinedMetricSpecification"]["resourceLabel"]
        assert label.startswith("app/") and "/targetgroup/" in label


def test_cluster_has_container_insights_and_the_service_logs_with_retention(graph: Graph, settings: Settings) -> None:
    for region in settings.regions:
        cluster = one_in_region(graph, CLUSTER, region.name)
        assert cluster.inputs["settings"] == [
            {"name": "containerInsights", "value": settings.ingest.container_insights}
        ]
        group = _container(graph, region.name)["logConfiguration"]["options"]["awslogs-group"]
        (log_group,) = [g for g in graph.in_region(LOG_GROUP, region.name) if g.inputs["name"] == group]
        assert log_group.inputs["retentionInDays"] == settings.log_retention_days


def test_failed_events_firehose_takes_direct_puts_into_the_raw_buckets_failed_prefix(
    graph: Graph, settings: Settings
) -> None:
    for region in settings.regions:
        (failed,) = [f for f in graph.in_region(FIREHOSE, region.name) if f.inputs["name"].endswith("-failed-to-s3")]
        assert "kinesisSourceConfiguration" not in failed.inputs
        assert failed.inputs["serverSideEncryption"]["keyType"] == "CUSTOMER_MANAGED_CMK"
        s3 = failed.inputs["extendedS3Configuration"]
        assert s3["prefix"].startswith("failed/year=")
        assert s3["errorOutputPrefix"].startswith("errors/failed/")
        assert (
            graph.bucket_by_arn(s3["bucketArn"])
            .inputs["bucket"]
            .startswith(f"prism-{settings.environment}-{region.code}-raw-")
        )
        # The service's documents end in a newline already.
        assert "processingConfiguration" not in s3


# -- Global Accelerator ------------------------------------------------------------------


def test_one_accelerator_with_one_endpoint_group_per_region_pointing_at_its_alb(
    graph: Graph, settings: Settings
) -> None:
    (accelerator,) = graph.of_type(ACCELERATOR)
    (listener,) = graph.of_type(GA_LISTENER)
    assert accelerator.region == "us-west-2", "Global Accelerator's API is in us-west-2 only"
    assert listener.inputs["protocol"] == "TCP"
    ports = sorted(r["fromPort"] for r in listener.inputs["portRanges"])
    assert ports == sorted(([443] if settings.ingest.https else []) + ([80] if settings.ingest.allow_http else []))
    groups = graph.of_type(ENDPOINT_GROUP)
    assert sorted(g.inputs["endpointGroupRegion"] for g in groups) == sorted(r.name for r in settings.regions)
    for group in groups:
        region = next(r for r in settings.regions if r.name == group.inputs["endpointGroupRegion"])
        (endpoint,) = group.inputs["endpointConfigurations"]
        alb = one_in_region(graph, ALB, region.name)
        alb_arn = f"arn:aws:elasticloadbalancing:{region.name}:123456789012:loadbalancer/"
        assert endpoint["endpointId"].startswith(alb_arn) and alb.inputs["name"] in endpoint["endpointId"]
        assert endpoint["clientIpPreservationEnabled"] is True
        wanted = settings.edge.endpoints[region.role]
        assert (group.inputs["trafficDialPercentage"], endpoint["weight"]) == (wanted.traffic_dial, wanted.weight)


def test_stack_outputs_give_players_one_url_and_operators_every_alb(graph: Graph, settings: Settings) -> None:
    ingest = graph.outputs["ingest"]
    scheme = "https" if settings.ingest.https else "http"
    host = settings.ingest.hostname or ingest["accelerator_dns_name"]
    assert ingest["url"] == f"{scheme}://{host}/"
    assert ingest["static_ips"] and all(ipaddress.ip_address(ip) for ip in ingest["static_ips"])
    for role in ("primary", "secondary"):
        assert graph.outputs[role]["ingest"]["alb_dns_name"].endswith(".elb.amazonaws.com")


# -- pure helpers ------------------------------------------------------------------------


def test_container_definitions_are_identical_whatever_order_the_environment_comes_in() -> None:
    s = from_stack_file(ROOT / "Pulumi.slowprod.yaml").ingest
    environment = service_environment(s, "us-east-1", "raw", "failed", 5_000)
    reversed_environment = dict(reversed(list(environment.items())))
    first = container_definitions("image:1", 8080, environment, "/ecs/x", "us-east-1", 65)
    second = container_definitions("image:1", 8080, reversed_environment, "/ecs/x", "us-east-1", 65)
    assert first == second


@pytest.mark.parametrize(("drain", "ack", "expected"), [(25, 10, 65), (5, 10, 20), (38, 10, 91)])
def test_stop_timeout_covers_in_flight_requests_and_both_drains(drain: int, ack: int, expected: int) -> None:
    assert task_stop_timeout_seconds(drain, ack) == expected


def test_each_region_has_the_ingest_image_repository_immutable_scanned_encrypted_and_pruned(
    graph: Graph, settings: Settings
) -> None:
    for region in settings.regions:
        (repository,) = graph.in_region("aws:ecr/repository:Repository", region.name)
        names = RegionNames(settings.environment, region.name)
        assert repository.inputs["name"] == names.ingest_repository
        assert repository.inputs["imageTagMutability"] == "IMMUTABLE"
        assert repository.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
        (encryption,) = repository.inputs["encryptionConfigurations"]
        assert encryption["encryptionType"] == "KMS"
        assert encryption["kmsKey"].startswith(f"arn:aws:kms:{region.name}:123456789012:key/")
        assert repository.inputs["forceDelete"] is (not settings.ingest.deletion_protection)
        (lifecycle,) = graph.in_region("aws:ecr/lifecyclePolicy:LifecyclePolicy", region.name)
        assert lifecycle.inputs["repository"] == names.ingest_repository
        (rule,) = json.loads(lifecycle.inputs["policy"])["rules"]
        assert rule["selection"] == {"tagStatus": "any", "countType": "imageCountMoreThan",
                                     "countNumber": settings.ingest.keep_images}  # fmt: skip
        assert rule["action"] == {"type": "expire"}
