"""The reconciler under mocks, in every stack and both regions: what it is told of, what it reads and
searches, what it may do, and that its settings reach the function as the stack gives them."""

from __future__ import annotations

import gzip
import io
import json
from typing import Any

from components.reconciler import ATHENA_RESULTS_PREFIX, VISIBILITY_PER_TIMEOUT
from preview.harness import ACCOUNT_ID
from runtime.names import RegionNames, archive_table, hour_folder
from runtime.reconciler.handler import ended_records
from runtime.reconciler.parts_table import EXPIRES_AT, SESSION_KEY
from runtime.reconciler.settings import load_settings
from runtime.stack import RegionSettings, Settings
from tests.components.test_replay import BUCKET_NOTIFICATION, EVENT_RULE, EVENT_TARGET, arn
from tests.graph import FUNCTION, MAPPING, QUEUE, ROLE_POLICY, Graph, Resource

DYNAMODB_TABLE = "aws:dynamodb/table:Table"
GLUE_TABLE = "aws:glue/catalogTable:CatalogTable"
GLUE_DATABASE = "aws:glue/catalogDatabase:CatalogDatabase"
WORKGROUP = "aws:athena/workgroup:Workgroup"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"


def named(graph: Graph, token: str, region: RegionSettings, name: str, key: str = "name") -> Resource:
    (resource,) = [r for r in graph.in_region(token, region.name) if r.inputs.get(key) == name]
    return resource


def names(settings: Settings, region: RegionSettings) -> RegionNames:
    return RegionNames(settings.environment, region.name)


def bucket(settings: Settings, region: RegionSettings, kind: str) -> str:
    return names(settings, region).bucket(kind, ACCOUNT_ID)


def statements(graph: Graph, region: RegionSettings) -> dict[str, dict[str, Any]]:
    (policy,) = [p for p in graph.in_region(ROLE_POLICY, region.name) if p.name.endswith("-reconciler-policy")]
    return {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}


def test_every_session_object_of_the_region_reaches_the_queue_held_back_by_the_settle_delay(
    graph: Graph, settings: Settings
) -> None:
    s = settings.reconciler
    for region in settings.regions:
        n = names(settings, region)
        session_bucket = bucket(settings, region, "session")
        [notification] = [x for x in graph.of_type(BUCKET_NOTIFICATION) if x.inputs["bucket"] == session_bucket]
        assert notification.inputs["eventbridge"] is True
        rule = named(graph, EVENT_RULE, region, n.reconciler_rule)
        pattern = json.loads(rule.inputs["eventPattern"])
        objects = {"bucket": {"name": [session_bucket]}, "object": {"key": [{"prefix": "session/year="}]}}
        assert pattern == {"source": ["aws.s3"], "detail-type": ["Object Created"], "detail": objects}
        queue = named(graph, QUEUE, region, n.reconciler_queue)
        failed = named(graph, QUEUE, region, n.reconciler_failed_queue)
        [target] = [t for t in graph.of_type(EVENT_TARGET) if t.inputs["rule"] == n.reconciler_rule]
        assert target.inputs["arn"] == arn(queue)
        assert queue.inputs["delaySeconds"] == s.settle_delay_seconds <= 900
        assert queue.inputs["visibilityTimeoutSeconds"] == VISIBILITY_PER_TIMEOUT * s.timeout_seconds
        assert json.loads(queue.inputs["redrivePolicy"]) == {"deadLetterTargetArn": arn(failed),
                                                             "maxReceiveCount": s.maximum_receives}  # fmt: skip
        (policy,) = [p for p in graph.in_region(QUEUE_POLICY, region.name) if p.inputs["queueUrl"].endswith(
            n.reconciler_queue)]  # fmt: skip
        [grant] = json.loads(policy.inputs["policy"])["Statement"]
        assert grant["Principal"] == {"Service": "events.amazonaws.com"} and grant["Action"] == "sqs:SendMessage"
        assert grant["Condition"] == {"ArnEquals": {"aws:SourceArn": arn(rule)}}


def test_the_function_reads_the_queue_in_batches_with_partial_failures_and_its_settings_are_the_stacks(
    graph: Graph, settings: Settings
) -> None:
    s = settings.reconciler
    for region in settings.regions:
        n = names(settings, region)
        function = named(graph, FUNCTION, region, n.reconciler_function)
        [mapping] = [m for m in graph.in_region(MAPPING, region.name) if m.inputs["functionName"] == arn(function)]
        assert mapping.inputs["eventSourceArn"] == arn(named(graph, QUEUE, region, n.reconciler_queue))
        assert mapping.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
        assert (mapping.inputs["batchSize"], mapping.inputs["maximumBatchingWindowInSeconds"]) == (
            s.batch_size, s.batching_window_seconds)  # fmt: skip
        assert function.inputs["timeout"] == s.timeout_seconds
        told = load_settings(function.inputs["environment"]["variables"])
        assert (told.region, told.session_stream) == (region.name, n.stream("session"))
        assert (told.parts_table, told.workgroup, told.archive_database) == (
            n.session_parts_table, n.reconciler_workgroup, n.archive_database)  # fmt: skip
        sessionizer = settings.sessionizer
        assert told.session_settings(region.name).inactivity_gap_ms == sessionizer.inactivity_gap_ms
        assert (told.allowed_lateness_ms, told.update_interval_ms) == (
            sessionizer.allowed_lateness_ms, sessionizer.update_interval_ms)  # fmt: skip
        # What it names exists: the table, the workgroup and the archive database.
        table = named(graph, DYNAMODB_TABLE, region, told.parts_table)
        assert table.inputs["hashKey"] == SESSION_KEY
        assert table.inputs["ttl"] == {"attributeName": EXPIRES_AT, "enabled": True}
        assert named(graph, WORKGROUP, region, told.workgroup)
        assert named(graph, GLUE_DATABASE, region, told.archive_database)


def test_the_archive_tables_read_the_hour_folders_firehose_writes_and_results_stay_encrypted(
    graph: Graph, settings: Settings
) -> None:
    for region in settings.regions:
        n = names(settings, region)
        for kind in ("raw", "late"):
            table = named(graph, GLUE_TABLE, region, archive_table(kind))
            assert table.inputs["databaseName"] == n.archive_database
            location = f"s3://{bucket(settings, region, kind)}/{kind}/"
            assert table.inputs["storageDescriptor"]["location"] == location
            template = table.inputs["parameters"]["storage.location.template"]
            assert template == location + "${hour_folder}/"
            assert table.inputs["parameters"]["projection.hour_folder.type"] == "injected"
            # An object Firehose wrote at 2026-12-05 03:xx UTC is under the folder a search names.
            key = f"{kind}/year=2026/month=12/day=05/hour=03/prism-x-1-2026-12-05-03-10-00-abc"
            folder = hour_folder(1_796_440_200_000)
            assert key.startswith(template.replace("${hour_folder}", folder).split("/", 3)[3])
        workgroup = named(graph, WORKGROUP, region, n.reconciler_workgroup)
        result = workgroup.inputs["configuration"]["resultConfiguration"]
        assert result["outputLocation"] == f"s3://{bucket(settings, region, 'artifacts')}/{ATHENA_RESULTS_PREFIX}"
        assert result["encryptionConfiguration"]["encryptionOption"] == "SSE_KMS"
        assert workgroup.inputs["configuration"]["enforceWorkgroupConfiguration"] is True


def test_the_role_may_do_what_the_function_calls_and_on_its_own_resources_only(
    graph: Graph, settings: Settings
) -> None:
    for region in settings.regions:
        n = names(settings, region)
        granted = statements(graph, region)
        actions = {action for s in granted.values() for action in s["Action"]}
        # Every AWS call runtime/reconciler makes, and what Athena does with the caller's permissions.
        assert actions >= {
            "s3:GetObject", "dynamodb:UpdateItem", "dynamodb:GetItem", "athena:StartQueryExecution",
            "athena:GetQueryExecution", "athena:GetQueryResults", "glue:GetTable", "s3:ListBucket", "s3:PutObject",
            "kinesis:PutRecords", "sqs:ReceiveMessage", "sqs:DeleteMessage", "kms:Decrypt", "kms:GenerateDataKey",
        }  # fmt: skip
        session_bucket = bucket(settings, region, "session")
        assert granted["ReadSessionObjects"]["Resource"] == [f"arn:aws:s3:::{session_bucket}/session/year=*"]
        assert granted["WriteSessionStream"]["Resource"] == [
            f"arn:aws:kinesis:{region.name}:{ACCOUNT_ID}:stream/{n.stream('session')}"
        ]
        assert granted["KeepSessionParts"]["Resource"] == [
            f"arn:aws:dynamodb:{region.name}:{ACCOUNT_ID}:table/{n.session_parts_table}"
        ]
        other = settings.other(region)
        for statement in granted.values():
            for resource in statement["Resource"]:
                assert f":{other.name}:" not in resource and f"-{other.code}-" not in resource, resource


def test_the_function_reads_the_objects_the_session_delivery_writes(graph: Graph, settings: Settings) -> None:
    """Compressed as delivery.compression says, which is one the function and Athena both read."""
    assert settings.delivery.compression in ("GZIP", "UNCOMPRESSED")
    record = {"sessionId": "s1", "region": "us-east-1", "final": True, "state": "ended", "version": 3}
    line = (json.dumps(record) + "\n").encode()
    body = gzip.compress(line) if settings.delivery.compression == "GZIP" else line

    class S3:
        class exceptions:
            NoSuchKey = KeyError

        def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
            return {"Body": io.BytesIO(body)}

    assert ended_records(S3(), "b", "k") == [record]
