"""The dashboard page and the run's report, after a short run: opened in headless Chromium (every panel
drawn with data, no error on the page; screenshots kept in the run's folder), and the panels' values
against the ground truth of the same run.

The run's InfluxDB is started again on the run's data, and the page is served again with the
pipeline view the run saved (pipeline.json): the same server and page as during the run.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from runtime.local.dashboard.grafana import Dashboard, load_dashboards
from runtime.local.dashboard.panels import Choice, PanelData, compute_panel, variable_options
from runtime.local.dashboard.pipeline import PIPELINE_FILE, PipelineHistory
from runtime.local.dashboard.server import DashboardServer, SessionsStore
from runtime.local.influxdb import InfluxServer, start_influxdb
from runtime.local.options import Options
from runtime.local.pipeline import run
from runtime.local.report_page import FIGURE_IDS
from runtime.local.verify import ComparedSession, Report
from runtime.sessionizer.playback import Event, Playback

pytestmark = pytest.mark.integration
CHROMIUM = "chromium"
# The sessions of this seed include exits before video start and playback failures, so that every panel
# of both dashboards has something to draw (the tests below check that against the ground truth).
SEED = 3
DATABASE = "prism-dev-use1-sessions"


@dataclass(frozen=True)
class FinishedRun:
    report: Report
    folder: Path
    influx: InfluxServer
    started_ms: int


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FinishedRun]:
    log_dir = tmp_path_factory.mktemp("dashboard-run")
    started_ms = int(time.time() * 1000)
    report = run(Options(stack="dev", duration=40, viewers=8, seed=SEED, view=False, drain_seconds=120,
                         log_dir=log_dir))  # fmt: skip
    assert report.ok and report.page is not None
    folder = report.page.parent
    influx = start_influxdb(folder / "influxdb", tmp_path_factory.mktemp("influx-again"))
    try:
        yield FinishedRun(report, folder, influx, started_ms)
    finally:
        influx.stop()


def compute(run_: FinishedRun, dashboard: Dashboard, title: str, choice: Choice | None = None) -> PanelData:
    panel = next(p for p in dashboard.panels if p.title == title)
    options = variable_options(dashboard, run_.influx.query, DATABASE)
    now = int(time.time() * 1000)
    return compute_panel(panel, dashboard, run_.influx.query, choice or Choice(DATABASE), options,
                         run_.started_ms - 120_000, now)  # fmt: skip


PLAYING = ("playing", "buffering")
# Update records come every 2 s of processing time (locally) and carry the session's last event time:
# a playing state held this long after an event, within the event's minute, has a row in that minute.
HELD_MS = 5_000


def _minute(ms: int) -> str:
    return time.strftime("%H:%M", time.gmtime(ms / 1000))


def playing_per_minute(sessions: list[ComparedSession]) -> tuple[dict[int, int], dict[int, int]]:
    """Per minute, from the ground truth: the sessions certainly playing in it (an event in the minute left
    them playing or buffering for HELD_MS more, inside the minute), and those possibly playing (an event in
    the minute left them playing or buffering: a stored row's time is its last event's)."""
    certain: Counter[int] = Counter()
    possible: Counter[int] = Counter()
    for session in sessions:
        playback, certainly, possibly = Playback(), set(), set()
        events = [Event.from_raw(document) for document in session.events]
        states = []
        for event in events:
            playback.apply(event)
            states.append(playback.state in PLAYING)
        for index, (event, playing) in enumerate(zip(events, states, strict=True)):
            if not playing:
                continue
            minute = event.timestamp // 60_000 * 60_000
            possibly.add(minute)
            # until the first later event that leaves the playing states (or the last event)
            ends = next((e.timestamp for e, p in zip(events[index + 1 :], states[index + 1 :], strict=True)
                         if not p), events[-1].timestamp)  # fmt: skip
            if ends - event.timestamp >= HELD_MS and event.timestamp + HELD_MS <= minute + 60_000:
                certainly.add(minute)
        certain.update(certainly)
        possible.update(possibly)
    return dict(certain), dict(possible)


def influx_percentile(values: list[int], n: float) -> int:
    """InfluxQL's percentile(): the nearest rank, int(count * n / 100 + 0.5)."""
    ordered = sorted(values)
    return ordered[int(len(ordered) * n / 100 + 0.5) - 1]


def test_each_panel_shows_what_the_ground_truth_says(finished_run: FinishedRun) -> None:
    truth = [s.expected for s in finished_run.report.compared]
    live, breakdown = (next(d for d in load_dashboards() if d.uid == uid)
                       for uid in ("prism-live-sessions", "prism-sessions-breakdown"))  # fmt: skip
    started = [r["startupMs"] for r in truth if r["startupMs"] is not None]
    starts = compute(finished_run, live, "Starts per minute")
    assert sum(v or 0 for s in starts.series for v in s.values) == len(started)

    rates = compute(finished_run, live, "EBVS, VSF and playback failure rates (ended sessions)")
    counted = {ref: sum(v or 0 for s in rates.refs[ref] for v in s.values) for ref in "ABCD"}
    flagged = {ref: sum(1 for r in truth if r[field]) for ref, field in (("B", "ebvs"), ("C", "vsf"),
                                                                           ("D", "playbackFailure"))}  # fmt: skip
    assert counted == {"A": len(truth), **flagged}
    assert counted["B"] and counted["D"], f"seed {SEED} has exits before start and failures to draw"
    # What the page draws is each minute's share: EBVS over ended sessions, in that minute.
    [ended] = rates.refs["A"]
    [ebvs_rate] = [s for s in rates.series if s.name == "ebvs_rate"]
    per_minute = dict(zip(ended.times, ended.values, strict=True))
    weighted = [rate * (per_minute[t] or 0) for t, rate in zip(ebvs_rate.times, ebvs_rate.values, strict=True)
                if rate is not None]  # fmt: skip
    assert sum(weighted) == pytest.approx(counted["B"])

    plays = compute(finished_run, live, "Concurrent plays (per minute)")
    [series] = plays.series
    certain, possible = playing_per_minute(finished_run.report.compared)
    shown = {t: int(v or 0) for t, v in zip(series.times, series.values, strict=True)}
    for minute in sorted(set(certain) | set(possible)):
        assert certain.get(minute, 0) <= shown.get(minute, 0) <= possible.get(minute, 0), _minute(minute)
    last = max(possible)
    assert shown[last] >= certain.get(last, 0) and max(certain.values()) >= 1  # the last minute of play, checked

    by_region = compute(finished_run, breakdown, "Startup and rebuffering by region")
    assert by_region.table is not None
    [row] = by_region.table.rows
    columns = by_region.table.columns
    assert row[columns.index("sessions")] == len(truth)
    assert row[columns.index("startup_p50_ms")] == influx_percentile(started, 50)

    # A filter narrows every panel to what it names: one device's sessions, as the truth counts them.
    device = Counter(r["deviceType"] for r in truth).most_common(1)[0][0]
    only = compute(
        finished_run, breakdown, "Startup and rebuffering by device", Choice(DATABASE, {"device_type": [device]})
    )
    assert only.table is not None
    [row] = only.table.rows
    assert row[only.table.columns.index("device_type")] == device
    assert row[only.table.columns.index("sessions")] == sum(1 for r in truth if r["deviceType"] == device)


def chromium(*arguments: str) -> str:
    command = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--virtual-time-budget=15000", *arguments]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout


def panel_states(dom: str) -> dict[str, str]:
    return dict(re.findall(r'data-title="([^"]+)" data-state="(\w+)"', dom))


@pytest.fixture(scope="module")
def page(finished_run: FinishedRun) -> Iterator[str]:
    history = PipelineHistory.restore(json.loads((finished_run.folder / PIPELINE_FILE).read_text()))
    server = DashboardServer(history, SessionsStore(finished_run.influx.query, [DATABASE])).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="chromium is installed by make test (system-tools)")
def test_every_panel_of_both_dashboards_and_the_pipeline_view_is_drawn_with_data(
    finished_run: FinishedRun, page: str
) -> None:
    shots = finished_run.folder / "screenshots"
    shots.mkdir(exist_ok=True)
    views: dict[str, tuple[str, list[str] | None]] = {
        d.uid: (f"d/{d.uid}?from=now-15m", [p.title for p in d.panels]) for d in load_dashboards()
    }
    views["pipeline"] = ("pipeline", None)
    for name, (path, titles) in views.items():
        dom = chromium("--dump-dom", page + path)
        assert 'data-errors="' not in dom, re.search(r'<pre id="console-errors">(.*?)</pre>', dom, re.S)
        assert re.search(r'data-rendered="[1-9]', dom), f"{name}: the page never finished a refresh"
        states = panel_states(dom)
        if titles is not None:
            assert sorted(states) == sorted(titles), f"{name}: a panel of the dashboard is not on the page"
        assert set(states.values()) == {"data"}, f"{name}: {states}"
        chromium("--window-size=1600,1400", f"--screenshot={shots / f'{name}.png'}", page + path)
        assert (shots / f"{name}.png").stat().st_size > 20_000


@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="chromium is installed by make test (system-tools)")
def test_the_report_opens_from_disk_with_every_figure_drawn(finished_run: FinishedRun) -> None:
    assert finished_run.report.page is not None
    url = finished_run.report.page.as_uri()
    dom = chromium("--dump-dom", url)
    drawn = re.findall(r'<div id="([\w-]+)" class="plotly-graph-div js-plotly-plot"', dom)
    assert sorted(drawn) == sorted(FIGURE_IDS)
    # Nothing is fetched: plotly.js is inside the file (the figures above drew from it, from disk).
    assert not re.search(r'<(script|link)[^>]*(src|href)="(https?:)?//', finished_run.report.page.read_text())
    shots = finished_run.folder / "screenshots"
    shots.mkdir(exist_ok=True)
    chromium("--window-size=1400,2200", f"--screenshot={shots / 'report.png'}", url)
    assert (shots / "report.png").stat().st_size > 20_000
