"""The live replayer under mocks: on in loadtest, off elsewhere unless enabled; least privilege; wiring."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.replay import TARGET_STREAM_ACTIONS
from preview.harness import computed_attributes
from runtime.names import RegionNames, data_key_alias
from runtime.replay.settings import load_settings
from runtime.stack import Settings
from tests.graph import FUNCTION, QUEUE, ROLE_POLICY, ROOT, Graph, Resource, load_graph

BUCKET_NOTIFICATION = "aws:s3/bucketNotification:BucketNotification"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
PERMISSION = "aws:lambda/permission:Permission"
INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"


def replayer(graph: Graph) -> Resource | None:
    return next((f for f in graph.of_type(FUNCTION) if f.inputs["name"].endswith("-replayer")), None)


def arn(resource: Resource) -> str:
    return str(computed_attributes(resource.type, resource.name, resource.inputs, resource.region or "")[1]["arn"])


def test_the_replayer_runs_in_loadtest_only_by_default(graph: Graph, settings: Settings) -> None:
    assert (replayer(graph) is not None) == (settings.environment == "loadtest") == settings.replay.enabled


@pytest.mark.built
def test_a_stack_can_turn_the_replayer_on(tmp_path: Path) -> None:
    document = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    document["config"]["prism-pipeline:replay"] = {
        "enabled": True,
        "source": {"bucket": "prism-slowprod-use1-raw-123456789012", "region": "us-east-1",
                   "keyArn": "arn:aws:kms:us-east-1:123456789012:key/0d5e2f6a-7b8c-4d9e-8f0a-1b2c3d4e5f6a"},
        "targets": [{"environment": "dev", "region": "us-east-1"}],
    }  # fmt: skip
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text(yaml.safe_dump(document))
    function = replayer(load_graph("dev", stack_file))
    assert function is not None and function.inputs["name"] == "prism-dev-use1-replayer"


def statements(graph: Graph) -> list[dict[str, Any]]:
    (policy,) = [p for p in graph.of_type(ROLE_POLICY) if p.name == "replay-policy"]
    return list(json.loads(policy.inputs["policy"])["Statement"])


def test_the_role_grants_the_source_prefix_its_key_and_the_target_streams_only(
    graph: Graph, settings: Settings
) -> None:
    if not settings.replay.enabled:
        pytest.skip("no replayer in this stack")
    source = settings.replay.source
    assert source is not None
    streams = [RegionNames(t.environment, t.region).stream("raw") for t in settings.replay.targets if t.url is None]
    by_sid = {s["Sid"]: s for s in statements(graph)}
    read = by_sid.pop("ReadSourcePrefix")
    assert (read["Action"], read["Resource"]) == (["s3:GetObject"], [f"arn:aws:s3:::{source.bucket}/{source.prefix}*"])
    decrypt = by_sid.pop("DecryptSourceObjects")
    assert (decrypt["Action"], decrypt["Resource"]) == (["kms:Decrypt"], [source.key_arn])
    put = by_sid.pop("PutToTargetStreams")
    assert set(put["Action"]) == set(TARGET_STREAM_ACTIONS)
    assert sorted(r.rsplit("/", 1)[1] for r in put["Resource"]) == sorted(streams)
    key_grants = [by_sid.pop(sid) for sid in list(by_sid) if sid.startswith("UseDataKeyOf")]
    assert sorted(g["Condition"]["ForAnyValue:StringEquals"]["kms:ResourceAliases"] for g in key_grants) == sorted(
        data_key_alias(t.environment) for t in settings.replay.targets if t.url is None
    )
    assert all(g["Action"] == ["kms:GenerateDataKey"] for g in key_grants)
    assert set(by_sid) == {"SendFailedObjects", "UseRegionKeyForQueue", "WriteLogs"}, "nothing else"


def test_objects_created_under_the_prefix_invoke_the_replayer_and_failures_keep_the_key(
    graph: Graph, settings: Settings
) -> None:
    function = replayer(graph)
    if function is None:
        pytest.skip("no replayer in this stack")
    source = settings.replay.source
    assert source is not None
    (notification,) = [n for n in graph.of_type(BUCKET_NOTIFICATION) if n.inputs["bucket"] == source.bucket]
    assert notification.inputs == {"bucket": source.bucket, "eventbridge": True}
    (rule,) = [r for r in graph.of_type(EVENT_RULE) if r.inputs["name"].endswith("-replay-objects")]
    pattern = json.loads(rule.inputs["eventPattern"])
    assert pattern["detail"] == {"bucket": {"name": [source.bucket]}, "object": {"key": [{"prefix": source.prefix}]}}
    assert [t.inputs["arn"] for t in graph.of_type(EVENT_TARGET) if t.inputs["rule"] == rule.inputs["name"]] == [
        arn(function)
    ]
    (permission,) = graph.of_type(PERMISSION)
    assert (permission.inputs["principal"], permission.inputs["sourceArn"]) == ("events.amazonaws.com", arn(rule))
    (invoke,) = graph.of_type(INVOKE_CONFIG)
    (queue,) = [q for q in graph.of_type(QUEUE) if q.inputs["name"].endswith("-replay-failed")]
    assert invoke.inputs["destinationConfig"]["onFailure"]["destination"] == arn(queue)
    assert function.region == source.region


def test_the_function_is_told_its_targets_by_the_replayers_own_settings(graph: Graph, settings: Settings) -> None:
    function = replayer(graph)
    if function is None:
        pytest.skip("no replayer in this stack")
    told = load_settings(function.inputs["environment"]["variables"])
    assert [(t.environment, t.region, t.multiplier, t.sample) for t in told.targets] == [
        (t.environment, t.region, t.multiplier, t.sample) for t in settings.replay.targets
    ]
    assert told.salt == settings.replay.salt
