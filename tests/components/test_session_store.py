"""The session store (Timestream, the session writer Lambda, its event source) and Grafana, for every stack
switched to engine liveanalytics, as an account that has it would keep it; tests/components/test_influxdb_store.py
runs each as its file says (influxdb)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.support.artifacts import PROJECT_ROOT, source_code_hash
from policy.config import policy_config
from policy.offline import run_policies
from preview.deploy_actions import with_engine
from runtime.names import region_code
from runtime.session_writer.package import PACKAGE
from runtime.stack import LiveAnalyticsSettings, Settings, from_stack_file
from tests.graph import (
    DATABASE,
    FUNCTION,
    INFLUX_INSTANCE,
    LOG_GROUP,
    MAPPING,
    PEERING,
    QUEUE,
    ROLE_POLICY,
    SECRET,
    STREAM,
    TABLE,
    WORKSPACE,
    Graph,
    Resource,
    bucket_kind,
    load_graph,
)

ACCOUNT = "123456789012"
# Retention other than the defaults, so the settings are seen to reach the table.
RETENTION = {"memoryRetentionHours": 48, "magneticRetentionDays": 730}


@pytest.fixture(scope="module")
def liveanalytics_file(stack: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = with_engine(stack, "liveanalytics", tmp_path_factory.mktemp(f"liveanalytics-{stack}"))
    document = yaml.safe_load(path.read_text())
    document["config"]["prism-pipeline:sessionStore"].update(RETENTION)
    path.write_text(yaml.safe_dump(document))
    return path


# This module's graph and settings: the conftest's, with the stack's file switched to liveanalytics.
@pytest.fixture(scope="module")
def graph(stack: str, liveanalytics_file: Path) -> Graph:
    return load_graph(stack, liveanalytics_file)


@pytest.fixture(scope="module")
def settings(liveanalytics_file: Path) -> Settings:
    return from_stack_file(liveanalytics_file)


def _policy(graph: Graph, name: str) -> dict[str, dict[str, Any]]:
    policy = next(p for p in graph.of_type(ROLE_POLICY) if p.name == name)
    return {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}


def test_each_region_has_a_sessions_table_with_the_stack_retention(graph: Graph, settings: Settings) -> None:
    s = settings.session_store.store
    assert isinstance(s, LiveAnalyticsSettings)
    for region in settings.regions:
        [database] = graph.in_region(DATABASE, region.name)
        [table] = graph.in_region(TABLE, region.name)
        assert database.inputs["databaseName"] == f"prism-{settings.environment}-{region.code}-sessions"
        assert database.inputs["kmsKeyId"].startswith(f"arn:aws:kms:{region.name}:")
        assert (table.inputs["databaseName"], table.inputs["tableName"]) == (
            database.inputs["databaseName"],
            "sessions",
        )
        assert table.inputs["retentionProperties"] == {
            "memoryStoreRetentionPeriodInHours": s.memory_retention_hours,
            "magneticStoreRetentionPeriodInDays": s.magnetic_retention_days,
        }
        magnetic = table.inputs["magneticStoreWriteProperties"]
        assert magnetic["enableMagneticStoreWrites"] is True
        report = magnetic["magneticStoreRejectedDataLocation"]["s3Configuration"]
        bucket = graph.bucket_by_name(report["bucketName"])
        assert (bucket_kind(bucket), bucket.region) == ("artifacts", region.name)
        assert (report["encryptionOption"], report["objectKeyPrefix"]) == ("SSE_KMS", "timestream-rejected/")


def writer_functions(graph: Graph, region: str) -> list[Resource]:
    return [f for f in graph.in_region(FUNCTION, region) if f.inputs["name"].endswith("-session-writer")]


def failed_batch_queues(graph: Graph, region: str) -> list[Resource]:
    return [q for q in graph.in_region(QUEUE, region) if q.inputs["name"].endswith("-session-writer-failed")]


def test_the_writer_lambda_is_the_built_zip_on_arm64_with_the_stack_sizing(graph: Graph, settings: Settings) -> None:
    s = settings.session_store
    zip_path = PROJECT_ROOT / s.artifact
    for region in settings.regions:
        [function] = writer_functions(graph, region.name)
        inputs = function.inputs
        assert inputs["name"] == f"prism-{settings.environment}-{region.code}-session-writer"
        assert (inputs["runtime"], inputs["architectures"], inputs["handler"]) == (
            "python3.12",
            ["arm64"],
            PACKAGE.handler,
        )
        assert inputs["code"] == {"fileArchive": str(zip_path)}
        assert inputs["sourceCodeHash"] == source_code_hash(zip_path)
        assert (inputs["memorySize"], inputs["timeout"]) == (s.memory_mb, s.timeout_seconds)
        assert inputs["reservedConcurrentExecutions"] == s.reserved_concurrency
        [table] = graph.in_region(TABLE, region.name)
        variables = inputs["environment"]["variables"]
        assert (variables["SESSION_STORE_DATABASE"], variables["SESSION_STORE_TABLE"]) == (
            table.inputs["databaseName"], "sessions",
        )  # fmt: skip
        group = next(
            g for g in graph.in_region(LOG_GROUP, region.name) if g.inputs["name"] == f"/aws/lambda/{inputs['name']}"
        )
        assert inputs["loggingConfig"] == {"logFormat": "JSON", "logGroup": group.inputs["name"]}
        assert group.inputs["retentionInDays"] == settings.log_retention_days


def test_the_event_source_reads_the_region_session_stream_with_partial_failures(
    graph: Graph, settings: Settings
) -> None:
    s = settings.session_store
    for region in settings.regions:
        [mapping] = [m for m in graph.in_region(MAPPING, region.name) if ":kinesis:" in m.inputs["eventSourceArn"]]
        [queue] = failed_batch_queues(graph, region.name)
        stream = next(x for x in graph.in_region(STREAM, region.name) if x.inputs["name"].endswith("-session"))
        inputs = mapping.inputs
        assert inputs["eventSourceArn"] == f"arn:aws:kinesis:{region.name}:{ACCOUNT}:stream/{stream.inputs['name']}"
        assert inputs["functionName"].endswith(f":function:prism-{settings.environment}-{region.code}-session-writer")
        assert inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
        assert inputs["bisectBatchOnFunctionError"] is True
        assert (inputs["batchSize"], inputs["maximumBatchingWindowInSeconds"]) == (
            s.batch_size, s.batching_window_seconds,
        )  # fmt: skip
        assert (inputs["parallelizationFactor"], inputs["startingPosition"]) == (
            s.parallelization_factor, s.starting_position,
        )  # fmt: skip
        assert (inputs["maximumRetryAttempts"], inputs["maximumRecordAgeInSeconds"]) == (
            s.maximum_retry_attempts, s.maximum_record_age_seconds,
        )  # fmt: skip
        assert (
            inputs["destinationConfig"]["onFailure"]["destinationArn"]
            == f"arn:aws:sqs:{region.name}:{ACCOUNT}:{queue.inputs['name']}"
        )
        assert queue.inputs["kmsMasterKeyId"].startswith(f"arn:aws:kms:{region.name}:")
        assert queue.inputs["messageRetentionSeconds"] == s.failed_batch_retention_days * 86_400


def test_the_writer_role_writes_only_its_table_and_reads_only_its_stream(graph: Graph, settings: Settings) -> None:
    for region in settings.regions:
        statements = _policy(graph, f"{region_code(region.name)}-session-store-policy")
        [table] = graph.in_region(TABLE, region.name)
        database, name = table.inputs["databaseName"], table.inputs["tableName"]
        assert statements["WriteSessionsTable"] == {
            "Sid": "WriteSessionsTable", "Effect": "Allow", "Action": ["timestream:WriteRecords"],
            "Resource": [f"arn:aws:timestream:{region.name}:{ACCOUNT}:database/{database}/table/{name}"],
        }  # fmt: skip
        assert statements["DiscoverTimestreamEndpoints"]["Action"] == ["timestream:DescribeEndpoints"]
        [stream_arn] = statements["ReadSessionStream"]["Resource"]
        assert str(stream_arn).endswith(f"-{region.code}-session")
        [queue] = failed_batch_queues(graph, region.name)
        assert statements["SendFailedBatches"]["Resource"] == [
            f"arn:aws:sqs:{region.name}:{ACCOUNT}:{queue.inputs['name']}"
        ]
        via = statements["UseRegionKeyForStreamAndQueue"]["Condition"]
        assert via == {"StringEquals": {"kms:ViaService": [f"kinesis.{region.name}.amazonaws.com",
                                                          f"sqs.{region.name}.amazonaws.com"]}}  # fmt: skip
        assert set(statements) == {
            "ReadSessionStream", "WriteSessionsTable", "DiscoverTimestreamEndpoints", "SendFailedBatches",
            "UseRegionKeyForStreamAndQueue", "WriteLogs",
        }  # fmt: skip


def test_one_grafana_workspace_reads_both_regions_tables(graph: Graph, settings: Settings) -> None:
    [workspace] = graph.of_type(WORKSPACE)
    assert workspace.region == settings.grafana.region
    inputs = workspace.inputs
    assert inputs["dataSources"] == ["TIMESTREAM"]
    assert (inputs["accountAccessType"], inputs["permissionType"]) == ("CURRENT_ACCOUNT", "SERVICE_MANAGED")
    statements = _policy(graph, "grafana-policy")
    tables = sorted(statements["QuerySessionsTables"]["Resource"])
    assert tables == sorted(
        f"arn:aws:timestream:{t.region}:{ACCOUNT}:database/{t.inputs['databaseName']}/table/sessions"
        for t in graph.of_type(TABLE)
    )
    assert "timestream:WriteRecords" not in json.dumps(statements)
    assert graph.outputs["grafana"]["region"] == settings.grafana.region


def test_liveanalytics_makes_no_influxdb_resources_and_the_stack_passes_every_policy(
    graph: Graph, settings: Settings, stack: str
) -> None:
    assert settings.session_store.engine == "liveanalytics"
    for kind in (INFLUX_INSTANCE, SECRET, PEERING):
        assert graph.of_type(kind) == []
    for region in settings.regions:
        [function] = writer_functions(graph, region.name)
        assert "vpcConfig" not in function.inputs
        assert function.inputs["environment"]["variables"]["SESSION_STORE_ENGINE"] == "liveanalytics"
    assert [str(v) for v in run_policies(graph, policy_config(stack))] == []
