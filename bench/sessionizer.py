"""Sessionizer throughput: the state machine alone, and the PyFlink job in the local mini-cluster.

Run in the sessionizer's environment: `make bench-sessionizer`. Prints:
- events/s on one core of the pure tracker (accept, seal by watermark, update records);
- events/s of the whole job (file source -> parse -> watermarks -> keyed sessions ->
  collected records) at parallelism 1 and 2, in thread and process mode, from wall time,
  and per core from the CPU time the mini-cluster's JVM and Python workers used; job
  start-up is measured on a small input and taken out;
- state bytes per active session (its stored form, runtime/sessionizer/stored.py, as a snapshot holds it).
Input: synthetic but realistic sessions (startup, heartbeats every 5 s, pauses, seeks,
rebuffers, bitrate changes, stops or timeouts), interleaved by event time with up to 2 s
of out-of-order arrival, as the raw stream delivers them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pickle
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.results import Figure, add_reference_option, record
from runtime.sessionizer import stored
from runtime.sessionizer.playback import Event
from runtime.sessionizer.session import NO_WATERMARK, SessionSettings, Tracker

T0 = 1_764_000_000_000
# A mini-cluster started from Python runs the Python workers as threads of the calling process
# (PyFlink's loopback mode), where CpuMeter, which counts this process's descendants, missed all
# their CPU (the "mostly idle" CPU measured before). On Managed Flink they are processes of their
# own: the bench runs them so (PyFlink's switch for it is this variable).
WORKER_MODE_VARIABLE = "_python_worker_execution_mode"
HEARTBEAT_MS = 5_000
SETTINGS = SessionSettings(
    environment="bench", region="us-east-1", allowed_lateness_ms=30_000, inactivity_gap_ms=15_000,
    update_interval_ms=10_000,
)  # fmt: skip
OUT_OF_ORDER_MS = 2_000


def session_events(rng: random.Random, session_id: str, start_ms: int) -> list[dict[str, Any]]:
    """One viewer's session as raw-stream JSON documents, in the order the player emits them."""
    events: list[dict[str, Any]] = []
    t = start_ms

    def emit(name: str, payload: dict[str, Any] | None = None) -> None:
        document: dict[str, Any] = {
            "event": name, "sessionId": session_id, "timestamp": t, "playhead": 0, "duration": 3600,
            "server": {"userAgent": "prism-web/3.1 (Linux; tv)", "region": "us-east-1"},
        }  # fmt: skip
        if payload is not None:
            document["payload"] = payload
        events.append(document)

    emit("init")
    emit("metadata", {"contentId": f"c-{rng.randrange(500)}", "live": rng.random() < 0.2, "deviceType": "tv"})
    t += rng.randrange(50, 300)
    emit("loading")
    if rng.random() < 0.05:  # exit before video start
        t += rng.randrange(1_000, 8_000)
        emit("stopped", {"reason": "aborted"})
        return events
    t += rng.randrange(500, 3_000)
    emit("bitrate_changed", {"bitrate": rng.choice([1500, 3000, 4500, 6000])})
    emit("playing")
    end = t + rng.randrange(60_000, 900_000)
    while t < end:
        t += HEARTBEAT_MS
        emit("heartbeat")
        roll = rng.random()
        if roll < 0.02:
            emit("buffering")
            t += rng.randrange(300, 4_000)
            emit("buffered")
        elif roll < 0.03:
            emit("seeking")
            t += rng.randrange(200, 1_500)
            emit("seeked")
        elif roll < 0.04:
            emit("paused")
            t += rng.randrange(2_000, 30_000)
            emit("resume")
        elif roll < 0.06:
            emit("bitrate_changed", {"bitrate": rng.choice([1500, 3000, 4500, 6000])})
    if rng.random() < 0.9:
        emit("stopped", {"reason": "ended"})
    # else: the player vanished; the session times out
    return events


def workload(sessions: int, concurrent: int, seed: int = 7) -> list[dict[str, Any]]:
    """`sessions` sessions, about `concurrent` at a time, in arrival order."""
    rng = random.Random(seed)
    span_ms = sessions * 480_000 // max(1, concurrent)  # mean session length 8 min
    documents = [e for i in range(sessions) for e in session_events(rng, f"s-{i}", T0 + rng.randrange(span_ms))]
    # Arrival: event time plus up to OUT_OF_ORDER_MS of network and batching delay.
    return sorted(documents, key=lambda d: d["timestamp"] + rng.randrange(OUT_OF_ORDER_MS))


def run_trackers(documents: list[dict[str, Any]]) -> tuple[int, list[int]]:
    """What SessionFunction does per event, without Flink; returns (records, state sizes sampled)."""
    trackers: dict[str, Tracker] = {}
    records, sizes = 0, list[int]()
    newest = NO_WATERMARK
    next_update = T0 + SETTINGS.update_interval_ms
    for n, document in enumerate(documents):
        event = Event.from_raw(document)
        newest = max(newest, event.timestamp)
        watermark = newest - OUT_OF_ORDER_MS - 1
        tracker = trackers.get(event.session_id)
        if tracker is None:
            tracker = trackers[event.session_id] = Tracker(event.session_id)
        if tracker.accept(event, watermark, SETTINGS) is None and tracker.advance(watermark, SETTINGS):
            tracker.record(SETTINGS)
            tracker.to_tombstone()
            records += 1
        if event.timestamp >= next_update:  # the update timer, on event time here
            next_update += SETTINGS.update_interval_ms
            for active in trackers.values():
                if active.changed and not active.final:
                    active.record(SETTINGS)
                    records += 1
                    if len(sizes) < 2_000 and n % 7 == 0:
                        sizes.append(len(pickle.dumps(stored.encode(active))))
    return records, sizes


def bench_state_machine(documents: list[dict[str, Any]]) -> None:
    runs = []
    for _ in range(3):
        started = time.process_time()
        records, sizes = run_trackers(documents)
        runs.append(time.process_time() - started)
    best = min(runs)
    print(f"state machine: {len(documents):,} events, {records:,} records, "
          f"{len(documents) / best:,.0f} events/s per core (best of 3, CPU time)")  # fmt: skip
    print(f"state per active session (stored form): median {statistics.median(sizes):,.0f} B, "
          f"p95 {sorted(sizes)[int(len(sizes) * 0.95)]:,} B, max {max(sizes):,} B ({len(sizes)} samples)")  # fmt: skip


def _own_cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _descendants(pid: int) -> list[int]:
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
        children = [int(c) for task in tasks for c in (task / "children").read_text().split()]
    except (FileNotFoundError, ProcessLookupError):
        return []  # ended while we looked
    return children + [grandchild for child in children for grandchild in _descendants(child)]


class CpuMeter:
    """CPU seconds of this process's descendants (the JVM, the Python workers) over a run.

    Workers start and end with the job, so they are sampled every 100 ms while it runs;
    a process's last sample stands for it (it loses at most 100 ms of CPU).
    """

    def __init__(self) -> None:
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_until_stopped, daemon=True)

    def _sample(self) -> None:
        for pid in _descendants(os.getpid()):
            seconds = _own_cpu_seconds(pid)
            if seconds is not None:
                self.first.setdefault(pid, seconds)
                self.last[pid] = seconds

    def _sample_until_stopped(self) -> None:
        while not self._stop.wait(0.1):
            self._sample()

    def __enter__(self) -> CpuMeter:
        self._sample()
        self._before = set(self.first)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def seconds(self) -> float:
        # A process first seen mid-run started during it: all its time counts.
        return sum(self.last[pid] - (self.first[pid] if pid in self._before else 0.0) for pid in self.last)


def run_job(path: Path, events: int, parallelism: int, mode: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the mini-cluster) for one bounded run."""
    from pyflink.common import WatermarkStrategy
    from pyflink.datastream.connectors.file_system import FileSource, StreamFormat
    from pyflink.datastream.functions import SinkFunction

    from runtime.sessionizer.config import base_config
    from runtime.sessionizer.job import build, environment
    from runtime.sessionizer.package import CONNECTOR_JAR

    config = dataclasses.replace(
        base_config("bench", "us-east-1", "-", "-", "-"),
        out_of_orderness_ms=OUT_OF_ORDER_MS,
        parallelism=parallelism,
        execution_mode=mode,
    )
    env = environment(config, jar=CONNECTOR_JAR)
    source = FileSource.for_record_stream_format(StreamFormat.text_line_format(), str(path)).build()
    lines = env.from_source(source, WatermarkStrategy.no_watermarks(), "events")
    sessions, late = build(lines, config)
    # Records are discarded in the JVM: collecting them to this process one py4j call at a
    # time would be measured instead of the job (the Kinesis sinks are Java too).
    sessions.union(late).add_sink(SinkFunction("org.apache.flink.streaming.api.functions.sink.DiscardingSink"))
    os.environ[WORKER_MODE_VARIABLE] = "process"
    # The mini-cluster's JVM and, in process mode, its Python workers.
    with CpuMeter() as meter:
        started = time.perf_counter()
        env.execute(f"bench {events} events")
        wall = time.perf_counter() - started
    return wall, meter.seconds


def bench_job(documents: list[dict[str, Any]], small: list[dict[str, Any]], workload: str) -> list[Figure]:
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as scratch:
        big_path, small_path = Path(scratch, "events.jsonl"), Path(scratch, "small.jsonl")
        big_path.write_text("".join(json.dumps(d, separators=(",", ":")) + "\n" for d in documents))
        small_path.write_text("".join(json.dumps(d, separators=(",", ":")) + "\n" for d in small))
        # The process's first job also starts what every later one reuses (the JVM's classes, the
        # embedded interpreter): left out of the figures, or it is counted as the first pair's start-up.
        run_job(small_path, len(small), 1, "thread")
        for mode in ("thread", "process"):
            for parallelism in (1, 2):
                small_wall, small_cpu = run_job(small_path, len(small), parallelism, mode)
                wall, cpu = run_job(big_path, len(documents), parallelism, mode)
                extra = len(documents) - len(small)
                steady = extra / max(1e-9, wall - small_wall)
                per_core = extra / max(1e-9, cpu - small_cpu)
                print(f"job {mode:7} parallelism {parallelism}: {len(documents):,} events in {wall:.1f} s "
                      f"(start-up run {small_wall:.1f} s); {steady:,.0f} events/s wall, "
                      f"{per_core:,.0f} events/s per core (CPU {cpu - small_cpu:.1f} s)")  # fmt: skip
                figures.append(Figure(f"job_{mode}_parallelism_{parallelism}_events_per_cpu_second", round(per_core),
                                      "events/s per CPU-second", workload))  # fmt: skip
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Enough events that the job runs for seconds beyond its start-up at tens of thousands a second.
    parser.add_argument("--sessions", type=int, default=6_000)
    parser.add_argument("--concurrent", type=int, default=300)
    parser.add_argument("--skip-job", action="store_true", help="the state machine only (no PyFlink needed)")
    add_reference_option(parser)
    args = parser.parse_args()
    documents = workload(args.sessions, args.concurrent)
    described = f"{args.sessions:,} sessions, ~{args.concurrent} concurrent, {len(documents):,} events"
    print(f"workload: {described}")
    bench_state_machine(documents)
    if not args.skip_job:
        figures = bench_job(documents, workload(max(10, args.sessions // 30), args.concurrent, seed=8), described)
        record("sessionizer", figures, args.reference)


if __name__ == "__main__":
    main()
