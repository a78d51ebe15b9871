"""Stack settings: every stack file is valid; a bad value stops the program naming its key."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from runtime.names import region_code
from runtime.stack import InfluxDbSettings, SettingsError, from_stack_file, parse_settings, stack_file_values
from tests.graph import ROOT, STACKS, load_graph, run_program

CERTIFICATE_ARN_USE1 = "arn:aws:acm:us-east-1:123456789012:certificate/6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
CERTIFICATE_ARN_USW2 = "arn:aws:acm:us-west-2:123456789012:certificate/7a2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e"


def valid_values() -> dict[str, Any]:
    return stack_file_values(ROOT / "Pulumi.dev.yaml")


def with_value(path: str, value: Any) -> dict[str, Any]:
    """The dev stack's values with one dotted key set (or removed when value is ...)."""
    values = copy.deepcopy(valid_values())
    *parents, leaf = path.split(".")
    node = values
    for part in parents:
        node = node.setdefault(part, {})
    if value is ...:
        node.pop(leaf, None)
    else:
        node[leaf] = value
    return values


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_file_is_valid(stack: str) -> None:
    settings = from_stack_file(ROOT / f"Pulumi.{stack}.yaml")
    assert settings.environment == stack
    assert (settings.primary.name, settings.secondary.name) == ("us-east-1", "us-west-2")


def test_stacks_differ_where_environments_would() -> None:
    by_stack = {stack: from_stack_file(ROOT / f"Pulumi.{stack}.yaml") for stack in STACKS}
    raw_shards = {s: v.streams["raw"].shards for s, v in by_stack.items()}
    assert raw_shards["slowprod"] is not None and raw_shards["dev"] is not None
    assert raw_shards["slowprod"] > raw_shards["dev"]
    assert by_stack["loadtest"].streams["raw"].mode == "on-demand", "replay bursts need elastic capacity"
    retention = {s: v.streams["raw"].retention_hours for s, v in by_stack.items()}
    assert retention["datamart"] == max(retention.values())
    assert by_stack["slowprod"].replication.time_control
    assert not by_stack["dev"].replication.time_control
    timeouts = {s for s, v in by_stack.items() if v.sessionizer.production_timeouts}
    assert timeouts == {"slowprod", "loadtest"}, "production-level traffic needs the 300 s Flink timeouts"
    assert by_stack["slowprod"].sessionizer.parallelism > by_stack["dev"].sessionizer.parallelism


def influx_store(**influxdb: Any) -> dict[str, Any]:
    """The dev stack's sessionStore, switched to engine influxdb with these instance settings."""
    store = valid_values()["sessionStore"]
    kept = {k: v for k, v in store.items() if k not in ("memoryRetentionHours", "magneticRetentionDays")}
    return {**kept, "engine": "influxdb", "influxdb": influxdb}


BAD_CONFIGS = [
    ("unknown session store engine", "sessionStore.engine", "timescale",
     "prism-pipeline:sessionStore.engine must be one of liveanalytics, influxdb, got 'timescale'"),
    ("LiveAnalytics retention with influxdb", "sessionStore.memoryRetentionHours", 24,
     "prism-pipeline:sessionStore.memoryRetentionHours applies only to engine liveanalytics, got 24"),
    ("InfluxDB settings with liveanalytics", "sessionStore.engine", "liveanalytics",
     "prism-pipeline:sessionStore.influxdb applies only to engine influxdb"),
    ("unknown instance class", "sessionStore", influx_store(instanceType="db.r5.large"),
     "prism-pipeline:sessionStore.influxdb.instanceType must be one of db.influx.medium, "),
    ("storage under the minimum", "sessionStore", influx_store(allocatedStorageGb=10),
     "prism-pipeline:sessionStore.influxdb.allocatedStorageGb must be >= 20, got 10"),
    ("storage over the maximum", "sessionStore", influx_store(allocatedStorageGb=20_000),
     "prism-pipeline:sessionStore.influxdb.allocatedStorageGb must be <= 16384, got 20000"),
    ("storage under the tier's minimum", "sessionStore", influx_store(storageType="InfluxIOIncludedT3",
                                                                        allocatedStorageGb=100),
     "prism-pipeline:sessionStore.influxdb.allocatedStorageGb must be >= 400 with storageType InfluxIOIncludedT3"),
    ("unknown storage tier", "sessionStore", influx_store(storageType="gp3"),
     "prism-pipeline:sessionStore.influxdb.storageType must be one of InfluxIOIncludedT1"),
    ("negative bucket retention", "sessionStore", influx_store(retentionDays=-1),
     "prism-pipeline:sessionStore.influxdb.retentionDays must be >= 0, got -1"),
    ("a typo in the instance settings", "sessionStore", influx_store(instanceClass="db.influx.large"),
     "prism-pipeline:sessionStore.influxdb.instanceClass is not a known setting"),
    # (what is wrong, dotted key, value, the message it must give)
    ("same region twice", "regions.secondary", "us-east-1",
     "prism-pipeline:regions.secondary must differ from regions.primary, got 'us-east-1'"),
    ("zero shards", "streams.raw.shards", 0, "prism-pipeline:streams.raw.shards must be >= 1, got 0"),
    ("negative retention", "streams.session.retentionHours", -1,
     "prism-pipeline:streams.session.retentionHours must be >= 24, got -1"),
    ("retention past a year", "streams.retentionHours", 9000,
     "prism-pipeline:streams.retentionHours must be <= 8760, got 9000"),
    ("unknown capacity mode", "streams.late.mode", "serverless",
     "prism-pipeline:streams.late.mode must be one of on-demand, provisioned, got 'serverless'"),
    ("missing environment", "environment", ..., "prism-pipeline:environment is required, got None"),
    ("environment with upper case", "environment", "Dev", "prism-pipeline:environment must be 2-12 lower-case"),
    ("not a region", "regions.primary", "mars-1", "prism-pipeline:regions.primary must be an AWS region name"),
    ("shards on an on-demand stream", "streams.raw", {"mode": "on-demand", "shards": 2},
     "prism-pipeline:streams.raw.shards applies only to mode provisioned, got 2"),
    ("text for a number", "streams.raw.shards", "two", "prism-pipeline:streams.raw.shards must be a whole number"),
    ("buffer over Firehose's maximum", "delivery.bufferSizeMb", 256,
     "prism-pipeline:delivery.bufferSizeMb must be <= 128, got 256"),
    ("unknown compression", "delivery.compression", "BROTLI", "prism-pipeline:delivery.compression must be one of"),
    ("glacier too soon after IA", "archive.raw", {"infrequentAccessDays": 30, "glacierDays": 40},
     "prism-pipeline:archive.raw.glacierDays must be >= infrequentAccessDays + 30 (60), got 40"),
    ("IA before S3 allows it", "archive.raw.infrequentAccessDays", 10,
     "prism-pipeline:archive.raw.infrequentAccessDays must be >= 30, got 10"),
    ("expiry before the last transition", "archive.session", {"glacierDays": 90, "expirationDays": 60},
     "prism-pipeline:archive.session.expirationDays must be > the last transition day (90), got 60"),
    ("a typo in a key", "streams.raw.shard", 2, "prism-pipeline:streams.raw.shard is not a known setting, got 2"),
    ("missing owner tag", "tags.owner", ..., "prism-pipeline:tags.owner is required, got None"),
    ("not a flag", "replication.timeControl", "yes", "prism-pipeline:replication.timeControl must be true or false"),
    ("log retention CloudWatch refuses", "logRetentionDays", 10,
     "prism-pipeline:logRetentionDays must be a CloudWatch Logs retention period"),
    ("KMS window out of range", "kmsDeletionWindowDays", 3, "prism-pipeline:kmsDeletionWindowDays must be >= 7, got 3"),
    ("a section that is not an object", "streams", "fast", "prism-pipeline:streams must be an object, got 'fast'"),
    ("checkpoint pause as long as the interval", "sessionizer.minPauseBetweenCheckpointsMs", 60000,
     "prism-pipeline:sessionizer.minPauseBetweenCheckpointsMs must be < checkpointIntervalMs (60000), got 60000"),
    ("more subtasks per KPU than Managed Flink runs", "sessionizer.parallelismPerKpu", 9,
     "prism-pipeline:sessionizer.parallelismPerKpu must be <= 8, got 9"),
    ("an inactivity gap shorter than a heartbeat", "sessionizer.inactivityGapMs", 1000,
     "prism-pipeline:sessionizer.inactivityGapMs must be >= 5000, got 1000"),
    ("an execution mode PyFlink lacks", "sessionizer.executionMode", "loop",
     "prism-pipeline:sessionizer.executionMode must be one of process, thread"),
    ("an artifact that is not a zip", "sessionizer.artifact", "build/sessionizer.tar",
     "prism-pipeline:sessionizer.artifact must be a .zip path relative to the project"),
    # ingest infrastructure
    ("a certificate ARN that is not one", "ingest.primary.certificateArn", "arn:aws:acm:us-east-1:123:certificate/x",
     "prism-pipeline:ingest.primary.certificateArn must be an ACM certificate ARN"),
    ("a certificate of the other region", "ingest.primary.certificateArn", CERTIFICATE_ARN_USW2,
     "prism-pipeline:ingest.primary.certificateArn must be a certificate in the ALB's region (us-east-1)"),
    ("a certificate in one region only", "ingest.primary.certificateArn", CERTIFICATE_ARN_USE1,
     "prism-pipeline:ingest.secondary.certificateArn must be set in both regions or neither, got None"),
    ("no certificate and no HTTP", "ingest.allowHttp", False,
     "prism-pipeline:ingest.primary.certificateArn is required unless ingest.allowHttp is true, got None"),
    ("desired tasks above max", "ingest.tasks", {"min": 1, "desired": 5, "max": 2},
     "prism-pipeline:ingest.tasks.desired must be between min (1) and max (2), got 5"),
    ("desired tasks below min", "ingest.tasks", {"min": 3, "desired": 2, "max": 4},
     "prism-pipeline:ingest.tasks.desired must be between min (3) and max (4), got 2"),
    ("memory Fargate has no size for", "ingest.memoryMb", 3000,
     "prism-pipeline:ingest.memoryMb must be 512, 1024 or 2048 for cpu 256, got 3000"),
    ("CPU Fargate has no size for", "ingest.cpu", 768, "prism-pipeline:ingest.cpu must be a Fargate size"),
    ("an image tag of the stack's own", "ingest.imageTag", "1.0.0",
     "prism-pipeline:ingest.imageTag is no longer read: the stack's own repositories run the image tagged from the "
     "source (runtime/ingest/image.py); remove the key, got '1.0.0'"),
    ("a repository that keeps no image", "ingest.keepImages", 0, "prism-pipeline:ingest.keepImages must be >= 1"),
    ("a drain Fargate cuts short", "ingest.shutdownDrainSeconds", 60,
     "prism-pipeline:ingest.shutdownDrainSeconds is too long: in-flight requests plus two drains need 135 s"),
    ("a CORS origin with a path", "ingest.corsOrigins", ["https://player.example.com/app"],
     "prism-pipeline:ingest.corsOrigins must list origins such as https://player.example.com or *"),
    ("overlapping VPCs", "network.secondary.cidr", "10.40.128.0/17",
     "prism-pipeline:network.secondary.cidr must not overlap primary.cidr (10.40.0.0/16), got '10.40.128.0/17'"),
    ("a public VPC range", "network.primary.cidr", "8.8.0.0/16",
     "prism-pipeline:network.primary.cidr must be a private network of /16 to /22, got '8.8.0.0/16'"),
    ("an existing VPC with one zone", "network.primary",
     {"vpcId": "vpc-0123456789abcdef0", "publicSubnetIds": ["subnet-0123456789abcdef0"],
      "privateSubnetIds": ["subnet-0123456789abcdef1", "subnet-0123456789abcdef2"]},
     "prism-pipeline:network.primary.publicSubnetIds must name one subnet in each of network.availabilityZones (2)"),
    ("four zones", "network.availabilityZones", 4, "prism-pipeline:network.availabilityZones must be <= 3, got 4"),
    ("a rate window WAF lacks", "waf.rateWindowSeconds", 90,
     "prism-pipeline:waf.rateWindowSeconds must be 60, 120, 300 or 600, got 90"),
    ("a body limit past what WAF sees on an ALB", "waf.maxBodyBytes", 16384,
     "prism-pipeline:waf.maxBodyBytes must be <= 8192, got 16384"),
    ("an edge body limit below the service's", "waf.maxBodyBytes", 8192,
     "prism-pipeline:waf.maxBodyBytes must be >= ingest.maxBodyBytes (1048576), or unset"),
    ("a traffic dial over 100", "edge.primary.trafficDial", 101,
     "prism-pipeline:edge.primary.trafficDial must be <= 100, got 101"),
    ("a negative traffic dial", "edge.primary.trafficDial", -1,
     "prism-pipeline:edge.primary.trafficDial must be >= 0, got -1"),
    ("a weight over 255", "edge.secondary.weight", 256, "prism-pipeline:edge.secondary.weight must be <= 255, got 256"),
    ("both regions turned off", "edge", {"primary": {"trafficDial": 0}, "secondary": {"weight": 0}},
     "prism-pipeline:edge.secondary.trafficDial must leave one region taking traffic"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "value", "message"), [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_fails_naming_the_key(path: str, value: Any, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        parse_settings(with_value(path, value))
    assert str(raised.value).startswith(message)


def test_influxdb_settings_have_defaults_for_a_small_instance() -> None:
    store = parse_settings(with_value("sessionStore", influx_store())).session_store
    assert store.engine == "influxdb"
    assert store.store == InfluxDbSettings("db.influx.medium", "InfluxIOIncludedT1", 20, "SINGLE_AZ", 30)


def test_the_engine_any_account_can_create_is_the_default_and_every_stack_file_names_its_own() -> None:
    values = with_value("sessionStore", {})
    assert parse_settings(values).session_store.engine == "influxdb"
    for stack in STACKS:
        assert "engine" in stack_file_values(ROOT / f"Pulumi.{stack}.yaml")["sessionStore"], stack


def test_influxdb_needs_the_vpcs_the_program_creates() -> None:
    values = with_value("sessionStore", influx_store())
    values["network"]["secondary"] = {
        "vpcId": "vpc-0123456789abcdef0",
        "publicSubnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
        "privateSubnetIds": ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"],
    }
    with pytest.raises(SettingsError, match=r"sessionStore.engine influxdb needs network.secondary created"):
        parse_settings(values)


def test_numbers_and_flags_set_as_text_by_the_cli_are_read() -> None:
    values = with_value("streams.raw", {"mode": "provisioned", "shards": "4"})
    values["replication"] = {"timeControl": "true"}
    settings = parse_settings(values)
    assert settings.streams["raw"].shards == 4
    assert settings.replication.time_control is True


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("streams", ("raw", "shards"), 0, "prism-pipeline:streams.raw.shards must be >= 1, got 0"),
        ("sessionizer", ("artifact",), "build/nowhere/prism-sessionizer.zip",
         "prism-pipeline:sessionizer.artifact must name a built zip (run `make sessionizer-zip`)"),
        ("budget", ("monthlyLimitUsd",), 0, "prism-pipeline:budget.monthlyLimitUsd must be > 0, got 0"),
    ],
)  # fmt: skip
def test_bad_config_stops_the_program_before_any_resource(
    tmp_path: Path, section: str, key: tuple[str, ...], value: object, message: str
) -> None:
    document = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    target = document["config"][f"prism-pipeline:{section}"]
    for part in key[:-1]:
        target = target[part]
    target[key[-1]] = value
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text(yaml.safe_dump(document))

    result = run_program("dev", stack_file)

    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("region", "code"),
    [("us-east-1", "use1"), ("us-west-2", "usw2"), ("eu-central-1", "euc1"), ("ap-southeast-2", "apse2"),
     ("us-gov-west-1", "usgw1")],
)  # fmt: skip
def test_region_codes_are_short_and_distinct(region: str, code: str) -> None:
    assert region_code(region) == code


def test_region_code_rejects_a_non_region() -> None:
    with pytest.raises(ValueError, match="not an AWS region name"):
        region_code("us-middle-1")


@pytest.mark.built
def test_an_existing_vpc_is_used_as_it_is(tmp_path: Path) -> None:
    document = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    existing = {
        "vpcId": "vpc-0123456789abcdef0",
        "publicSubnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
        "privateSubnetIds": ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"],
    }
    document["config"]["prism-pipeline:network"]["primary"] = existing
    # An existing VPC allows only the session store engine that needs none.
    store = document["config"]["prism-pipeline:sessionStore"]
    store.pop("influxdb")
    store["engine"] = "liveanalytics"
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text(yaml.safe_dump(document))

    graph = load_graph("dev", stack_file)

    assert [v.region for v in graph.of_type("aws:ec2/vpc:Vpc")] == ["us-west-2"], "only the secondary VPC is created"
    assert not [e for e in graph.of_type("aws:ec2/vpcEndpoint:VpcEndpoint") if e.region == "us-east-1"]
    (alb,) = [a for a in graph.of_type("aws:lb/loadBalancer:LoadBalancer") if a.region == "us-east-1"]
    assert alb.inputs["subnets"] == existing["publicSubnetIds"]
    (service,) = [s for s in graph.of_type("aws:ecs/service:Service") if s.region == "us-east-1"]
    assert service.inputs["networkConfiguration"]["subnets"] == existing["privateSubnetIds"]
    (group,) = [g for g in graph.of_type("aws:lb/targetGroup:TargetGroup") if g.region == "us-east-1"]
    assert group.inputs["vpcId"] == existing["vpcId"]


def with_image(image: str) -> dict[str, Any]:
    """The dev stack's values with an image elsewhere instead of its own repository's tag."""
    return with_value("ingest.image", image)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ("{account}.dkr.ecr.{region}.amazonaws.com/prism-ingest:latest",
         "prism-pipeline:ingest.image must name a release tag or digest, not latest"),
        ("ghcr.io/prism/ingest:1.0.0", "prism-pipeline:ingest.image must be in each region's own ECR"),
    ],
)  # fmt: skip
def test_a_bad_image_elsewhere_fails_naming_the_key(image: str, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        parse_settings(with_image(image))
    assert str(raised.value).startswith(message)


def test_the_stacks_use_their_own_repository() -> None:
    ingest = parse_settings(valid_values()).ingest
    assert (ingest.image, ingest.keep_images, ingest.from_ecr) == (None, 30, True)
    with pytest.raises(ValueError, match="own repository"):
        ingest.image_for("us-east-1", "210987654321")


def test_an_image_elsewhere_names_its_ecr_repository_in_each_region() -> None:
    ingest = parse_settings(with_image("{account}.dkr.ecr.{region}.amazonaws.com/prism-ingest:1.4.0")).ingest
    assert ingest.from_ecr
    assert ingest.ecr_repository_arn("us-west-2", "210987654321", "aws") == (
        "arn:aws:ecr:us-west-2:210987654321:repository/prism-ingest"
    )
    values = with_image("ghcr.io/prism/ingest:1.0.0")
    values["network"]["egress"] = "nat"
    elsewhere = parse_settings(values).ingest
    assert not elsewhere.from_ecr
    with pytest.raises(ValueError, match="not an ECR image"):
        elsewhere.ecr_repository_arn("us-east-1", "210987654321", "aws")
