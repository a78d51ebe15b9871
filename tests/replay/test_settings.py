"""The replayer's environment: written by its owner, read back the same; a bad value named."""

from __future__ import annotations

import pytest

from runtime.replay.settings import ReplaySettings, SettingsError, TargetSpec, environment, load_settings

SETTINGS = ReplaySettings(
    targets=(
        TargetSpec("datamart", "us-east-1", stream="prism-datamart-use1-raw", multiplier=2),
        TargetSpec("dev", "us-west-2", url="https://ingest.dev.example.com/", sample=0.5),
    ),
    salt="loadtest",
    region="us-east-1",
    chunk_events=2_000,
)


def test_the_environment_round_trips() -> None:
    assert load_settings(environment(SETTINGS)) == SETTINGS


@pytest.mark.parametrize(
    ("targets", "message"),
    [
        ("nope", "REPLAY_TARGETS must be a JSON list of targets"),
        ("[]", "REPLAY_TARGETS must be a non-empty JSON list"),
        ('[{"environment": "dev"}]', "REPLAY_TARGETS[0] needs environment and region"),
        ('[{"environment": "dev", "region": "us-east-1"}]', "REPLAY_TARGETS[0] needs exactly one of stream and url"),
        ('[{"environment": "dev", "region": "r", "stream": "s", "colour": 1}]', "REPLAY_TARGETS[0] must be an object"),
        ('[{"environment": "dev", "region": "r", "url": "ftp://x"}]', "REPLAY_TARGETS[0] url must be an http://"),
        ('[{"environment": "dev", "region": "r", "stream": "s", "multiplier": 0}]',
         "REPLAY_TARGETS[0] multiplier must be a whole number >= 1"),
        ('[{"environment": "dev", "region": "r", "stream": "s", "sample": 2}]', "REPLAY_TARGETS[0] sample must be"),
    ],
)  # fmt: skip
def test_bad_targets_are_named(targets: str, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({"REPLAY_TARGETS": targets, "REPLAY_SALT": "s"})
    assert str(raised.value).startswith(message)


def test_the_salt_is_required() -> None:
    with pytest.raises(SettingsError, match="REPLAY_SALT is required"):
        load_settings({"REPLAY_TARGETS": '[{"environment": "d", "region": "r", "stream": "s"}]'})
