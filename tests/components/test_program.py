"""The Pulumi program under mocks, for every stack: what `pulumi up` would declare."""

from __future__ import annotations

import json
from collections import Counter, defaultdict

from components.influxdb import FORMER_TYPE as INFLUX_FORMER_TYPE
from components.influxdb import TYPE as INFLUX_TYPE
from components.support.artifacts import PROJECT_ROOT
from runtime.names import STREAM_KINDS
from runtime.stack import Settings
from tests.graph import (
    BUCKET,
    FIREHOSE,
    REPLICATION,
    ROLE_POLICY,
    STREAM,
    VERSIONING,
    Graph,
    Resource,
    bucket_kind,
)


def test_each_region_has_three_streams_four_firehoses_and_five_buckets(graph: Graph, settings: Settings) -> None:
    """Streams raw, session, late; a Firehose per stream plus failed events; a bucket per
    stream, the artifacts bucket and the ALB's access logs."""
    expected = {region.name for region in settings.regions}
    for token, count in ((STREAM, 3), (FIREHOSE, 4), (BUCKET, 5)):
        per_region = Counter(r.region for r in graph.of_type(token))
        assert per_region == {region: count for region in expected}, token


def test_every_aws_resource_comes_from_an_explicit_region_provider(graph: Graph, settings: Settings) -> None:
    regions = {region.name for region in settings.regions}
    for resource in graph.aws_resources():
        assert "pulumi:providers:aws::aws-" in resource.provider, resource.urn
        assert resource.region in regions, resource.urn


def test_providers_tag_everything_with_project_environment_and_role(graph: Graph, settings: Settings) -> None:
    providers = {p.name: p for p in graph.of_type("pulumi:providers:aws")}
    assert set(providers) == {"aws-primary", "aws-secondary", "aws-global"}
    assert providers["aws-global"].inputs["region"] == "us-west-2", "Global Accelerator's API region"
    for name, provider in providers.items():
        tags = json.loads(provider.inputs["defaultTags"])["tags"]
        role = name.removeprefix("aws-")
        if role != "global":
            assert provider.inputs["region"] == getattr(settings, role).name
        assert tags["project"] == "prism-pipeline"
        assert tags["environment"] == settings.environment
        assert tags["region-role"] == role
        assert tags["managed-by"] == "pulumi"
        assert tags["owner"] == settings.tags.owner


def test_physical_names_are_readable_and_deterministic(graph: Graph, settings: Settings) -> None:
    for stream in graph.of_type(STREAM):
        region = next(r for r in settings.regions if r.name == stream.region)
        assert stream.inputs["name"] in {f"prism-{settings.environment}-{region.code}-{k}" for k in STREAM_KINDS}
    for bucket in graph.of_type(BUCKET):
        name = bucket.inputs["bucket"]
        assert name == name.lower() and len(name) <= 63
        assert name.startswith(f"prism-{settings.environment}-")


def test_replication_edges_form_exactly_two_opposite_directions_per_bucket_kind(
    graph: Graph, settings: Settings
) -> None:
    edges: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for configuration in graph.of_type(REPLICATION):
        source = graph.bucket_by_name(configuration.inputs["bucket"])
        (rule,) = configuration.inputs["rules"]
        destination = graph.bucket_by_arn(rule["destination"]["bucket"])
        assert bucket_kind(source) == bucket_kind(destination)
        assert configuration.region == source.region, "declared in the source bucket's region"
        edges[bucket_kind(source)].append((str(source.region), str(destination.region)))

    replicated = {"raw", "session", "late"} | ({"artifacts"} if settings.replication.artifacts else set())
    assert set(edges) == replicated
    primary, secondary = settings.primary.name, settings.secondary.name
    for kind, kind_edges in edges.items():
        assert sorted(kind_edges) == sorted([(primary, secondary), (secondary, primary)]), kind


def test_each_source_bucket_has_one_replication_configuration(graph: Graph) -> None:
    per_bucket = Counter(c.inputs["bucket"] for c in graph.of_type(REPLICATION))
    assert set(per_bucket.values()) == {1}


def test_replication_waits_for_versioning_of_both_buckets(graph: Graph) -> None:
    versioning_of = {v.inputs["bucket"]: v.urn for v in graph.of_type(VERSIONING)}
    for configuration in graph.of_type(REPLICATION):
        (rule,) = configuration.inputs["rules"]
        destination = graph.bucket_by_arn(rule["destination"]["bucket"])
        assert versioning_of[configuration.inputs["bucket"]] in configuration.dependencies
        assert versioning_of[destination.inputs["bucket"]] in configuration.dependencies


def test_replication_rules_sync_replicas_delete_markers_and_kms_objects(graph: Graph, settings: Settings) -> None:
    key_arns = {graph.outputs[role]["region"]: graph.outputs[role]["key_arn"] for role in ("primary", "secondary")}
    for configuration in graph.of_type(REPLICATION):
        (rule,) = configuration.inputs["rules"]
        destination = rule["destination"]
        destination_region = graph.bucket_by_arn(destination["bucket"]).region
        assert rule["status"] == "Enabled"
        assert rule["deleteMarkerReplication"] == {"status": "Enabled"}
        criteria = rule["sourceSelectionCriteria"]
        assert criteria["replicaModifications"] == {"status": "Enabled"}
        assert criteria["sseKmsEncryptedObjects"] == {"status": "Enabled"}
        # Replicas are re-encrypted with the destination region's own key.
        assert destination_region != configuration.region
        assert destination["encryptionConfiguration"]["replicaKmsKeyId"] == key_arns[destination_region]
        if settings.replication.time_control:
            assert destination["replicationTime"] == {"status": "Enabled", "time": {"minutes": 15}}
            assert destination["metrics"]["status"] == "Enabled"
        else:
            assert "replicationTime" not in destination


def test_one_replication_role_per_direction(graph: Graph, settings: Settings) -> None:
    roles = {c.inputs["role"] for c in graph.of_type(REPLICATION)}
    p, s = settings.primary.code, settings.secondary.code
    assert {role.rsplit("/", 1)[1] for role in roles} == {
        f"prism-{settings.environment}-replication-{p}-to-{s}",
        f"prism-{settings.environment}-replication-{s}-to-{p}",
    }


def test_every_bucket_is_versioned_encrypted_private_and_tls_only(graph: Graph) -> None:
    keys = {k.region: k for k in graph.of_type("aws:kms/key:Key")}
    for bucket in graph.of_type(BUCKET):
        (versioning,) = graph.attached_to_bucket(VERSIONING, bucket)
        assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"

        (encryption,) = graph.attached_to_bucket(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", bucket
        )
        (rule,) = encryption.inputs["rules"]
        default = rule["applyServerSideEncryptionByDefault"]
        if bucket_kind(bucket) == "accesslogs":
            # ALB log delivery writes with S3-managed keys only.
            assert default == {"sseAlgorithm": "AES256"}
        else:
            assert default["sseAlgorithm"] == "aws:kms"
            assert default["kmsMasterKeyId"].startswith(f"arn:aws:kms:{bucket.region}:")
            assert keys[bucket.region].inputs["enableKeyRotation"] is True

        (block,) = graph.attached_to_bucket("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", bucket)
        for setting in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
            assert block.inputs[setting] is True, setting

        (ownership,) = graph.attached_to_bucket("aws:s3/bucketOwnershipControls:BucketOwnershipControls", bucket)
        assert ownership.inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"

        (policy,) = graph.attached_to_bucket("aws:s3/bucketPolicy:BucketPolicy", bucket)
        deny, *writers = json.loads(policy.inputs["policy"])["Statement"]
        assert [w["Sid"] for w in writers] == (
            ["AlbLogDelivery", "AlbLogDeliveryService"] if bucket_kind(bucket) == "accesslogs" else []
        )
        bucket_arn = f"arn:aws:s3:::{bucket.inputs['bucket']}"
        assert deny["Effect"] == "Deny"
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert sorted(deny["Resource"]) == [bucket_arn, f"{bucket_arn}/*"]


def test_every_bucket_has_a_lifecycle_from_settings(graph: Graph, settings: Settings) -> None:
    for bucket in graph.of_type(BUCKET):
        (lifecycle,) = graph.attached_to_bucket(
            "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", bucket
        )
        rules = {rule["id"]: rule for rule in lifecycle.inputs["rules"]}
        main = rules["old-versions"] if bucket_kind(bucket) == "artifacts" else rules["tiering-and-expiry"]
        if bucket_kind(bucket) == "accesslogs":
            assert main["expiration"]["days"] == settings.ingest.access_log_expiration_days
            continue
        assert main["abortIncompleteMultipartUpload"]["daysAfterInitiation"] == (
            settings.archive.abort_incomplete_upload_days
        )
        if bucket_kind(bucket) == "artifacts":
            assert "expiration" not in main, "current code artifacts never expire"
            continue
        wanted = settings.archive.lifecycle(bucket_kind(bucket))  # type: ignore[arg-type]
        assert main["noncurrentVersionExpiration"]["noncurrentDays"] == wanted.noncurrent_expiration_days
        transitions = {t["storageClass"]: t["days"] for t in main.get("transitions", [])}
        assert transitions.get("STANDARD_IA") == wanted.infrequent_access_days
        assert transitions.get("GLACIER") == wanted.glacier_days
        assert main.get("expiration", {}).get("days") == wanted.expiration_days


# Actions AWS defines without resource-level permissions: "*" is the only resource they take.
# Actions that have no resource ARN; PutMetricData is limited by a namespace condition instead.
ACCOUNT_LEVEL_ACTIONS = {
    "timestream:DescribeEndpoints", "timestream:ListDatabases", "ecr:GetAuthorizationToken", "cloudwatch:PutMetricData",
    "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
}  # fmt: skip


def test_every_role_policy_names_specific_actions_and_resources(graph: Graph) -> None:
    policies = graph.of_type(ROLE_POLICY)
    assert policies
    for policy in policies:
        for statement in json.loads(policy.inputs["policy"])["Statement"]:
            assert statement["Effect"] == "Allow"
            for action in statement["Action"]:
                assert "*" not in action, f"{policy.name}: {action}"
            assert statement["Resource"], policy.name
            if statement["Resource"] == ["*"]:
                assert set(statement["Action"]) <= ACCOUNT_LEVEL_ACTIONS, f"{policy.name}: {statement['Action']}"
                if "cloudwatch:PutMetricData" in statement["Action"]:
                    assert statement["Condition"]["StringEquals"]["cloudwatch:namespace"], policy.name
                continue
            for resource in statement["Resource"]:
                assert resource.startswith("arn:aws:"), f"{policy.name}: {resource}"
                assert resource.split(":", 5)[5] not in ("*", ""), f"{policy.name}: {resource}"


def stream_firehoses(graph: Graph) -> list[Resource]:
    """The Firehoses fed by a stream (the failed-events one takes direct puts)."""
    return [f for f in graph.of_type(FIREHOSE) if "kinesisSourceConfiguration" in f.inputs]


def test_firehose_reads_its_stream_and_writes_its_bucket_in_its_region(graph: Graph, settings: Settings) -> None:
    streams = {s.inputs["name"]: s for s in graph.of_type(STREAM)}
    for firehose in stream_firehoses(graph):
        source = firehose.inputs["kinesisSourceConfiguration"]
        stream_name = source["kinesisStreamArn"].rsplit("/", 1)[1]
        kind = stream_name.rsplit("-", 1)[1]
        assert streams[stream_name].region == firehose.region
        s3 = firehose.inputs["extendedS3Configuration"]
        bucket = graph.bucket_by_arn(s3["bucketArn"])
        assert bucket.region == firehose.region and bucket_kind(bucket) == kind
        assert s3["prefix"].startswith(f"{kind}/year=!{{timestamp:yyyy}}/month=")
        assert s3["prefix"].endswith("hour=!{timestamp:HH}/")
        assert "!{firehose:error-output-type}" in s3["errorOutputPrefix"]
        assert s3["compressionFormat"] == settings.delivery.compression
        assert s3["bufferingSize"] == settings.delivery.buffer_size_mb
        assert s3["bufferingInterval"] == settings.delivery.buffer_interval_seconds
        assert s3["kmsKeyArn"].startswith(f"arn:aws:kms:{firehose.region}:")
        assert s3["cloudwatchLoggingOptions"]["enabled"] is True
        processors = [p["type"] for p in s3["processingConfiguration"]["processors"]]
        assert processors == ["AppendDelimiterToRecord"]
        assert source["roleArn"] == s3["roleArn"]


def test_firehose_role_is_scoped_to_its_own_stream_bucket_and_key(graph: Graph) -> None:
    policies = {p.name.removesuffix("-policy"): p for p in graph.of_type(ROLE_POLICY)}
    for firehose in stream_firehoses(graph):
        document = json.loads(policies[firehose.name].inputs["policy"])
        statements = {s["Sid"]: s for s in document["Statement"]}
        assert statements["ReadSourceStream"]["Resource"] == [
            firehose.inputs["kinesisSourceConfiguration"]["kinesisStreamArn"]
        ]
        bucket_arn = firehose.inputs["extendedS3Configuration"]["bucketArn"]
        assert statements["LocateBucket"]["Resource"] == [bucket_arn]
        assert all(r.startswith(f"{bucket_arn}/") for r in statements["WriteUnderPrefixes"]["Resource"])
        assert statements["UseRegionKeyForStreamAndObjects"]["Resource"] == [
            firehose.inputs["extendedS3Configuration"]["kmsKeyArn"]
        ]


def test_streams_follow_the_stack_settings(graph: Graph, settings: Settings) -> None:
    for stream in graph.of_type(STREAM):
        kind = stream.inputs["name"].rsplit("-", 1)[1]
        wanted = settings.streams[kind]
        assert stream.inputs["retentionPeriod"] == wanted.retention_hours
        assert stream.inputs["encryptionType"] == "KMS"
        assert stream.inputs["kmsKeyId"].startswith(f"arn:aws:kms:{stream.region}:")
        mode = stream.inputs["streamModeDetails"]["streamMode"]
        if wanted.mode == "provisioned":
            assert (mode, stream.inputs["shardCount"]) == ("PROVISIONED", wanted.shards)
        else:
            assert mode == "ON_DEMAND" and "shardCount" not in stream.inputs


def test_stack_outputs_name_streams_and_buckets_per_region(graph: Graph, settings: Settings) -> None:
    assert graph.outputs["environment"] == settings.environment
    for role, region in (("primary", settings.primary), ("secondary", settings.secondary)):
        exported = graph.outputs[role]
        assert exported["region"] == region.name
        assert set(exported["streams"]) == set(STREAM_KINDS)
        for kind, stream in exported["streams"].items():
            assert stream["name"] == f"prism-{settings.environment}-{region.code}-{kind}"
            assert stream["arn"] == f"arn:aws:kinesis:{region.name}:123456789012:stream/{stream['name']}"
        assert set(exported["buckets"]) == {"raw", "session", "late", "artifacts"}
        declared = {
            b.inputs["bucket"]
            for b in graph.of_type(BUCKET)
            if b.region == region.name and bucket_kind(b) != "accesslogs"
        }
        assert set(exported["buckets"].values()) == declared


def test_every_component_child_has_a_parent(graph: Graph) -> None:
    components = {r.urn for r in graph.resources if r.type.startswith("prism:")}
    for resource in graph.aws_resources():
        assert resource.parent in components, f"{resource.urn} is not inside a component"


def test_every_component_token_names_its_module_and_class(graph: Graph) -> None:
    """prism:<module>:<Class>, the module being the file that defines the class (components/**/<module>.py)."""
    tokens = {r.type for r in graph.resources if r.type.startswith("prism:")}
    assert tokens
    for token in tokens:
        _, module, name = token.split(":")
        defining = [path for path in (PROJECT_ROOT / "components").rglob(f"{module}.py")
                    if f"class {name}(" in path.read_text()]  # fmt: skip
        assert defining, f"{token}: no components/**/{module}.py defines {name}"


def test_the_influxdb_component_keeps_the_urns_it_was_deployed_with(graph: Graph, settings: Settings) -> None:
    """Its token moved to its own module; the alias carries deployed instances (and their children) over."""
    databases = [r for r in graph.resources if r.type == INFLUX_TYPE]
    assert len(databases) == (2 if settings.session_store.engine == "influxdb" else 0)
    assert all(r.aliases == (INFLUX_FORMER_TYPE,) for r in databases)
