"""docs/operations.md has one entry per alarm kind the program declares, in any stack, and no other."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from components.operations.alerting import ALARM_KIND_TAG
from preview.deploy_actions import with_engine
from tests.graph import ROOT, STACKS, Graph, load_graph, stack_graph

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
def test_every_runbook_entry_names_an_alarm_and_appears_once(tmp_path: Path) -> None:
    entries = runbook_entries()
    assert len(entries) == len(set(entries)), "an alarm kind has two entries"
    # Every stack as its file says (influxdb), and one with the other session store engine.
    liveanalytics = load_graph("dev", with_engine("dev", "liveanalytics", tmp_path))
    graphs = [*(stack_graph(stack) for stack in STACKS), liveanalytics]
    declared = set().union(*(alarm_kinds(graph) for graph in graphs))
    assert not set(entries) - declared, f"entries name no alarm: {sorted(set(entries) - declared)}"


def test_alarm_descriptions_link_their_runbook_entry(graph: Graph) -> None:
    for token in ALARM_TYPES:
        for alarm in graph.of_type(token):
            kind = alarm.inputs["tags"][ALARM_KIND_TAG]
            assert alarm.inputs["alarmDescription"].endswith(f"Runbook: docs/operations.md#{kind}"), alarm.name
