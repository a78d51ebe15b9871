"""docs/operations.md has one entry per alarm kind the program declares, in any stack, and no other."""

from __future__ import annotations

import re

import pytest

from components.alerting import ALARM_KIND_TAG
from tests.graph import ROOT, STACKS, Graph, stack_graph

RUNBOOK = ROOT / "docs" / "operations.md"
ALARM_TYPES = ("aws:cloudwatch/metricAlarm:MetricAlarm", "aws:cloudwatch/compositeAlarm:CompositeAlarm")


def runbook_entries() -> list[str]:
    return re.findall(r"^### (\S+)$", RUNBOOK.read_text(), flags=re.MULTILINE)


def alarm_kinds(graph: Graph) -> set[str]:
    return {alarm.inputs["tags"][ALARM_KIND_TAG] for token in ALARM_TYPES for alarm in graph.of_type(token)}


def test_every_alarm_of_a_stack_has_a_runbook_entry(graph: Graph) -> None:
    missing = alarm_kinds(graph) - set(runbook_entries())
    assert not missing, f"docs/operations.md has no entry for {sorted(missing)}"


@pytest.mark.built
def test_every_runbook_entry_names_an_alarm_and_appears_once() -> None:
    entries = runbook_entries()
    assert len(entries) == len(set(entries)), "an alarm kind has two entries"
    declared = set().union(*(alarm_kinds(stack_graph(stack)) for stack in STACKS))
    assert not set(entries) - declared, f"entries name no alarm: {sorted(set(entries) - declared)}"


def test_alarm_descriptions_link_their_runbook_entry(graph: Graph) -> None:
    for token in ALARM_TYPES:
        for alarm in graph.of_type(token):
            kind = alarm.inputs["tags"][ALARM_KIND_TAG]
            assert alarm.inputs["alarmDescription"].endswith(f"Runbook: docs/operations.md#{kind}"), alarm.name
