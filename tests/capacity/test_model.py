"""The capacity model: every stage of every stack from measured figures, and the program's refusal."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import yaml

from runtime import ops
from runtime.capacity import page
from runtime.capacity.check import check_peak
from runtime.capacity.cost import monthly_costs, per_thousand_viewer_hours
from runtime.capacity.figures import REFERENCE, Figures, Measured, MissingFigure
from runtime.capacity.model import capacity_model
from runtime.capacity.prices import price_table
from runtime.stack import SettingsError, from_stack_file, parse_settings, stack_file_values
from tests.graph import ROOT, STACKS, run_program

STAGES = (
    "ingest tasks",
    "ingest task memory",
    "raw stream",
    "session stream",
    "late stream",
    "raw delivery",
    "session delivery",
    "late delivery",
    "sessionizer KPUs",
    "sessionizer state",
    "session writer concurrency",
)


class RecordingFigures(Figures):
    """The repository's figures, noting every one the model asks for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[Measured] = []

    def get(self, stage: str, name: str) -> Measured:
        figure = super().get(stage, name)
        self.asked.append(figure)
        return figure


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_carries_its_declared_peak_in_every_stage(stack: str) -> None:
    settings = from_stack_file(ROOT / f"Pulumi.{stack}.yaml")
    model = capacity_model(settings)

    assert model.viewers == settings.capacity.peak_viewers
    for region in settings.regions:
        stages = [need.stage for need in model.needs if need.region == region.name]
        assert set(STAGES) <= set(stages)
        assert any(stage.startswith("session store") for stage in stages)
    assert model.shortfalls == []
    for need in model.needs:
        assert need.sources, need
        assert need.need >= 0
    check_peak(settings)  # no refusal


@pytest.mark.parametrize("stack", STACKS)
def test_every_figure_the_model_uses_comes_from_a_reference_file(stack: str) -> None:
    figures = RecordingFigures()
    model = capacity_model(from_stack_file(ROOT / f"Pulumi.{stack}.yaml"), figures=figures)
    monthly_costs(model, price_table(), figures)

    used = {figure.stage for figure in figures.asked}
    assert used >= {"traffic", "ingest", "sessionizer", "sessionizer-state", "session-writer"}
    for figure in figures.asked:
        document = json.loads((REFERENCE / f"{figure.stage}.json").read_text())
        written = [{**f, "value": float(f["value"])} for f in document["figures"]]
        assert {"name": figure.name, "value": figure.value, "unit": figure.unit, "workload": figure.workload} in written


def test_a_figure_missing_from_the_reference_names_the_file_and_the_make_target(tmp_path: Path) -> None:
    shutil.copytree(REFERENCE, tmp_path, dirs_exist_ok=True)
    (tmp_path / "sessionizer.json").unlink()
    settings = from_stack_file(ROOT / "Pulumi.dev.yaml")

    with pytest.raises(MissingFigure, match=r"sessionizer\.json is missing: run `make bench-reference`"):
        capacity_model(settings, figures=Figures(tmp_path))


def test_the_command_says_a_missing_figure_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    shutil.copytree(REFERENCE, tmp_path, dirs_exist_ok=True)
    (tmp_path / "traffic.json").unlink()
    monkeypatch.setattr(Figures.__init__, "__defaults__", (tmp_path,))

    assert ops.main(["capacity", "--stack", "dev"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "traffic.json is missing: run `make bench-reference`" in error
    assert "Traceback" not in error


def test_more_viewers_need_more_of_every_stage_that_grows_with_them() -> None:
    settings = from_stack_file(ROOT / "Pulumi.slowprod.yaml")
    small = {(n.region, n.stage): n.need for n in capacity_model(settings, 1_000).needs}
    large = {(n.region, n.stage): n.need for n in capacity_model(settings, 1_000_000).needs}

    for key, need in small.items():
        if key[1] != "ingest task memory":
            assert large[key] > need or large[key] == need == 1, key


def test_a_stage_below_its_need_is_refused_naming_the_stage_the_need_and_the_setting() -> None:
    settings = from_stack_file(ROOT / "Pulumi.slowprod.yaml")
    short = dataclasses.replace(settings, streams={**settings.streams, "session": dataclasses.replace(
        settings.streams["session"], shards=1)})  # fmt: skip

    with pytest.raises(SettingsError) as refusal:
        check_peak(short)

    message = str(refusal.value)
    assert message.startswith("prism-pipeline:streams.session.shards cannot carry capacity.peakViewers")
    assert "session stream in us-east-1 needs" in message
    assert "streams.session.shards gives 1" in message
    assert message.endswith("got 1")


def test_the_program_refuses_a_stack_that_cannot_carry_its_peak_before_any_resource(tmp_path: Path) -> None:
    document = yaml.safe_load((ROOT / "Pulumi.slowprod.yaml").read_text())
    document["config"]["prism-pipeline:sessionizer"]["parallelism"] = 1
    document["config"]["prism-pipeline:capacity"]["peakViewers"] = 2_000_000
    stack_file = tmp_path / "Pulumi.slowprod.yaml"
    stack_file.write_text(yaml.safe_dump(document))

    result = run_program("slowprod", stack_file)

    assert result.returncode == 2
    assert "cannot carry capacity.peakViewers (2,000,000)" in result.stderr
    assert "sessionizer KPUs in us-east-1 needs" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("stack", STACKS)
def test_the_monthly_cost_counts_every_region_and_a_price_per_viewer_hour(stack: str) -> None:
    settings = from_stack_file(ROOT / f"Pulumi.{stack}.yaml")
    costs = monthly_costs(capacity_model(settings), price_table())

    assert [cost.region for cost in costs] == [r.name for r in settings.regions]
    assert all(cost.total > 0 for cost in costs)
    assert sum(line.item == "accelerator" for cost in costs for line in cost.lines) == 1
    assert per_thousand_viewer_hours(costs) > 0


def test_every_price_names_its_page() -> None:
    table = price_table()
    assert table.date
    for name, price in table.prices.items():
        assert price.source.startswith("https://aws.amazon.com/"), name
        assert price.usd > 0, name


def test_the_command_prints_every_stage_and_its_sources(capsys: pytest.CaptureFixture[str]) -> None:
    assert ops.main(["capacity", "--stack", "slowprod"]) == 0
    out = capsys.readouterr().out
    stage_tables = out.split("monthly cost")[0]
    for stage in STAGES:
        assert stage_tables.count(f"  {stage} ") == 2, stage
    assert "bench/reference/sessionizer.json" in out
    assert "Kinesis Data Streams developer guide" in out
    assert "USD per 1,000 viewer-hours" in out


def test_the_command_says_json_and_fails_when_a_stage_is_short(capsys: pytest.CaptureFixture[str]) -> None:
    assert ops.main(["capacity", "--stack", "dev", "--viewers", "10000000", "--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["viewers"] == 10_000_000
    assert any(not stage["carried"] for stage in document["stages"])
    assert {line["item"] for line in document["monthlyCost"][0]["lines"]} >= {"sessionizer (Managed Flink)"}


def test_the_capacity_page_holds_what_the_model_gives_for_the_four_stacks() -> None:
    text = page.PAGE.read_text()
    assert page.page_with(text, page.tables()) == text, "run `python -m runtime.capacity.page`"


def test_a_timestream_store_is_sized_in_writes_and_priced_per_write() -> None:
    values = stack_file_values(ROOT / "Pulumi.dev.yaml")
    values["sessionStore"] = {"engine": "liveanalytics"}
    settings = parse_settings(values)
    model = capacity_model(settings, 10_000)

    writes = [need for need in model.needs if need.stage == "session store writes"]
    assert len(writes) == 2 and all(need.setting is None and need.need > 0 for need in writes)
    lines = [line for cost in monthly_costs(model, price_table()) for line in cost.lines]
    assert any(line.item == "session store (Timestream)" and line.usd > 0 for line in lines)
