"""The sessionizer killed mid-stream resumes from its retained checkpoint and ends as if it never stopped.

The job runs as the local pipeline runs it (PyFlink's mini-cluster in .venv-sessionizer,
the real Kinesis source and sink against kinesis-mock). Its input is a recording whose
events carry no arrival time, so the watermark moves by event time alone and the outcome
does not depend on how long anything took: an uninterrupted run and a run killed (kill -9)
after a checkpoint and restarted from it must end with the same final records. The job killed
is also the last job of each earlier state version this one restores, its code taken from the
repository's history (tests/sessionizer/released_code.py): a deploy over that version's snapshot.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from runtime.local.job import FLINK_PYTHON, local_job
from runtime.local.kinesis_mock import LOCAL_CREDENTIALS, KinesisMock
from runtime.local.processes import Started, start
from runtime.sessionizer.checkpoints import newest_checkpoint
from runtime.sessionizer.config import JAR_VARIABLE, SessionizerConfig, base_config, environment
from runtime.sessionizer.package import CONNECTOR_JAR
from runtime.sessionizer.playback import Event
from runtime.sessionizer.state_layout import restores
from tests.graph import ROOT
from tests.kinesis import stream_events
from tests.sessionizer.released_code import released_job
from tests.sessionizer.sequences import ev, final_record, raw

pytestmark = pytest.mark.integration
REGION = "us-east-1"
_runs = itertools.count()
SPLIT_S = 75  # part 1 is every event before this second of the recording


def recording() -> list[Event]:
    """Eight sessions, one every 12 s: watched to the end, failed, or abandoned (a timeout). Within a
    session no silence reaches the inactivity gap, so no outcome depends on when the watermark
    moved; the sessions around SPLIT_S have events on both sides of it."""
    events: list[Event] = []
    for index in range(8):
        start_s, session = index * 12, f"session-{index}"
        events += [ev("init", start_s, session), ev("loading", start_s + 0.5, session),
                   ev("playing", start_s + 2, session), ev("heartbeat", start_s + 5, session),
                   ev("buffering", start_s + 8, session), ev("buffered", start_s + 10.5, session),
                   ev("heartbeat", start_s + 13, session)]  # fmt: skip
        if index % 3 == 0:
            events.append(ev("stopped", start_s + 16, session, reason="ended"))
        elif index % 3 == 1:
            events.append(ev("error", start_s + 15, session, code="3016"))
        # index % 3 == 2: abandoned, it ends by the inactivity gap
    return sorted(events, key=lambda e: e.timestamp)


# Far ahead in event time: moves the watermark past every session, so all of them end.
FLUSH = ev("heartbeat", 600, "flush-marker")


def job_config(streams: dict[str, str], endpoint: str, checkpoint_dir: Path) -> SessionizerConfig:
    """As the local pipeline runs the job, with frequent updates and checkpoints for a short test."""
    config = base_config("dev", REGION, streams["raw"], streams["session"], streams["late"])
    return dataclasses.replace(local_job(config, endpoint, checkpoint_dir), update_interval_ms=500,
                               checkpoint_interval_ms=1_000)  # fmt: skip


def start_job(config: SessionizerConfig, log_dir: Path, name: str, code: Path = ROOT, jar: Path = CONNECTOR_JAR
              ) -> Started:  # fmt: skip
    """The job of the code under ``code`` (this checkout's, or a released version's)."""
    variables = {**environment(config), JAR_VARIABLE: str(jar), **_credentials()}
    return start(name, [str(FLINK_PYTHON), "-m", "runtime.sessionizer.job"], variables, code, log_dir)


def _credentials() -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["aws_secret_access_key"]}  # fmt: skip


def kill(job: Started) -> None:
    """kill -9 of the job's whole process group: the JVM and its Python workers, no shutdown."""
    os.killpg(job.pid, signal.SIGKILL)
    job.process.wait(timeout=30)


def put(client: Any, stream: str, events: list[Event]) -> None:
    for first in range(0, len(events), 100):
        batch = events[first : first + 100]
        records = [{"Data": json.dumps(raw(e)).encode(), "PartitionKey": e.session_id} for e in batch]
        answer = client.put_records(StreamName=stream, Records=records)
        assert answer["FailedRecordCount"] == 0


def wait_for(condition: Callable[[], bool], job: Started, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if job.process.poll() is not None:
            raise AssertionError(f"the job exited while waiting for {what}:\n{job.log_tail(60)}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {seconds:g} s:\n{job.log_tail(60)}")
        time.sleep(0.5)


def finals(records: list[dict[str, Any]], sessions: set[str]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {session: [] for session in sessions}
    for record in records:
        if record["final"] and record["sessionId"] in found:
            found[record["sessionId"]].append(record)
    return found


def without_version(record: dict[str, Any]) -> dict[str, Any]:
    """The record as the state machine alone gives it (it numbers no versions)."""
    return {key: value for key, value in record.items() if key != "version"}


@pytest.fixture
def streams(kinesis_mock: KinesisMock) -> Iterator[Callable[[], dict[str, str]]]:
    def create() -> dict[str, str]:
        number = next(_runs)
        names = {kind: f"restore-{number}-{kind}" for kind in ("raw", "session", "late")}
        kinesis_mock.create_streams(REGION, dict.fromkeys(names.values(), 1))
        return names

    yield create


def run_uninterrupted(kinesis_mock: KinesisMock, names: dict[str, str], work: Path) -> list[dict[str, Any]]:
    client = kinesis_mock.client(REGION)
    sessions = {e.session_id for e in recording()}
    job = start_job(job_config(names, kinesis_mock.endpoint, work / "checkpoints"), work, "uninterrupted")
    try:
        put(client, names["raw"], [*recording(), FLUSH])
        wait_for(lambda: all(finals(stream_events(client, names["session"]), sessions).values()), job, 180,
                 "final record of every session")  # fmt: skip
    finally:
        kill(job)
    return stream_events(client, names["session"])


# The job killed is this checkout's, or the last of each earlier state version this one restores
# (a deploy of this version over that version's snapshot): the restarted job is always this one.
@pytest.mark.parametrize("killed", [None, *restores()], ids=lambda v: "this version" if v is None else f"version {v}")
def test_a_job_killed_after_a_checkpoint_resumes_from_it_and_ends_as_an_uninterrupted_run(
    kinesis_mock: KinesisMock, streams: Callable[[], dict[str, str]], tmp_path: Path, killed: int | None
) -> None:
    code, jar = (ROOT, CONNECTOR_JAR) if killed is None else released_job(killed, tmp_path / f"version-{killed}")
    client = kinesis_mock.client(REGION)
    events = recording()
    sessions = {e.session_id for e in events}
    part_one = [e for e in events if e.timestamp < events[0].timestamp + SPLIT_S * 1000]
    ended_in_part_one = {e.session_id for e in part_one if e.name in ("stopped", "error")}
    spanning = {e.session_id for e in part_one} & {e.session_id for e in events if e not in part_one}
    assert ended_in_part_one and spanning, "the split must leave sessions on both sides"

    names, checkpoints = streams(), tmp_path / "checkpoints"
    config = job_config(names, kinesis_mock.endpoint, checkpoints)
    first = start_job(config, tmp_path, "before-the-kill", code, jar)
    try:
        put(client, names["raw"], part_one)
        # Part one is read once the sessions it ends have their finals (the watermark moved past them)...
        wait_for(lambda: all(finals(stream_events(client, names["session"]), ended_in_part_one).values()), first,
                 180, "final records of the sessions part one ends")  # fmt: skip
        seen = newest_checkpoint(checkpoints)
        # ...and a checkpoint completed after that holds the shard positions and every open session.
        wait_for(lambda: newest_checkpoint(checkpoints) not in (None, seen), first, 60, "checkpoint after part one")
    finally:
        kill(first)
    resumed_from = newest_checkpoint(checkpoints)
    before_restart = stream_events(client, names["session"])

    put(client, names["raw"], [e for e in events if e not in part_one] + [FLUSH])
    second = start_job(config, tmp_path, "after-the-kill")
    try:
        wait_for(lambda: all(finals(stream_events(client, names["session"]), sessions).values()), second, 180,
                 "final record of every session after the restart")  # fmt: skip
    finally:
        kill(second)
    assert resumed_from is not None

    interrupted = stream_events(client, names["session"])
    uninterrupted = run_uninterrupted(kinesis_mock, streams(), tmp_path / "uninterrupted")
    got, expected = finals(interrupted, sessions), finals(uninterrupted, sessions)
    for session in sorted(sessions):
        # The same final as the uninterrupted run, version too (versions count progress, not
        # records), and as the state machine gives for the session's events.
        assert {json.dumps(r, sort_keys=True) for r in got[session]} == {
            json.dumps(expected[session][0], sort_keys=True)
        }, session
        truth = final_record([e for e in events if e.session_id == session])
        assert without_version(got[session][0]) == without_version({**truth, "sessionId": session}), session
    # What ended before the checkpoint was not read again (from the start of the stream, a job
    # that did not resume would finalise those sessions a second time): one final each.
    assert all(len(got[session]) == 1 for session in ended_in_part_one)
    assert len(before_restart) < len(interrupted)
    # Record versions of each session never go backwards, across the restart too, and the
    # final is the highest: what the dead job sent after its checkpoint never outranks it.
    for session in sessions:
        versions = [r["version"] for r in interrupted if r["sessionId"] == session]
        assert versions == sorted(versions), (session, versions)
        assert max(versions) == got[session][0]["version"], (session, versions)
