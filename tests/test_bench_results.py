"""Benchmark figures as data: every stage's reference file is there, says what, on what and where it
was measured, and is the writer's own output (a hand-edited figure breaks its digest)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import results
from bench.results import REFERENCE, STAGES, Figure, digest, document, record


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_has_reference_figures_with_their_workload_date_commit_and_machine(stage: str) -> None:
    data = results.reference(stage)
    assert data["stage"] == stage
    assert data["date"] >= "2026-12-05" and data["commit"]
    assert data["machine"]["cores"] >= 1 and data["machine"]["model"]
    assert data["figures"], "a benchmark that measured nothing"
    for figure in data["figures"]:
        assert set(figure) == {"name", "value", "unit", "workload"} and figure["value"] > 0
    assert data["digest"] == digest(data["figures"]), f"{stage}.json was edited by hand: run make bench-reference"


def test_a_figure_edited_by_hand_no_longer_matches_its_digest() -> None:
    data = json.loads((REFERENCE / "replay.json").read_text())
    data["figures"][0]["value"] *= 2
    assert data["digest"] != digest(data["figures"])


def test_the_writer_names_known_stages_only_and_keeps_the_reference_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match="not one of"):
        document("transcoder", [])
    monkeypatch.setattr(results, "RESULTS", tmp_path / "build")
    monkeypatch.setattr(results, "REFERENCE", tmp_path / "reference")
    monkeypatch.setattr(results, "ROOT", tmp_path)
    figures = [Figure("events_per_cpu_second", 1234.0, "events/s per CPU-second", "a workload")]
    assert [p.parent.name for p in record("replay", figures)] == ["build"]
    assert [p.parent.name for p in record("replay", figures, reference=True)] == ["build", "reference"]
    written = json.loads((tmp_path / "reference" / "replay.json").read_text())
    assert written["figures"] == [{"name": "events_per_cpu_second", "value": 1234.0,
                                   "unit": "events/s per CPU-second", "workload": "a workload"}]  # fmt: skip
