"""Sessionizer settings: Managed Flink's property groups, a local file, or environment variables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime.sessionizer.config import ConfigError, load_config, parse_config

REQUIRED = {
    "environment": "dev",
    "region": "us-east-1",
    "raw.stream": "prism-dev-use1-raw",
    "session.stream": "prism-dev-use1-session",
    "late.stream": "prism-dev-use1-late",
}


def test_defaults_derive_the_inactivity_gap_from_the_heartbeat() -> None:
    config = parse_config({**REQUIRED, "heartbeat.interval.ms": "4000"})
    assert config.inactivity_gap_ms == 12_000
    assert (config.execution_mode, config.initial_position, config.kinesis_endpoint) == ("process", "LATEST", None)
    assert config.parallelism is None
    assert (config.bundle_size, config.state_cache_size) == (100_000, 100_000)
    assert config.idle_advance_after_ms == config.out_of_orderness_ms == 5_000


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({k: v for k, v in REQUIRED.items() if k != "raw.stream"}, "sessionizer property raw.stream is required"),
        ({**REQUIRED, "allowed.lateness.ms": "soon"}, "allowed.lateness.ms must be a whole number, got 'soon'"),
        ({**REQUIRED, "update.interval.ms": "10"}, "update.interval.ms must be >= 100, got 10"),
        ({**REQUIRED, "inactivity.gap.ms": "1000"}, "inactivity.gap.ms must be >= 5000, got 1000"),
        ({**REQUIRED, "python.execution.mode": "loop"}, "python.execution.mode must be one of process, thread"),
        ({**REQUIRED, "source.initial.position": "AT_TIMESTAMP"}, "source.initial.position must be one of"),
    ],
)
def test_a_bad_value_names_the_property(values: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        parse_config(values)


def test_the_managed_flink_file_with_environment_overrides(tmp_path: Path) -> None:
    properties = tmp_path / "application_properties.json"
    properties.write_text(
        json.dumps(
            [
                {"PropertyGroupId": "kinesis.analytics.flink.run.options", "PropertyMap": {"python": "main.py"}},
                {"PropertyGroupId": "sessionizer", "PropertyMap": {**REQUIRED, "parallelism": "2"}},
            ]
        )
    )
    environ = {"PRISM_SESSIONIZER_KINESIS_ENDPOINT": "http://127.0.0.1:4567", "PRISM_SESSIONIZER_REGION": "us-west-2"}
    config = load_config(environ, properties)
    assert (config.raw_stream, config.parallelism) == ("prism-dev-use1-raw", 2)
    assert (config.kinesis_endpoint, config.region) == ("http://127.0.0.1:4567", "us-west-2")


def test_environment_alone_is_enough_locally(tmp_path: Path) -> None:
    environ = {f"PRISM_SESSIONIZER_{k.upper().replace('.', '_')}": v for k, v in REQUIRED.items()}
    environ["PRISM_SESSIONIZER_PROPERTIES"] = str(tmp_path / "absent.json")
    assert load_config(environ).late_stream == "prism-dev-use1-late"
