"""The whole pipeline on one machine: `make run` (python -m runtime.local).

Starts kinesis-mock and moto server on loopback, creates the stack's streams, buckets,
deliveries and sessions table with the program's names, then runs the real components:
the ingest service (uvicorn), the PyFlink sessionizer (local mini-cluster, real
connector jar), and the session writer's handler fed like its event source mapping.
A player simulator posts EPAS events while the view (view.py) shows the pipeline; at
the end verify.py drains, reads back and compares with the simulator's ground truth.
Everything started is stopped by its pid on exit (Ctrl-C included).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import os
import signal
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.ingest.settings import base_settings
from runtime.ingest.settings import environment as ingest_environment
from runtime.local import view
from runtime.local.chaos import CHAOS_ALLOWED_LATENESS_MS, CHAOS_TIMING, Chaos, plan
from runtime.local.fault_proxy import FaultProxy
from runtime.local.freshness import Freshness
from runtime.local.function_logs import FunctionLogs
from runtime.local.job import FLINK_PYTHON, job_running, local_sessionizer
from runtime.local.kinesis_mock import LOCAL_CREDENTIALS, KinesisMock, start_kinesis_mock
from runtime.local.moto_server import MotoServer, start_moto_server
from runtime.local.options import ROOT, Options, fail, parse_options, stack_file
from runtime.local.processes import Started, free_port, start, wait_until
from runtime.local.relay import EventSourcePoller, FirehoseRelay
from runtime.local.replaying import local_replay, replay_region, wall_ms
from runtime.local.resources import RegionResources, create, names
from runtime.local.simulator import PlayerSimulator, Timing
from runtime.local.stores import LocalInfluxDB, LocalStore, MotoTimestream
from runtime.local.verify import Pending, Report, Verifier, print_report
from runtime.names import STREAM_KINDS, StreamKind
from runtime.replay.history import Progress
from runtime.replay.replay import now_ms
from runtime.session_writer.handler import handle
from runtime.session_writer.handler import logger as writer_logger
from runtime.session_writer.records import kinesis_session_records
from runtime.sessionizer.config import JAR_VARIABLE, SessionizerConfig, session_settings
from runtime.sessionizer.config import environment as sessionizer_environment
from runtime.sessionizer.package import CONNECTOR_JAR
from runtime.sessionizer.session import SessionSettings
from runtime.stack import RegionSettings, Settings, SettingsError, from_stack_file


@dataclass
class RegionRun:
    resources: RegionResources
    ingest: Started
    ingest_url: str
    sessionizer: Started
    job: SessionizerConfig  # what the region's sessionizer runs with
    relays: dict[StreamKind, FirehoseRelay]  # stream -> its bucket, as Firehose
    writer: EventSourcePoller
    latest: dict[str, dict[str, Any]] = field(default_factory=dict)  # session id -> newest record
    freshness: Freshness = field(default_factory=Freshness)  # post -> first row, post -> final row
    finals: dict[str, set[str]] = field(default_factory=dict)  # session id -> each distinct final record seen


class LocalPipeline:
    def __init__(self, options: Options, settings: Settings) -> None:
        self.options = options
        self.settings = settings
        self.log_dir = options.log_dir / time.strftime("%Y%m%d-%H%M%S")
        self.kinesis: KinesisMock | None = None
        self.moto: MotoServer | None = None
        self.store: LocalStore | None = None  # the sessions store (--store)
        self._sessions: tuple[float, list[dict[str, Any]]] = (0.0, [])  # when queried, the store's sessions
        self.regions: list[RegionRun] = []
        self.started_at = time.monotonic()
        self.simulator: PlayerSimulator | None = None
        self.traffic_started: float | None = None
        self.traffic_ended: float | None = None
        self.draining: tuple[Pending, float] | None = None  # what the drain waits for, seconds waited
        self.drained: tuple[bool, float] = (False, 0.0)  # everything arrived, seconds the drain took
        self.replaying: dict[str, Progress] | None = None  # region -> the replay's progress, once it began
        self.replay_ended = False
        self.kinesis_proxy: FaultProxy | None = None  # --chaos: between the ingest service and kinesis-mock
        self.chaos: Chaos | None = None
        self._restarts: dict[str, int] = {}
        self.function_logs = FunctionLogs(sys.stdout)  # the writer's logs and metrics, as in its log group

    @property
    def region_settings(self) -> list[RegionSettings]:
        return list(self.settings.regions) if self.options.regions == "both" else [self.settings.primary]

    def session_settings(self, region: str) -> SessionSettings:
        """What the region's job runs with, for the ground truth."""
        return session_settings(next(run.job for run in self.regions if run.resources.region.name == region))

    # -- start ---------------------------------------------------------------------

    def start(self) -> None:
        if not FLINK_PYTHON.exists() or not CONNECTOR_JAR.exists():
            raise SystemExit("the sessionizer's environment and connector jar are missing: run `make run`")
        self.function_logs.install(writer_logger.logger_handler)
        self.kinesis = start_kinesis_mock(ROOT / ".local" / "kinesis-mock", self.log_dir)
        if self.options.chaos:
            self.kinesis_proxy = FaultProxy(self.kinesis.endpoint).start()
        self.moto = start_moto_server(self.log_dir)
        if self.options.store == "influxdb":
            self.store = LocalInfluxDB(self.log_dir / "influxdb", self.log_dir)
        else:
            self.store = MotoTimestream(self.moto)
        for region in self.region_settings:
            self.regions.append(self._start_region(region))
        for run in self.regions:
            assert run.job.rest_port is not None
            wait_until(functools.partial(job_running, run.job.rest_port), run.sessionizer, 300,
                       f"sessionizer ({run.resources.region.name})")  # fmt: skip
        self.started_at = time.monotonic()

    def _start_region(self, region: RegionSettings) -> RegionRun:
        assert self.kinesis is not None and self.moto is not None and self.store is not None
        resources = names(self.settings, region)
        kinesis = self.kinesis.client(region.name)
        firehose = self.moto.client("firehose", region.name)
        timestream = self.moto.client("timestream-write", region.name) if self.store.engine == "liveanalytics" else None
        create(resources, self.settings, kinesis, self.moto.client("s3", region.name), firehose, timestream)
        job = local_sessionizer(self.settings.environment, resources, self.kinesis.endpoint,
                                self.log_dir / "checkpoints" / resources.region.code)  # fmt: skip
        job = dataclasses.replace(job, rest_port=free_port())
        if self.options.chaos:
            job = dataclasses.replace(job, allowed_lateness_ms=CHAOS_ALLOWED_LATENESS_MS)

        ingest, ingest_url = self.start_ingest(region, resources, job)
        sessionizer = self.start_sessionizer(region, job)

        relays = {kind: FirehoseRelay(kinesis, firehose, resources.streams[kind], resources.deliveries[kind])
                  for kind in STREAM_KINDS}  # fmt: skip
        store = self.store.writer_store(resources)
        latest: dict[str, dict[str, Any]] = {}
        freshness = Freshness()
        finals: dict[str, set[str]] = {}

        def write(event: dict[str, Any]) -> dict[str, Any]:
            with self.function_logs.logging_to(self.log_dir / f"session-writer-{resources.region.code}.log"):
                answer = handle(event, None, store)
            # The rows are in the store now (those of failed records are not, and come again).
            failed = {failure["itemIdentifier"] for failure in answer.get("batchItemFailures", [])}
            stored = {**event, "Records": [r for r in event["Records"] if r["kinesis"]["sequenceNumber"] not in failed]}
            self._observe(stored, region.name, latest, freshness, finals)
            return answer

        batch_size = min(self.settings.session_store.batch_size, 1_000)
        writer = EventSourcePoller(kinesis, resources.streams["session"], resources.stream_arn("session"),
                                   region.name, write, batch_size)  # fmt: skip
        for thread in [*relays.values(), writer]:
            thread.start()
        return RegionRun(resources, ingest, ingest_url, sessionizer, job, relays, writer, latest, freshness, finals)

    def start_ingest(self, region: RegionSettings, resources: RegionResources,
                     job: SessionizerConfig) -> tuple[Started, str]:  # fmt: skip
        """An ingest process for the region on a free port, once it is ready: (process, base URL)."""
        assert self.kinesis is not None and self.moto is not None
        port = free_port()
        # A chaos run puts its fault proxy between the ingest service and kinesis-mock.
        kinesis_endpoint = self.kinesis_proxy.endpoint if self.kinesis_proxy else self.kinesis.endpoint
        ingest = start(
            f"ingest-{region.code}-{port}",
            [sys.executable, "-m", "runtime.ingest"],
            {
                **ingest_environment(
                    dataclasses.replace(
                        base_settings(resources.streams["raw"], region.name),
                        kinesis_endpoint=kinesis_endpoint,
                        firehose_endpoint=self.moto.endpoint,
                        failed_events_stream=resources.failed_events_delivery,
                        host="127.0.0.1",
                        port=port,
                        heartbeat_interval_ms=job.heartbeat_interval_ms,
                    )
                ),
                "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["aws_access_key_id"],
                "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["aws_secret_access_key"],
            },
            ROOT,
            self.log_dir,
        )
        ingest_url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _get(f"{ingest_url}/ready") == 200, ingest, 60, f"ingest service ({region.name})")
        return ingest, ingest_url

    def start_sessionizer(self, region: RegionSettings, job: SessionizerConfig, restart: bool = False) -> Started:
        """The region's job; with the run's checkpoint directory it resumes from its newest checkpoint."""
        name = f"sessionizer-{region.code}"
        if restart:  # a log of its own: the killed job's log stays as it was
            self._restarts[name] = self._restarts.get(name, 0) + 1
            name = f"{name}-restart-{self._restarts[name]}"
        variables = {**sessionizer_environment(job), JAR_VARIABLE: str(CONNECTOR_JAR)}
        return start(name, [str(FLINK_PYTHON), "-m", "runtime.sessionizer.job"], variables, ROOT, self.log_dir)

    def _observe(self, event: dict[str, Any], region: str, latest: dict[str, dict[str, Any]],
                 freshness: Freshness, finals: dict[str, set[str]]) -> None:  # fmt: skip
        """What the writer stored: the newest version of each session (as the store keeps it),
        each distinct final record, and how fresh the rows are (freshness.py)."""
        now = time.time()
        for record in event["Records"]:
            if self.chaos is not None:
                self.chaos.observe(region, record["kinesis"]["approximateArrivalTimestamp"])
            for session in kinesis_session_records(record):
                fields = dict(session.fields)
                if fields["final"]:
                    finals.setdefault(session.session_id, set()).add(json.dumps(
                        {k: v for k, v in fields.items() if k != "version"}, sort_keys=True))  # fmt: skip
                known = latest.get(session.session_id)
                if known is None or known["version"] <= fields["version"]:
                    latest[session.session_id] = fields
                truth = self.simulator.sessions.get(session.session_id) if self.simulator else None
                freshness.observe(fields, truth, now)

    # -- run -----------------------------------------------------------------------

    async def simulate_and_drain(self) -> Verifier:
        """Traffic for the options' duration (or until stopped), then the drain, with the view on."""
        assert self.moto is not None
        self.simulator = PlayerSimulator({r.resources.region.name: r.ingest_url for r in self.regions},
                                         self.options.viewers, self.options.seed,
                                         CHAOS_TIMING if self.options.chaos else Timing())  # fmt: skip
        assert self.store is not None
        verifier = Verifier(self.simulator, self.moto, self.store, self.regions)
        shown = asyncio.create_task(view.show(self, self.options.view))
        try:
            self.traffic_started = time.monotonic()
            until = self.traffic_started + self.options.duration if self.options.duration else None
            if self.options.chaos:
                regions = [run.resources.region.name for run in self.regions]
                self.chaos = Chaos(self, plan(self.options.chaos_seed, self.options.duration, regions))
                await asyncio.gather(self.simulator.run(until), self.chaos.run())
            else:
                await self.simulator.run(until)
            self.traffic_ended = time.monotonic()
            self.drained = await verifier.drain(self.options.drain_seconds, self._drain_progress)
            if self.options.replay_multiplier and self.traffic_started is not None:
                await self._replay(verifier, wall_ms(self.traffic_started))
        finally:
            shown.cancel()
            await asyncio.gather(shown, return_exceptions=True)
        return verifier

    async def _replay(self, verifier: Verifier, traffic_started_ms: int) -> None:
        """The run's raw buckets fired back into its raw streams; then everything drains again."""
        assert self.moto is not None and self.kinesis is not None
        moto, kinesis, start = self.moto, self.kinesis, now_ms()
        replays = [local_replay(run.resources.region.name, self.options.replay_multiplier, self.options.seed,
                                traffic_started_ms, start) for run in self.regions]  # fmt: skip
        verifier.replays = replays
        progress: dict[str, Progress] = {}
        self.replaying = progress
        self.draining = None

        def report(region: str) -> Callable[[Progress], None]:
            return lambda p: progress.__setitem__(region, p)

        await asyncio.gather(*(replay_region(run, replay, moto, kinesis, report(replay.region))
                               for run, replay in zip(self.regions, replays, strict=True)))  # fmt: skip
        self.replay_ended = True
        self.drained = await verifier.drain(self.options.drain_seconds, self._drain_progress)

    def _drain_progress(self, pending: Pending, waited: float) -> None:
        self.draining = (pending, waited)

    def newest_sessions(self) -> list[dict[str, Any]]:
        """Each session's newest row, as the store answers the dashboards' sessions query (at most
        once a second); a store that answers no query (moto's Timestream): the records handed to it."""
        queried_at = self._sessions[0]
        if self.store is not None and time.monotonic() - queried_at >= 1.0:
            answer = self.store.newest_sessions()
            if answer is None:
                answer = [record for run in self.regions for record in run.latest.values()]
            self._sessions = time.monotonic(), answer
        return self._sessions[1]

    def traffic_seconds(self) -> float:
        if self.traffic_started is None:
            return 0.0
        return (self.traffic_ended or time.monotonic()) - self.traffic_started

    def phase(self) -> str:
        simulator = self.simulator
        if simulator is None or self.traffic_started is None:
            return "starting"
        if self.traffic_ended is None:
            if not simulator.stopping:
                if self.options.duration:
                    return f"traffic {self.traffic_seconds():,.0f} of {self.options.duration:g} s"
                return f"traffic {self.traffic_seconds():,.0f} s (Ctrl-C ends it)"
            return f"finishing: {simulator.playing()} playing, {simulator.held()} held back"
        if self.replaying is not None and not self.replay_ended:
            events = sum(p.read.events for p in self.replaying.values())
            lag = max((p.lag_ms for p in self.replaying.values()), default=0) / 1000
            return f"replaying x{self.options.replay_multiplier}: {events:,} recorded events read, {lag:.1f} s behind"
        if self.draining is None:
            return "draining"
        pending, waited = self.draining
        if pending.done:
            return "drained: comparing"
        return f"draining {waited:,.0f}/{self.options.drain_seconds:g} s: {pending.describe()} to come"

    def errors(self) -> list[str]:
        found = [e for run in self.regions for t in [*run.relays.values(), run.writer] for e in t.stats.errors]
        if self.simulator:
            found += self.simulator.stats.errors
        for run in self.regions:
            for started in (run.ingest, run.sessionizer):
                if started.process.poll() is not None:
                    found.append(f"{started.name} exited with {started.process.returncode}: {started.log_tail(5)}")
            found += [f"{run.ingest.name}: {line}" for line in _log_lines(run.ingest.log_path)
                      if '"level":"ERROR"' in line.replace(" ", "") or "Traceback" in line]  # fmt: skip
            found += [f"{run.sessionizer.name}: {line}" for line in _log_lines(run.sessionizer.log_path)
                      if line.startswith(("Traceback", "py4j.protocol.Py4JJavaError"))]  # fmt: skip
        return found

    # -- end -----------------------------------------------------------------------

    def stop(self) -> None:
        for run in self.regions:
            for thread in [*run.relays.values(), run.writer]:
                thread.stop()
            for started in (run.ingest, run.sessionizer):
                started.stop()
        for stand_in in (self.store, self.kinesis, self.moto):
            if stand_in is not None:
                stand_in.stop()
        if self.kinesis_proxy is not None:
            self.kinesis_proxy.stop()
        self.function_logs.uninstall()


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=2) as response:
        return int(response.status)


def _log_lines(path: Path) -> Iterator[str]:
    try:
        yield from path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return


def run(options: Options) -> Report:
    """One local run; a bad stack file ends it before anything starts (exit 2)."""
    try:
        settings = from_stack_file(stack_file(options.stack))
    except SettingsError as error:
        fail(f"--stack {options.stack}: {error}")
    pipeline = LocalPipeline(options, settings)

    def on_signal(signum: int, _: Any) -> None:
        if pipeline.simulator is not None:
            pipeline.simulator.stop()

    previous = signal.signal(signal.SIGINT, on_signal)
    try:
        pipeline.start()
        if options.duration:
            print(f"viewers start sessions for {options.duration:g} s; the ones playing then finish (up to "
                  f"{Timing().session_ms[1] // 1000} s) and the pipeline drains (up to {options.drain_seconds:g} s)",
                  flush=True)  # fmt: skip
        verifier = asyncio.run(pipeline.simulate_and_drain())
        report = verifier.report(pipeline.session_settings, pipeline.traffic_seconds(), pipeline.drained,
                                 pipeline.errors())  # fmt: skip
        report.faults = [fault.describe() for fault in pipeline.chaos.faults] if pipeline.chaos else []
        return report
    finally:
        pipeline.stop()
        signal.signal(signal.SIGINT, previous)


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "prism")
    report = run(options)
    print_report(report)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
