"""The settings reference (docs/settings.md) is written from the readers, and says what every key is for."""

from __future__ import annotations

import dataclasses

import pytest

from runtime.stack import reference
from runtime.stack.reader import KeyRule, stack_file_values
from tests.graph import ROOT, STACKS


def _keys_of(values: object, prefix: str = "") -> set[str]:
    """The leaf keys of a stack file's values, dotted, list items as [index]."""
    if isinstance(values, dict):
        return set().union(*(_keys_of(v, f"{prefix}.{k}" if prefix else k) for k, v in values.items()))
    if isinstance(values, list) and values and all(isinstance(item, dict) for item in values):
        return set().union(*(_keys_of(item, f"{prefix}[{i}]") for i, item in enumerate(values)))
    return {prefix}


def test_the_settings_page_is_what_the_readers_say() -> None:
    """`python -m runtime.stack.reference` rewrites the page when this fails."""
    text = reference.PAGE.read_text()
    assert reference.page_with(text, reference.generated()) == text


def test_every_key_the_stack_files_set_is_in_the_reference() -> None:
    documented = {reference.generic_key(rule.key) for rule in reference.read_rules()}
    for stack in STACKS:
        keys = {reference.generic_key(key) for key in _keys_of(stack_file_values(ROOT / f"Pulumi.{stack}.yaml"))}
        assert keys <= documented, (stack, sorted(keys - documented))


@pytest.mark.parametrize(
    ("key", "accepts", "default"),
    [
        ("streams.<kind>.shards", "whole number: >= 1", "required"),
        ("sessionStore.influxdb.retentionDays", "whole number: 0 to 36500", "`30`"),
        ("sessionizer.inactivityGapMs", "whole number: >= 5000", "`15000`"),
        ("replay.salt", "text: 1-64 of A-Z a-z 0-9 _ . -", "`<environment>-replay`"),
        ("replay.targets[].url", "text: an https:// URL of an ingest service", "unset"),
        ("network.<role>.vpcId", "text: a VPC id such as vpc-0123456789abcdef0", "required"),
        ("budget.actualAlertsPercent", "list of numbers: > 0", "`[80, 100]`"),
    ],
)
def test_a_keys_row_has_its_rule_and_default(key: str, accepts: str, default: str) -> None:
    row = next(line for line in reference.generated().splitlines() if line.startswith(f"| `{key}` |"))
    assert row.endswith(f"| {accepts} | {default} |")


def test_a_reader_whose_default_changes_no_longer_matches_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = reference.read_rules()
    changed = [dataclasses.replace(r, default=25) if r.key == "delivery.bufferSizeMb" else r for r in rules]
    monkeypatch.setattr(reference, "read_rules", lambda: changed)
    text = reference.PAGE.read_text()
    assert reference.page_with(text, reference.generated()) != text


def test_a_key_without_a_meaning_stops_the_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = KeyRule("delivery.newKey", "whole number", 1, ">= 1", False)
    rules = reference.read_rules()
    monkeypatch.setattr(reference, "read_rules", lambda: [*rules, extra])
    with pytest.raises(ValueError, match=r"no meaning for \['delivery.newKey'\]"):
        reference.generated()


def test_alarm_defaults_are_listed_for_every_kind() -> None:
    from runtime.stack import ALARM_KINDS

    text = reference.generated()
    for kind in ALARM_KINDS:
        assert f"| `{kind}` | " in text
