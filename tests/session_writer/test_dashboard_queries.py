"""Every InfluxQL query of the dashboards runs against a real InfluxDB and returns rows.

The points are written by the session writer's InfluxDB store from the records the
sessionizer's tracker makes of sessions of every kind (watched, abandoned before
playing, failed before and while playing, still playing), with Grafana's macros and
variables replaced as Grafana replaces them ("All" is the variable's ``allValue``).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest

from dashboards.build import BUILDS, SESSIONS_DASHBOARD, SESSIONS_PANEL
from runtime.local.dashboard_queries import DashboardQueries
from runtime.local.influxdb import InfluxServer, start_influxdb
from runtime.session_writer.influxdb import InfluxStore
from runtime.session_writer.records import parse_session_record
from runtime.sessionizer.playback import Event
from runtime.sessionizer.session import NO_WATERMARK, Tracker
from tests.sessionizer.sequences import END_OF_TIME, SETTINGS, T0, ev

DATABASE = "sessions"
HOUR_MS = 3_600_000


def sessions() -> Iterator[tuple[str, list[Event], bool]]:
    """(session id, events, ended) of sessions of every kind, spread over ten minutes."""
    for n in range(12):
        sid, at = f"s{n}", n * 50  # seconds
        meta = ev("metadata", at + 0.1, sid, contentId=f"c-{n % 3}", deviceType=("tv", "web")[n % 2])
        start = [ev("init", at, sid), meta, ev("loading", at + 0.2, sid)]
        kind = n % 4
        if kind == 0:  # watched, with a rebuffer
            rest = [ev("playing", at + 1.5, sid), ev("buffering", at + 20, sid), ev("buffered", at + 21, sid),
                    ev("stopped", at + 40, sid, reason="ended")]  # fmt: skip
        elif kind == 1:  # abandoned before the first frame
            rest = [ev("stopped", at + 3, sid, reason="user")]
        elif kind == 2:  # failed: one while playing, two before the first frame
            playing = [ev("playing", at + 2, sid)] if n == 2 else []
            rest = [*playing, ev("error", at + 9, sid, code="3016" if n == 2 else "2001")]
        else:  # still playing
            rest = [ev("playing", at + 1, sid), ev("heartbeat", at + 6, sid)]
        yield sid, start + rest, kind != 3


def records() -> list[Any]:
    out = []
    for sid, events, ended in sessions():
        tracker = Tracker(sid)
        for event in events[:-1]:
            tracker.accept(event, NO_WATERMARK, SETTINGS)
        out.append(tracker.record(SETTINGS))  # an update before the last event
        tracker.accept(events[-1], NO_WATERMARK, SETTINGS)
        if ended:
            tracker.advance(END_OF_TIME, SETTINGS)
        out.append(tracker.record(SETTINGS))
    return [parse_session_record(json.dumps(record).encode()) for record in out]


@pytest.fixture(scope="module")
def influxdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    directory = tmp_path_factory.mktemp("dashboards-influxdb")
    server = start_influxdb(directory / "data", directory)
    try:
        server.query(f'CREATE DATABASE "{DATABASE}"')
        outcome = InfluxStore(server.url, DATABASE, sleep=lambda _: None).write(records())
        assert outcome.failed == {} and outcome.written == 24
        yield server
    finally:
        server.stop()


# The window Grafana is asked about: an hour either side of the sessions.
WINDOW = (T0 - HOUR_MS, T0 + HOUR_MS)


def influxql_targets() -> Iterator[tuple[str, str, str, str]]:
    """(test id, dashboard file, panel title, refId) of every InfluxQL query of the dashboards."""
    for file_name in BUILDS:
        for title, targets in DashboardQueries.load(file_name).panels.items():
            for ref in targets:
                yield f"influxdb/{file_name}: {title} {ref}", file_name, title, ref


TARGETS = list(influxql_targets())


@pytest.mark.integration
@pytest.mark.parametrize(("name", "file_name", "title", "ref"), TARGETS, ids=[t[0] for t in TARGETS])
def test_every_dashboard_query_runs_and_returns_rows(
    influxdb: InfluxServer, name: str, file_name: str, title: str, ref: str
) -> None:
    series = influxdb.query(DashboardQueries.load(file_name).query(title, *WINDOW, ref), DATABASE)
    assert series, f"{name}: no rows"
    assert any(value is not None for s in series for row in s["values"] for value in row[1:]), name


@pytest.mark.integration
def test_the_figures_are_the_sessions_written(influxdb: InfluxServer) -> None:
    """A few figures checked by hand against the sessions above."""
    queries = DashboardQueries.load("live-sessions.json")

    def total(title: str, ref: str = "A") -> float:
        series = influxdb.query(queries.query(title, *WINDOW, ref), DATABASE)
        return sum(row[1] or 0 for s in series for row in s["values"])

    rates = "EBVS, VSF and playback failure rates (ended sessions)"
    assert total(rates, "A") == 9  # sessions ended: all but the three still playing
    assert total(rates, "B") == 3  # abandoned before the first frame
    assert total(rates, "C") == 2 and total(rates, "D") == 3  # failed: two before playing, one while
    assert total("Starts per minute") == 7  # the watched, the still playing and the one failed while playing

    failed = influxdb.query(queries.query("Failed sessions by last error code", *WINDOW), DATABASE)
    codes = sorted(row[1] for s in failed for row in s["values"])
    assert codes == ["2001", "2001", "3016"]
    assert list(itertools.chain.from_iterable(s["tags"].values() for s in failed))  # grouped by session


@pytest.mark.integration
def test_the_sessions_table_holds_each_sessions_highest_version(influxdb: InfluxServer) -> None:
    query = DashboardQueries.load(SESSIONS_DASHBOARD).query(SESSIONS_PANEL, *WINDOW)
    newest: dict[str, int] = {}
    for record in records():
        newest[record.session_id] = max(newest.get(record.session_id, 0), record.version)
    series = influxdb.query(query, DATABASE)
    got = {s["tags"]["session_id"]: dict(zip(s["columns"], s["values"][0], strict=True)) for s in series}
    assert {sid: row["version"] for sid, row in got.items()} == newest
    assert sum(row["final"] is True for row in got.values()) == 9  # all but the three still playing
