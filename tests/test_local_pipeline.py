"""The whole pipeline on this machine, end to end, against the simulator's ground truth."""

from __future__ import annotations

import random

import pytest

from runtime.local.pipeline import Options, run
from runtime.local.simulator import Timing, session_script

pytestmark = pytest.mark.integration


def test_session_scripts_are_reproducible_and_end_the_session() -> None:
    first = [session_script(random.Random(3), Timing()) for _ in range(2)]
    assert first[0] == first[1]
    scripts = [session_script(random.Random(seed), Timing()) for seed in range(200)]
    assert all(script[0].name == "init" and script[-1].name in ("stopped", "error") for script in scripts)
    assert {s[-1].payload["reason"] for s in scripts if s[-1].name == "stopped" and s[-1].payload} == {
        "ended",
        "aborted",
    }
    assert all([step.at_ms for step in s] == sorted(step.at_ms for step in s) for s in scripts)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("regions", ["primary", "both"])
def test_the_local_pipeline_agrees_with_the_ground_truth(regions: str) -> None:
    """`both`: each region's sessionizer sees half the traffic, so its input is quiet more
    often - the case that once left a session without its final record."""
    report = run(Options(stack="dev", regions=regions, duration=30, viewers=6, seed=11, view=False, drain_seconds=120))
    assert report.errors == []
    assert report.sessions_compared >= 5
    assert report.mismatches == []
    assert report.sessions_matched == report.sessions_compared
    assert report.missing_raw_events == 0
    assert report.missing_late_events == 0
    assert report.latency_p50_ms is not None
