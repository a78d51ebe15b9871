"""Stack settings: every stack file is valid; a bad value stops the program naming its key."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.settings import SettingsError, from_stack_file, parse_settings, region_code, stack_file_values
from tests.graph import ROOT, STACKS, run_program


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


BAD_CONFIGS = [
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
]  # fmt: skip


@pytest.mark.parametrize(("path", "value", "message"), [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_fails_naming_the_key(path: str, value: Any, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        parse_settings(with_value(path, value))
    assert str(raised.value).startswith(message)


def test_numbers_and_flags_set_as_text_by_the_cli_are_read() -> None:
    values = with_value("streams.raw", {"mode": "provisioned", "shards": "4"})
    values["replication"] = {"timeControl": "true"}
    settings = parse_settings(values)
    assert settings.streams["raw"].shards == 4
    assert settings.replication.time_control is True


def test_bad_config_stops_the_program_before_any_resource(tmp_path: Path) -> None:
    document = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    document["config"]["prism-pipeline:streams"]["raw"]["shards"] = 0
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text(yaml.safe_dump(document))

    result = run_program("dev", stack_file)

    assert result.returncode == 2
    assert "prism-pipeline:streams.raw.shards must be >= 1, got 0" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_a_missing_application_zip_stops_the_program_naming_the_build(tmp_path: Path) -> None:
    document = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    document["config"]["prism-pipeline:sessionizer"]["artifact"] = "build/nowhere/prism-sessionizer.zip"
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text(yaml.safe_dump(document))

    result = run_program("dev", stack_file)

    assert result.returncode == 2
    assert "prism-pipeline:sessionizer.artifact must name a built zip (run `make sessionizer-zip`)" in result.stderr
    assert "Traceback" not in result.stderr


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
