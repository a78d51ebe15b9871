"""The whole job wiring in PyFlink's local mini-cluster: raw events in, session records and late events out.

Runs in the sessionizer's own environment (.venv-sessionizer; `make test` runs it), never
beside pulumi. The input is bounded; the replay pauses before and after a marker event
so the periodic watermark moves on, and what comes after the pause is late for real.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from typing import Any

import pytest
from pyflink.common import Types, WatermarkStrategy
from pyflink.datastream import MapFunction
from pyflink.datastream.connectors.number_seq import NumberSequenceSource

from runtime.sessionizer.config import parse_config
from runtime.sessionizer.job import build, environment
from runtime.sessionizer.package import CONNECTOR_JAR
from runtime.sessionizer.playback import Event
from tests.sessionizer.sequences import T0, ev, final_record, raw

PAUSE_MARKER = "pause-for-the-watermark"

WATCHED = [ev("init", 0, "watched"), ev("loading", 0.5, "watched"), ev("bitrate_changed", 1, "watched", bitrate=3000),
           ev("playing", 2, "watched"), ev("buffering", 20, "watched"), ev("buffered", 22, "watched"),
           ev("seeking", 30, "watched"), ev("buffering", 30.5, "watched"), ev("seeked", 31, "watched"),
           ev("stopped", 40, "watched", reason="ended")]  # fmt: skip
ABANDONED = [ev("init", 1, "abandoned"), ev("loading", 2, "abandoned")]  # times out: EBVS
FAILED = [ev("init", 3, "failed"), ev("playing", 5, "failed"), ev("error", 9, "failed", code="3016")]
# Arrives after the pause, when the watermark is near 200 s.
STRAGGLER = ev("heartbeat", 45, "watched")  # after `watched` was finalised
BEHIND = ev("init", 10, "too-late")  # 190 s behind the watermark, lateness 30 s


def _shuffled_within_lateness(events: list[Event]) -> list[Event]:
    """Time order with every pair swapped: out of order, but never more than 18 s back (lateness 30 s)."""
    ordered = sorted(events, key=lambda e: e.timestamp)
    swapped = [event for pair in zip(ordered[1::2], ordered[::2], strict=False) for event in pair]
    return swapped + ordered[len(swapped) :]


def _raw(event: Event) -> str:
    return json.dumps(raw(event))


class Replay(MapFunction):  # type: ignore[misc]
    """Index -> raw line; pauses (seconds) before the lines in `pauses`, for several watermark intervals."""

    def __init__(self, lines: list[str], pauses: dict[int, float]) -> None:
        self.lines = lines
        self.pauses = pauses

    def map(self, index: int) -> str:
        time.sleep(self.pauses.get(index, 0.0))
        return self.lines[index]


def replay(env: Any, lines: list[str], pauses: dict[int, float]) -> Any:
    # The replay runs in a task of its own: while it sleeps, the watermark task's periodic
    # timer keeps firing on what it has seen (and on the silence).
    indexes = env.from_source(NumberSequenceSource(0, len(lines) - 1), WatermarkStrategy.no_watermarks(), "events")
    return indexes.map(Replay(lines, pauses), output_type=Types.STRING()).disable_chaining()


def tagged_output(sessions: Any, late: Any) -> list[dict[str, Any]]:
    tagged = sessions.map(lambda r: "S" + r, output_type=Types.STRING()).union(
        late.map(lambda r: "L" + r, output_type=Types.STRING())
    )
    with tagged.execute_and_collect() as results:
        return [{"stream": line[0], **json.loads(line[1:])} for line in results]


def run_job(execution_mode: str) -> list[dict[str, Any]]:
    config = parse_config(
        {
            "environment": "dev",
            "region": "us-east-1",
            "raw.stream": "-",
            "session.stream": "-",
            "late.stream": "-",
            "watermark.out.of.orderness.ms": "1000",
            "allowed.lateness.ms": "30000",
            "heartbeat.interval.ms": "5000",
            "update.interval.ms": "200",
            "parallelism": "1",
            "python.execution.mode": execution_mode,
            "python.bundle.size": "1",  # no element waits in a bundle
        }
    )
    env = environment(config, jar=CONNECTOR_JAR)
    marker = ev("heartbeat", 200, PAUSE_MARKER)
    inputs = [*_shuffled_within_lateness(WATCHED + ABANDONED + FAILED), marker, STRAGGLER, BEHIND]
    lines = [*map(_raw, inputs), "this is not an event"]
    # Sessions are active through the first pause (updates every 200 ms), the marker ends
    # them, and the second pause lets the watermark carry that to the sessions.
    pauses = {inputs.index(marker): 1.0, inputs.index(marker) + 1: 2.5}
    return tagged_output(*build(replay(env, lines, pauses), config))


@pytest.fixture(scope="module", params=["thread", "process"])
def output(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return run_job(str(request.param))


def test_final_records_match_the_state_machine(output: list[dict[str, Any]]) -> None:
    finals = {r["sessionId"]: r for r in output if r["stream"] == "S" and r["final"]}
    assert set(finals) == {"watched", "abandoned", "failed", PAUSE_MARKER}
    for session_id, events in (("watched", WATCHED), ("abandoned", ABANDONED), ("failed", FAILED)):
        expected = final_record(events)
        got = {k: v for k, v in finals[session_id].items() if k not in ("stream", "version")}
        assert got == {k: v for k, v in expected.items() if k not in ("sessionId", "version")} | {
            "sessionId": session_id
        }
    assert finals["watched"]["rebufferCount"] == 1 and finals["watched"]["seekCount"] == 1
    assert finals["abandoned"]["ebvs"] and finals["abandoned"]["endReason"] == "timeout"
    assert finals["failed"]["playbackFailure"] and finals["failed"]["lastErrorCode"] == "3016"


def test_updates_come_before_the_final_with_increasing_versions(output: list[dict[str, Any]]) -> None:
    by_session: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in output:
        if record["stream"] == "S":
            by_session[record["sessionId"]].append(record)
    for records in by_session.values():
        versions = [r["version"] for r in records]
        assert versions == sorted(set(versions)), versions  # strictly increasing (they count progress)
        assert [r["final"] for r in records] == [False] * (len(records) - 1) + [True]
    # The pause is 1.5 s and the update interval 200 ms: the sessions were seen while active.
    assert any(not r["final"] for r in by_session["watched"])


def test_late_events_are_wrapped_with_their_reason_and_never_dropped(output: list[dict[str, Any]]) -> None:
    late = {(r["reason"], r["sessionId"]): r for r in output if r["stream"] == "L"}
    assert set(late) == {("session_finalised", "watched"), ("behind_watermark", "too-late"), ("unparseable", None)}
    assert late[("session_finalised", "watched")]["event"] == raw(STRAGGLER)
    behind = late[("behind_watermark", "too-late")]
    assert behind["event"] == raw(BEHIND)
    assert behind["watermark"] >= T0 + 200_000 - 1000 - 1 - 1000  # the marker's time, less out-of-orderness
    assert behind["processingTime"] > T0
    assert late[("unparseable", None)]["event"] == "this is not an event"


QUIET_CONFIG = {
    "environment": "dev", "region": "us-east-1", "raw.stream": "-", "session.stream": "-", "late.stream": "-",
    "watermark.out.of.orderness.ms": "100", "allowed.lateness.ms": "500", "heartbeat.interval.ms": "1000",
    "watermark.idle.advance.after.ms": "200", "update.interval.ms": "60000", "parallelism": "1",
    "python.bundle.size": "1",
    # Generous on purpose: how fast this machine moves a record from the replay to the
    # watermark must not decide the test. A backlog below is minutes old.
    "watermark.caught.up.lag.ms": "10000",
}  # fmt: skip
QUIET = [ev("init", 0, "quiet"), ev("playing", 1, "quiet"), ev("stopped", 2, "quiet", reason="ended")]
STRAGGLING = ev("heartbeat", 2.5, "quiet")  # on time for the data, but after 3 s of silence
OLD_STRAGGLER = ev("init", -60, "long-gone")  # a minute behind everything else
BACKLOG_AGE_MS = 600_000


class LiveReplay(Replay):
    """A replay that stamps each event as the job reads it, as the ingest service would have:
    arrival (server.receivedAt) = the wall time minus `arrival_age_ms`; event time = the wall
    time the first line is read + the event's offset from the anchor event + the player's
    clock offset. So the reader is live (or `arrival_age_ms` behind) however long the
    mini-cluster took to start, and the players' clocks are as wrong as the test says."""

    def __init__(
        self, events: list[Event], pauses: dict[int, float], clock_offset_ms: int = 0, arrival_age_ms: int = 0
    ) -> None:
        super().__init__([json.dumps(raw(e)) for e in events], pauses)
        self.anchor_ms = events[0].timestamp
        self.clock_offset_ms = clock_offset_ms
        self.arrival_age_ms = arrival_age_ms
        self.started_ms: int | None = None

    def map(self, index: int) -> str:
        event = json.loads(super().map(index))
        now_ms = int(time.time() * 1000)
        if self.started_ms is None:
            self.started_ms = now_ms
        event["timestamp"] += self.started_ms - self.anchor_ms + self.clock_offset_ms
        event["server"]["receivedAt"] = now_ms - self.arrival_age_ms
        return json.dumps(event)


def run_live(replay: LiveReplay, count: int, properties: dict[str, str] = QUIET_CONFIG) -> list[dict[str, Any]]:
    config = parse_config(properties)
    env = environment(config, jar=CONNECTOR_JAR)
    indexes = env.from_source(NumberSequenceSource(0, count - 1), WatermarkStrategy.no_watermarks(), "events")
    lines = indexes.map(replay, output_type=Types.STRING()).disable_chaining()
    return tagged_output(*build(lines, config))


def outcome(output: list[dict[str, Any]]) -> list[tuple[str, bool | None, str | None]]:
    """Final session records and late events. Update records are left out: they come on a
    wall-clock grid of the update interval (next_update_time), so whether one falls within a
    test's few seconds depends on the minute it runs in (one did, in a CI run)."""
    return sorted((r["stream"], r.get("final"), r.get("reason")) for r in output if r.get("final") is not False)


@pytest.mark.parametrize("clock_offset_s", [-30, 30], ids=["player-clocks-30s-behind", "player-clocks-30s-ahead"])
def test_a_quiet_stream_still_ends_its_sessions(clock_offset_s: int) -> None:
    """Live events, then silence: the watermark moves on with the clock and seals the session,
    whatever the players' clocks say; the straggler after the silence comes too late."""
    events = [*QUIET, STRAGGLING]
    output = run_live(LiveReplay(events, {len(QUIET): 3.0}, clock_offset_ms=clock_offset_s * 1000), len(events))
    # Without the clock the watermark would stay at the `stopped` event and the straggler
    # would count; with it the session is final after about 0.8 s of silence.
    assert outcome(output) == [("L", None, "session_finalised"), ("S", True, None)]
    final = next(r for r in output if r["stream"] == "S" and r["final"])
    assert final["playingMs"] == 1000 and final["endReason"] == "ended"


def test_a_backlog_read_after_a_pause_is_not_made_late_by_the_clock() -> None:
    """Events that arrived ten minutes ago (a reader catching up), then a pause in reading:
    silence does not move the watermark, and the rest of the backlog still counts."""
    events = [*QUIET, STRAGGLING]
    output = run_live(LiveReplay(events, {len(QUIET): 3.0}, arrival_age_ms=BACKLOG_AGE_MS), len(events))
    assert outcome(output) == [("S", True, None)]
    final = next(r for r in output if r.get("final"))
    assert final["lastEventTime"] - final["firstEventTime"] == 2000 and final["endReason"] == "ended"


def test_an_old_straggler_after_live_events_does_not_stop_the_clock() -> None:
    """Live events, a little silence, one event a minute behind in event time, more silence:
    the old event is late, and the live session still ends by the clock. (The straggler
    arrived just now: the reader is live, whatever the event's own time.)"""
    config = {**QUIET_CONFIG, "watermark.idle.advance.after.ms": "1000"}
    events = [*QUIET, OLD_STRAGGLER, STRAGGLING]
    # 1.1 s: past out-of-orderness + lateness (0.6 s), short of sealing the session.
    pauses = {len(QUIET): 1.1, len(QUIET) + 1: 3.0}
    output = run_live(LiveReplay(events, pauses), len(events), config)
    assert outcome(output) == [
        ("L", None, "behind_watermark"), ("L", None, "session_finalised"), ("S", True, None),
    ]  # fmt: skip
