"""The sessionizer's Managed Flink application, for every stack: what `pulumi up` would declare."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from components.sessionizer import RUN_OPTIONS_GROUP, RUNTIME, artifact_key
from components.support.artifacts import PROJECT_ROOT
from runtime.names import region_code
from runtime.sessionizer.config import PROPERTY_GROUP, parse_config
from runtime.sessionizer.package import RUN_OPTIONS
from runtime.stack import Settings
from tests.graph import APPLICATION, CODE_OBJECT, LOG_GROUP, ROLE, ROLE_POLICY, STREAM, Graph, Resource, bucket_kind


def _groups(application: Resource) -> dict[str, dict[str, str]]:
    groups = application.inputs["applicationConfiguration"]["environmentProperties"]["propertyGroups"]
    return {g["propertyGroupId"]: g["propertyMap"] for g in groups}


def _streams(graph: Graph, region: str) -> dict[str, Resource]:
    return {s.inputs["name"].rsplit("-", 1)[1]: s for s in graph.of_type(STREAM) if s.region == region}


def _arn(stream: Resource) -> str:
    return f"arn:aws:kinesis:{stream.region}:123456789012:stream/{stream.inputs['name']}"


def test_one_started_flink_1_20_application_per_region(graph: Graph, settings: Settings) -> None:
    applications = graph.of_type(APPLICATION)
    assert sorted(str(a.region) for a in applications) == sorted(r.name for r in settings.regions)
    for application in applications:
        code = region_code(str(application.region))
        assert application.inputs["name"] == f"prism-{settings.environment}-{code}-sessionizer"
        assert application.inputs["runtimeEnvironment"] == RUNTIME == "FLINK-1_20"
        assert application.inputs["startApplication"] is True


def test_run_options_and_job_properties_are_what_the_zip_and_the_job_expect(graph: Graph, settings: Settings) -> None:
    s = settings.sessionizer
    for application in graph.of_type(APPLICATION):
        groups = _groups(application)
        assert set(groups) == {RUN_OPTIONS_GROUP, PROPERTY_GROUP}
        assert groups[RUN_OPTIONS_GROUP] == RUN_OPTIONS
        # The job's own parser accepts the group: a key renamed on one side fails here.
        config = parse_config(groups[PROPERTY_GROUP])
        streams = _streams(graph, str(application.region))
        assert (config.raw_stream, config.session_stream, config.late_stream) == tuple(
            streams[kind].inputs["name"] for kind in ("raw", "session", "late")
        )
        assert (config.environment, config.region, config.kinesis_endpoint) == (
            settings.environment, application.region, None,
        )  # fmt: skip
        assert (config.allowed_lateness_ms, config.out_of_orderness_ms) == (
            s.allowed_lateness_ms, s.out_of_orderness_ms,
        )  # fmt: skip
        assert (config.inactivity_gap_ms, config.update_interval_ms) == (s.inactivity_gap_ms, s.update_interval_ms)
        assert config.idle_advance_after_ms == s.idle_advance_after_ms
        assert config.execution_mode == s.execution_mode
        assert config.parallelism is None, "Managed Flink sets the parallelism, not the job"


def test_checkpoints_snapshots_parallelism_and_monitoring_follow_the_settings(graph: Graph, settings: Settings) -> None:
    s = settings.sessionizer
    for application in graph.of_type(APPLICATION):
        configuration = application.inputs["applicationConfiguration"]
        flink = configuration["flinkApplicationConfiguration"]
        assert flink["checkpointConfiguration"] == {
            "configurationType": "CUSTOM",
            "checkpointingEnabled": True,
            "checkpointInterval": s.checkpoint_interval_ms,
            "minPauseBetweenCheckpoints": s.min_pause_between_checkpoints_ms,
        }
        assert flink["parallelismConfiguration"] == {
            "configurationType": "CUSTOM",
            "parallelism": s.parallelism,
            "parallelismPerKpu": s.parallelism_per_kpu,
            "autoScalingEnabled": s.auto_scaling,
        }
        assert flink["monitoringConfiguration"] == {
            "configurationType": "CUSTOM", "logLevel": s.log_level, "metricsLevel": s.metrics_level,
        }  # fmt: skip
        assert configuration["applicationSnapshotConfiguration"] == {"snapshotsEnabled": s.snapshots}
        restore = configuration["runConfiguration"]["applicationRestoreConfiguration"]["applicationRestoreType"]
        assert restore == ("RESTORE_FROM_LATEST_SNAPSHOT" if s.snapshots else "SKIP_RESTORE_FROM_SNAPSHOT")
        # Off in every stack: a snapshot the job cannot restore whole fails the update, never drops sessions.
        assert configuration["runConfiguration"]["flinkRunConfiguration"] == {"allowNonRestoredState": False}
        assert s.allow_non_restored_state is False and s.state_migration is None


def test_the_code_is_the_built_zip_under_its_content_hash_in_the_region_artifacts_bucket(
    graph: Graph, settings: Settings
) -> None:
    zip_path = PROJECT_ROOT / settings.sessionizer.artifact
    digest = hashlib.sha256(zip_path.read_bytes()).hexdigest()
    objects = {o.region: o for o in graph.of_type(CODE_OBJECT)}
    region_codes = {region.name: region.code for region in settings.regions}
    for application in graph.of_type(APPLICATION):
        code = objects[application.region]
        assert (
            code.inputs["key"]
            == f"sessionizer/{region_codes[str(application.region)]}/prism-sessionizer-{digest[:16]}.zip"
        )
        assert code.inputs["source"] == {"fileAsset": str(zip_path)}
        assert code.inputs["serverSideEncryption"] == "aws:kms"
        bucket = graph.bucket_by_name(code.inputs["bucket"])
        assert bucket_kind(bucket) == "artifacts" and bucket.region == application.region
        location = application.inputs["applicationConfiguration"]["applicationCodeConfiguration"]
        assert location["codeContentType"] == "ZIPFILE"
        s3 = location["codeContent"]["s3ContentLocation"]
        assert s3["bucketArn"] == f"arn:aws:s3:::{code.inputs['bucket']}"
        assert s3["fileKey"] == code.inputs["key"]
        assert s3["objectVersion"], "the exact object version, not whatever the key holds later"


def test_the_content_hash_key_moves_only_with_the_content(tmp_path: Path) -> None:
    first, same, changed = tmp_path / "a.zip", tmp_path / "b.zip", tmp_path / "c.zip"
    first.write_bytes(b"code v1")
    same.write_bytes(b"code v1")
    changed.write_bytes(b"code v2")
    assert artifact_key(first, "use1") == artifact_key(same, "use1") != artifact_key(changed, "use1")


def test_each_region_pins_its_code_under_a_key_the_other_regions_replica_never_writes(
    graph: Graph, settings: Settings
) -> None:
    """With the artifacts bucket replicated both ways, a shared key would take the other region's
    replica as its current version and leave the pinned one noncurrent, for the lifecycle to delete."""
    keys = {str(code.region): code.inputs["key"] for code in graph.of_type(CODE_OBJECT)}
    assert set(keys) == {region.name for region in settings.regions}
    assert len(set(keys.values())) == 2


def test_the_service_role_reads_raw_writes_session_and_late_and_nothing_more(graph: Graph, settings: Settings) -> None:
    roles = {r.inputs["name"]: r for r in graph.of_type(ROLE)}
    policies = {p.name: p for p in graph.of_type(ROLE_POLICY)}
    for application in graph.of_type(APPLICATION):
        region = str(application.region)
        role_name = application.inputs["serviceExecutionRole"].rsplit("/", 1)[1]
        trust = json.loads(roles[role_name].inputs["assumeRolePolicy"])["Statement"][0]
        assert trust["Principal"] == {"Service": ["kinesisanalytics.amazonaws.com"]}
        assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
        code = region_code(region)
        document = json.loads(policies[f"{code}-sessionizer-policy"].inputs["policy"])
        statements = {s["Sid"]: s for s in document["Statement"]}
        streams = _streams(graph, region)
        assert statements["ReadRawEvents"]["Resource"] == [_arn(streams["raw"])]
        assert "kinesis:PutRecords" not in statements["ReadRawEvents"]["Action"]
        assert statements["WriteSessionsAndLateEvents"]["Resource"] == [
            _arn(streams["session"]), _arn(streams["late"]),
        ]  # fmt: skip
        assert not any(a.startswith("kinesis:Get") for a in statements["WriteSessionsAndLateEvents"]["Action"])
        key = application.inputs["applicationConfiguration"]["applicationCodeConfiguration"]
        s3 = key["codeContent"]["s3ContentLocation"]
        assert statements["ReadApplicationCode"]["Resource"] == [f"{s3['bucketArn']}/{s3['fileKey']}"]
        assert statements["UseRegionKeyForStreamsAndCode"]["Resource"][0].startswith(f"arn:aws:kms:{region}:")
        log_group = next(g for g in graph.of_type(LOG_GROUP) if g.inputs["name"].endswith(f"{code}-sessionizer"))
        assert statements["WriteApplicationLogs"]["Resource"] == [
            f"arn:aws:logs:{region}:123456789012:log-group:{log_group.inputs['name']}:log-stream:*"
        ]
        assert set(statements) == {
            "ReadRawEvents", "WriteSessionsAndLateEvents", "ReadApplicationCode", "UseRegionKeyForStreamsAndCode",
            "WriteApplicationLogs", "FindApplicationLogGroup",
        }  # fmt: skip


def test_logs_go_to_the_application_log_group_with_the_stack_retention(graph: Graph, settings: Settings) -> None:
    for application in graph.of_type(APPLICATION):
        name = application.inputs["name"]
        group = next(g for g in graph.of_type(LOG_GROUP) if g.inputs["name"] == f"/aws/kinesis-analytics/{name}")
        assert group.region == application.region
        assert group.inputs["retentionInDays"] == settings.log_retention_days
        stream_arn = application.inputs["cloudwatchLoggingOptions"]["logStreamArn"]
        group_arn = f"arn:aws:logs:{group.region}:123456789012:log-group:{group.inputs['name']}"
        assert stream_arn == f"{group_arn}:log-stream:application"


def test_production_timeouts_are_marked_and_the_application_arns_exported(graph: Graph, settings: Settings) -> None:
    wanted = "requested" if settings.sessionizer.production_timeouts else "default"
    for application in graph.of_type(APPLICATION):
        assert application.inputs["tags"] == {"production-timeouts": wanted}
    assert graph.outputs["sessionizer_production_timeouts"] is settings.sessionizer.production_timeouts
    for role, region in (("primary", settings.primary), ("secondary", settings.secondary)):
        exported = graph.outputs[role]["sessionizer"]
        name = f"prism-{settings.environment}-{region.code}-sessionizer"
        assert exported["name"] == name
        assert exported["arn"] == f"arn:aws:kinesisanalytics:{region.name}:123456789012:application/{name}"
