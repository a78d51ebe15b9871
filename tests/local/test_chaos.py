"""Faults while viewers play: nothing acknowledged is lost, sessions end as the ground truth, every part comes back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from runtime.local import chaos as chaos_module
from runtime.local.chaos import FAULT_KINDS, WINDOW, Chaos, Fault, plan
from runtime.local.options import Options
from runtime.local.pipeline import run


def test_the_plan_is_one_fault_of_each_kind_in_the_window_and_the_same_for_a_seed() -> None:
    faults = plan(3, 100.0, ["us-east-1", "us-west-2"])
    assert sorted(fault.kind for fault in faults) == sorted(FAULT_KINDS)
    assert all(WINDOW[0] * 100 <= fault.at_s <= WINDOW[1] * 100 for fault in faults)
    assert [fault.at_s for fault in faults] == sorted(fault.at_s for fault in faults)
    assert faults == plan(3, 100.0, ["us-east-1", "us-west-2"])
    assert faults != plan(4, 100.0, ["us-east-1", "us-west-2"])


class FakePart:
    """A part that records what was asked of it."""

    def __init__(self, name: str, calls: list[str]) -> None:
        self.name = name
        self.calls = calls

    def start(self) -> object:
        return self

    def healthy(self) -> bool:
        return True

    def stop(self) -> None:
        self.calls.append(f"stop {self.name}")

    def kill(self) -> None:
        self.calls.append(f"kill {self.name}")

    def restart(self) -> None:
        self.calls.append(f"restart {self.name}")

    def problems(self) -> list[str]:
        return []


class Modes:
    """The fault proxy's mode, with every value it was set to."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    @property
    def mode(self) -> str:
        return self.seen[-1] if self.seen else "pass"

    @mode.setter
    def mode(self, value: str) -> None:
        self.seen.append(value)


def test_each_fault_acts_on_its_part_through_the_part_interface(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chaos_module, "THROTTLE_SECONDS", 0.0)
    calls: list[str] = []
    faults = [Fault(kind, "us-west-2", 0.0) for kind in FAULT_KINDS]
    kinesis = Modes()
    chaos = Chaos(faults, lambda region, name: FakePart(f"{name} ({region})", calls), kinesis, lambda: 1.0)
    asyncio.run(chaos.run())
    assert calls == [
        "restart ingest (us-west-2)",
        "kill sessionizer (us-west-2)",
        "restart sessionizer (us-west-2)",
        "kill session-writer (us-west-2)",
        "restart session-writer (us-west-2)",
    ]
    assert kinesis.seen == ["throttle", "pass"]
    assert all(fault.struck_s == 1.0 and fault.back_s == 1.0 for fault in faults)
    assert len(chaos.struck()) == len(FAULT_KINDS)
    chaos.observe("us-west-2", faults[1].restarted_wall + 2.5)  # type: ignore[operator]
    assert faults[1].first_record_s == pytest.approx(2.5)


@pytest.mark.integration
def test_a_chaos_run_loses_nothing_and_every_session_ends_as_its_ground_truth(tmp_path: Path) -> None:
    options = Options(duration=45, viewers=8, seed=5, view=False, drain_seconds=60, log_dir=tmp_path,
                      chaos=True, chaos_seed=3)  # fmt: skip
    report = run(options)
    assert len(report.faults) == len(FAULT_KINDS)
    assert all("back at" in fault for fault in report.faults), report.faults
    assert any("first record" in fault for fault in report.faults if fault.startswith("sessionizer-kill"))
    assert report.events_acknowledged > 0 and report.sessions_compared > 0
    assert report.missing_raw_events == 0, report.missing_examples
    assert report.sessions_matched == report.sessions_compared, report.mismatches
    assert report.missing_late_events == 0, report.missing_examples
    assert report.on_time_events_late == 0, report.on_time_late_examples
    assert report.different_finals == [] and report.final_not_newest == []
    assert report.errors == []
    assert report.ok
