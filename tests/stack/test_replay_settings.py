"""The replayer's settings: off unless asked (on in loadtest), and every bad value named by its key."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from runtime.stack import SettingsError, parse_settings, stack_file_values
from tests.graph import ROOT

KEY_USE1 = "arn:aws:kms:us-east-1:123456789012:key/0d5e2f6a-7b8c-4d9e-8f0a-1b2c3d4e5f6a"
VALID: dict[str, Any] = {
    "enabled": True,
    "source": {"bucket": "prism-slowprod-use1-raw-123456789012", "region": "us-east-1", "keyArn": KEY_USE1},
    "targets": [{"environment": "datamart", "region": "us-east-1"}],
}


def with_replay(**changes: Any) -> dict[str, Any]:
    values = stack_file_values(ROOT / "Pulumi.dev.yaml")
    replay = copy.deepcopy(VALID)
    for key, value in changes.items():
        *parents, leaf = key.split(".")
        node: Any = replay
        for part in parents:
            node = node[part]
        if value is ...:
            node.pop(leaf)
        else:
            node[leaf] = value
    values["replay"] = replay
    return values


BAD_REPLAY = [
    ("source region outside the stack", {"source.region": "eu-west-1"},
     "prism-pipeline:replay.source.region must be one of the stack's regions (us-east-1, us-west-2)"),
    ("key of another region", {"source.region": "us-west-2"},
     "prism-pipeline:replay.source.keyArn must be a key in us-west-2, the bucket's region"),
    ("key not an ARN", {"source.keyArn": "alias/prism-slowprod-data"},
     "prism-pipeline:replay.source.keyArn must be a KMS key ARN"),
    ("no bucket", {"source.bucket": ...}, "prism-pipeline:replay.source.bucket is required"),
    ("no targets", {"targets": []}, "prism-pipeline:replay.targets must list at least one target environment"),
    ("target is the source's environment", {"targets": [{"environment": "slowprod", "region": "us-east-1"}]},
     "prism-pipeline:replay.targets[0].environment must differ from the source bucket's environment"),
    ("plain HTTP target", {"targets": [{"environment": "dev", "region": "us-east-1", "url": "http://x.example.com/"}]},
     "prism-pipeline:replay.targets[0].url must be an https:// URL"),
    ("zero multiplier", {"targets": [{"environment": "dev", "region": "us-east-1", "multiplier": 0}]},
     "prism-pipeline:replay.targets[0].multiplier must be >= 1"),
    ("sample above one", {"targets": [{"environment": "dev", "region": "us-east-1", "sample": 2}]},
     "prism-pipeline:replay.targets[0].sample must be <= 1"),
    ("unknown target key", {"targets": [{"environment": "dev", "region": "us-east-1", "speed": 2}]},
     "prism-pipeline:replay.targets[0].speed is not a known setting"),
    ("targets not objects", {"targets": ["dev"]}, "prism-pipeline:replay.targets must be a list of objects"),
    ("source while disabled", {"enabled": False}, "prism-pipeline:replay.enabled must be true for source and targets"),
    ("a session bucket as the source", {"source.bucket": "prism-slowprod-use1-session-123456789012"},
     "prism-pipeline:replay.source.bucket must not be a session bucket: its stack's reconciler owns"),
    ("retries past Lambda's two", {"maximumRetryAttempts": 3},
     "prism-pipeline:replay.maximumRetryAttempts must be <= 2"),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "message"), [case[1:] for case in BAD_REPLAY], ids=[c[0] for c in BAD_REPLAY])
def test_bad_replay_setting_fails_naming_the_key(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        parse_settings(with_replay(**changes))
    assert str(raised.value).startswith(message)


def test_the_source_environment_is_allowed_when_asked() -> None:
    values = with_replay(targets=[{"environment": "slowprod", "region": "us-east-1"}], allowSameEnvironment=True)
    assert parse_settings(values).replay.targets[0].environment == "slowprod"


def test_off_outside_loadtest_unless_enabled() -> None:
    assert not parse_settings(stack_file_values(ROOT / "Pulumi.dev.yaml")).replay.enabled
    assert parse_settings(with_replay()).replay.enabled
