"""The whole pipeline on this machine, end to end, against the simulator's ground truth."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from dashboards.build import BUILDS
from runtime.local.dashboard_queries import DashboardQueries
from runtime.local.influxdb import start_influxdb
from runtime.local.options import MAX_VIEWERS, Options, Outage, parse_options, stack_file
from runtime.local.pipeline import main, run
from runtime.local.resources import RegionResources, names
from runtime.local.simulator import Timing, session_script
from runtime.local.verify import Pending
from runtime.local.view import MAX_STATUS_LINE, Status
from runtime.session_writer.settings import Engine
from runtime.stack import from_stack_file

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
@pytest.mark.parametrize(("regions", "store"), [("primary", "influxdb"), ("both", "liveanalytics")])
def test_the_local_pipeline_agrees_with_the_ground_truth(regions: str, store: Engine, tmp_path: Path) -> None:
    """`both`: each region's sessionizer sees half the traffic, so its input is quiet more
    often - the case that once left a session without its final record. `primary` then
    replays its raw bucket twice over (runtime/replay), and the replayed sessions are
    checked against their originals' truth. Each store once: InfluxDB is read back by the
    dashboards' sessions query, then every dashboard query runs over what the run wrote."""
    multiplier = 2 if regions == "primary" else 0
    options = Options(stack="dev", regions=regions, duration=30, viewers=6, seed=11, view=False, drain_seconds=120,
                      replay_multiplier=multiplier, log_dir=tmp_path, store=store)  # fmt: skip
    report = run(options)
    assert report.errors == []
    assert report.sessions_compared >= 5
    originals = report.sessions_compared - report.sessions_replayed
    assert report.sessions_replayed == multiplier * originals
    assert report.mismatches == []
    assert report.sessions_matched == report.sessions_compared
    assert report.missing_raw_events == 0
    assert report.missing_late_events == 0
    assert report.first_row_p95_ms is not None and report.final_row_p95_ms is not None
    assert 0 < report.first_row_p50_ms <= report.first_row_p95_ms  # type: ignore[operator]
    assert report.drained
    assert list(tmp_path.iterdir()), "the run's logs are in the folder it was given"
    if store == "influxdb":
        settings = from_stack_file(stack_file("dev"))
        every_dashboard_query_returns_rows(tmp_path, names(settings, settings.primary))


def every_dashboard_query_returns_rows(log_dir: Path, resources: RegionResources) -> None:
    """The run's InfluxDB, started again on its data: each panel's queries over the last hour."""
    [data] = list(log_dir.glob("*/influxdb"))
    server = start_influxdb(data, log_dir)
    try:
        now = int(time.time() * 1000)
        empty = []
        for file_name in BUILDS:
            queries = DashboardQueries.load(file_name)
            for title, targets in queries.panels.items():
                for ref in targets:
                    series = server.query(queries.query(title, now - 3_600_000, now, ref), resources.database)
                    if not any(v is not None for s in series for row in s["values"] for v in row[1:]):
                        empty.append(f"{file_name}: {title} {ref}")
        # Failures are rare in a 30 s run: their counts may be empty; every other figure has rows.
        assert [e for e in empty if "failure" not in e.lower() and "error code" not in e] == []
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--stack", "nosuchstack"], "argument --stack: no stack 'nosuchstack'; the stacks are datamart, dev, "
                                     "loadtest, slowprod"),
        (["--viewers", "-3"], f"argument --viewers: must be a whole number from 1 to {MAX_VIEWERS}, got -3"),
        (["--viewers", "0"], f"argument --viewers: must be a whole number from 1 to {MAX_VIEWERS}, got 0"),
        (["--viewers", "many"], "argument --viewers: must be a whole number, got 'many'"),
        (["--duration", "-5"], "argument --duration: must be >= 0 and <= 86400 seconds, got -5"),
        (["--duration", "nan"], "argument --duration: must be >= 0 and <= 86400 seconds, got nan"),
        (["--duration", "soon"], "argument --duration: must be a number of seconds, got 'soon'"),
        (["--drain-seconds", "0"], "argument --drain-seconds: must be > 0 and <= 3600 seconds, got 0"),
        (["--seed", "-1"], "argument --seed: must be a whole number of at least 0, got -1"),
        (["--regions", "all"], "argument --regions: invalid choice: 'all' (choose from 'primary', 'both')"),
        (["--replay-multiplier", "11"], "argument --replay-multiplier: must be a whole number from 0 to 10, got 11"),
        (["--colour"], "unrecognized arguments: --colour"),
        (["--duration", "60", "--outage", "us-west-2"],
         "argument --outage: needs --regions both (the players move to the other region)"),
        (["--regions", "both", "--outage", "us-west-2"],
         "argument --outage: needs --duration (the outage strikes while viewers play)"),
        (["--regions", "both", "--duration", "60", "--outage", "west"],
         "argument --outage: must be REGION[@START_S[:DOWN_S]], e.g. us-west-2@20:30, got 'west'"),
        (["--regions", "both", "--duration", "60", "--outage", "us-west-2@soon"],
         "argument --outage: START_S and DOWN_S must be numbers of seconds, got 'us-west-2@soon'"),
        (["--regions", "both", "--duration", "60", "--outage", "us-west-2@60"],
         "argument --outage: START_S must be >= 0 and below --duration (60), got 60"),
        (["--regions", "both", "--duration", "60", "--outage", "us-west-2@10:0"],
         "argument --outage: DOWN_S must be > 0 and <= 3600, got 0"),
        (["--regions", "both", "--duration", "60", "--outage", "eu-west-1"],
         "argument --outage: eu-west-1 is not a region of stack dev (us-east-1, us-west-2)"),
    ],
)  # fmt: skip
def test_a_bad_option_stops_the_run_with_one_line_and_status_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    assert capsys.readouterr().err == f"local pipeline: {message}\n"


def test_good_options_are_taken_as_given() -> None:
    options = parse_options(["--stack", "slowprod", "--viewers", "20", "--duration", "120", "--no-view"])
    assert (options.stack, options.viewers, options.duration, options.view) == ("slowprod", 20, 120.0, False)


def test_a_status_line_stays_under_160_characters_in_every_phase() -> None:
    busiest = Status(
        phase=f"draining 88/90 s: {Pending(1_234, 56_789, 1_234).describe()} to come",
        events_per_second=12_345.6, acknowledged=12_345_678, stream_rates=(12_345.6, 1_234.5, 123.4),
        active=12_345, ended=123_456, playing=1_000, startup_p50_ms=1_234, startup_p95_ms=12_345,
        rebuffer_ratio=0.5, ebvs=100, vsf=100, late_events=123_456, first_row_ms=(12_345, 123_456),
        final_row_ms=(12_345, 123_456),
        errors=1_000, down=("sessionizer (us-east-1)", "ingest (us-west-2)"),
    )  # fmt: skip
    assert len(busiest.line()) < MAX_STATUS_LINE
    assert ("parts down", "sessionizer (us-east-1), ingest (us-west-2)") in busiest.rows()
    assert busiest.line().startswith("draining 88/90 s: 1234 final records, 56789 raw events, 1234 late events")
    assert Pending(1, 0, 2).describe() == "1 final record, 2 late events"


@pytest.mark.timeout(900)
def test_a_region_that_fails_and_comes_back_leaves_every_moved_session_counted_once_and_exact(tmp_path: Path) -> None:
    """The outage drill, short: us-west-2 dies 10 s in, its players move to us-east-1 once its health
    checks fail, it comes back 20 s later. Nothing acknowledged is lost, and each session whose player
    moved is one session, with the whole session's metrics (the reconcilers, runtime/reconciler)."""
    outage = Outage("us-west-2", start_s=10, down_s=20)
    options = Options(stack="dev", regions="both", duration=40, viewers=8, seed=5, view=False, drain_seconds=150,
                      log_dir=tmp_path, outage=outage)  # fmt: skip
    report = run(options)
    assert report.errors == []
    assert report.missing_raw_events == 0 and report.held_in_down_region == 0
    assert report.moved, "some sessions were playing in us-west-2 when it failed"
    assert [m.describe() for m in report.moved if not m.exact] == []
    assert all(m.counted == 1 and not m.invented_failure for m in report.moved)
    assert report.mismatches == [] and report.sessions_matched == report.sessions_compared
    assert report.different_finals == [] and report.final_not_newest == []
    assert report.drained
