"""The reconciler's settings: defaults that hold in every stack, and each bad value named by its key."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.stack import SettingsError, parse_settings, stack_file_values
from runtime.stack.reconciler import MAX_QUEUE_DELAY_SECONDS
from tests.graph import ROOT, STACKS


def with_sections(**sections: dict[str, Any]) -> dict[str, Any]:
    values = stack_file_values(ROOT / "Pulumi.dev.yaml")
    for name, section in sections.items():
        values[name] = {**values.get(name, {}), **section}
    return values


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_waits_out_replication_and_archives_what_the_reconciler_reads(stack: str) -> None:
    settings = parse_settings(stack_file_values(ROOT / f"Pulumi.{stack}.yaml"))
    assert settings.reconciler.settle_delay_seconds == MAX_QUEUE_DELAY_SECONDS
    assert settings.delivery.compression in ("GZIP", "UNCOMPRESSED")


BAD = [
    ("a delay SQS cannot hold", {"reconciler": {"settleDelaySeconds": 901}},
     "prism-pipeline:reconciler.settleDelaySeconds must be <= 900"),
    ("a big batch gathered in no time", {"reconciler": {"batchSize": 100, "batchingWindowSeconds": 0}},
     "prism-pipeline:reconciler.batchingWindowSeconds must be at least 1 when batchSize is over 10"),
    ("a timeout past Lambda's", {"reconciler": {"timeoutSeconds": 901}},
     "prism-pipeline:reconciler.timeoutSeconds must be <= 900"),
    ("an unknown key", {"reconciler": {"enabled": False}}, "prism-pipeline:reconciler.enabled is not a known setting"),
    ("objects neither Python nor Athena reads", {"delivery": {"compression": "Snappy"}},
     "prism-pipeline:delivery.compression must be one of"),
]  # fmt: skip


@pytest.mark.parametrize(("sections", "message"), [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_a_bad_reconciler_setting_fails_naming_the_key(sections: dict[str, dict[str, Any]], message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        parse_settings(with_sections(**sections))
    assert str(raised.value).startswith(message)
