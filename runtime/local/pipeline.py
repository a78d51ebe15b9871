"""The whole pipeline on one machine: `make run` (python -m runtime.local).

The run composes parts (parts.py): the stand-ins on loopback (stand_ins.py), then per
region its resources and real components (region.py): the ingest service, the PyFlink
sessionizer (local mini-cluster, real connector jar), the session writer's handler fed
like its event source mapping. A player simulator posts EPAS events; actions (chaos.py)
act on parts while it plays; readers (view.py, verify.py) read snapshots of the run.
Everything started is stopped on exit, Ctrl-C included, last started first.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from runtime.local import view
from runtime.local.chaos import CHAOS_ALLOWED_LATENESS_MS, CHAOS_TIMING, Chaos, plan
from runtime.local.dashboard.pipeline import PIPELINE_FILE, PipelineHistory
from runtime.local.dashboard.server import PAGE_QUERY, DashboardServer, SessionsStore
from runtime.local.function_logs import FunctionLogs
from runtime.local.ingest_service import Addresses
from runtime.local.job import FLINK_PYTHON, LOCAL_ALLOWED_LATENESS_MS, late_after_ms
from runtime.local.moved import EventKey, stream_events
from runtime.local.options import Options, fail, parse_options, stack_file
from runtime.local.outage import OUTAGE_ALLOWED_LATENESS_MS, OUTAGE_TIMING, RegionOutage
from runtime.local.parts import Part
from runtime.local.region import RegionRun, RegionStart, across_regions, start_region
from runtime.local.replaying import local_replay, replay_region, wall_ms
from runtime.local.report_page import write_report
from runtime.local.report_text import print_report
from runtime.local.simulator import PlayerSimulator, Timing
from runtime.local.snapshot import Snapshot
from runtime.local.stand_ins import StandIns, start_stand_ins
from runtime.local.stores import LocalInfluxDB, LocalStore, NewestSessions
from runtime.local.timeline import Timeline
from runtime.local.verify import Report, Verifier
from runtime.replay.history import Progress
from runtime.replay.replay import now_ms
from runtime.session_writer.handler import logger as writer_logger
from runtime.sessionizer.package import CONNECTOR_JAR
from runtime.sessionizer.session import SessionSettings
from runtime.stack import Settings, SettingsError, from_stack_file


class LocalPipeline:
    """A started run: its stand-ins, its regions, the players, and where the run is (the timeline)."""

    def __init__(self, options: Options, stand_ins: StandIns, regions: list[RegionRun], simulator: PlayerSimulator,
                 addresses: Addresses) -> None:  # fmt: skip
        self.options = options
        self.stand_ins = stand_ins
        self.regions = regions
        self.simulator = simulator
        self.timeline = Timeline()
        self.sessions = NewestSessions(stand_ins.store,
                                       lambda: [r for run in regions for r in run.observations.newest()])  # fmt: skip
        self.chaos: Chaos | None = None
        if options.chaos:
            faults = plan(options.chaos_seed, options.duration, [run.name for run in regions])
            self.chaos = Chaos(faults, self.part, stand_ins.kinesis_faults, self.timeline.traffic_seconds)
            for run in regions:
                run.observations.listeners.append(functools.partial(self.chaos.observe, run.name))
        self.dashboard_url = ""  # the dashboard page, once served
        self.outage: RegionOutage | None = None
        if options.outage:
            down = self.region(options.outage.region)
            other = next(run.name for run in regions if run is not down)
            self.outage = RegionOutage(options.outage, other, down.parts, addresses, self.timeline.traffic_seconds)

    @classmethod
    def start(cls, options: Options, settings: Settings, log_dir: Path, started: ExitStack) -> LocalPipeline:
        """Every part up (the sessionizers running all their tasks); each is stopped when ``started`` closes."""
        if not FLINK_PYTHON.exists() or not CONNECTOR_JAR.exists():
            raise SystemExit("the sessionizer's environment and connector jar are missing: run `make run`")
        function_logs = FunctionLogs(sys.stdout)  # the writer's logs and metrics, as in its log group
        function_logs.install(writer_logger.logger_handler)
        started.callback(function_logs.uninstall)
        stand_ins = start_stand_ins(options, log_dir, started)
        addresses = Addresses()
        timing, lateness = _timing(options)
        simulator = PlayerSimulator(addresses, options.viewers, options.seed, timing, serving=addresses.serving)
        regions = list(settings.regions) if options.regions == "both" else [settings.primary]
        runs = []
        for region in regions:
            start = RegionStart(settings, region, stand_ins, log_dir, function_logs, simulator.sessions.get, lateness)
            run = start_region(start, started)
            addresses.serve(run.name, run.ingest)
            runs.append(run)
        for run in runs:  # launched together: the mini-clusters start side by side
            run.sessionizer.wait_ready()
        if len(runs) > 1:
            across_regions(runs, stand_ins, started)
        return cls(options, stand_ins, runs, simulator, addresses)

    def region(self, name: str) -> RegionRun:
        return next(run for run in self.regions if run.name == name)

    def part(self, region: str, name: str) -> Part:
        """A region's part by its name (region.py), for the actions."""
        return self.region(region).parts()[name]

    def session_settings(self, region: str) -> SessionSettings:
        return self.region(region).session_settings

    # -- what readers see ---------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        timeline = self.timeline
        return Snapshot(
            stack=self.options.stack,
            phase=timeline.phase(self.simulator, self.options),
            seconds_running=time.monotonic() - timeline.started_at,
            traffic_seconds=timeline.traffic_seconds(),
            acknowledged=self.simulator.stats.events_acknowledged,
            sessions=tuple(self.sessions()),
            regions=tuple(run.snapshot() for run in self.regions),
            stand_ins_healthy=tuple((part.name, part.healthy()) for part in self.stand_ins.parts()),
            errors=tuple(self.errors()),
            faults=tuple(self.faults(struck_only=True)),
            dashboard_url=self.dashboard_url,
        )

    def _down_region(self) -> str | None:
        return self.outage.down() if self.outage is not None else None

    def _held_in_down_region(self) -> set[EventKey]:
        """The events in the raw stream of a region the outage took down and that is not back."""
        region = self._down_region()
        if region is None:
            return set()
        return stream_events(self.stand_ins.kinesis.client(region), self.region(region).resources.streams["raw"])

    def faults(self, struck_only: bool = False) -> list[str]:
        """The chaos faults and the outage, described (only those that struck, if asked)."""
        found: list[str] = []
        if self.chaos is not None:
            found += self.chaos.struck() if struck_only else [fault.describe() for fault in self.chaos.faults]
        if self.outage is not None and (self.outage.struck or not struck_only):
            found.append(self.outage.describe())
        return found

    def errors(self) -> list[str]:
        found = [problem for part in self.stand_ins.parts() for problem in part.problems()]
        found += [problem for run in self.regions for problem in run.problems()]
        return found + list(self.simulator.stats.errors)

    # -- the run ------------------------------------------------------------------------

    async def simulate_and_drain(self) -> Verifier:
        """Traffic for the options' duration (or until stopped), then the drain, with the view on."""
        stand_ins, timeline, options = self.stand_ins, self.timeline, self.options
        verifier = Verifier(self.simulator, stand_ins.moto, stand_ins.store, [run.resources for run in self.regions],
                            self.session_settings, held=self._held_in_down_region, down=self._down_region)  # fmt: skip
        shown = asyncio.create_task(view.show(self.snapshot, options.view))
        try:
            timeline.traffic_started = time.monotonic()
            until = timeline.traffic_started + options.duration if options.duration else None
            actions = [action.run() for action in (self.chaos, self.outage) if action is not None]
            await asyncio.gather(self.simulator.run(until), *actions)
            timeline.traffic_ended = time.monotonic()
            timeline.drained = await verifier.drain(options.drain_seconds, self.snapshot, timeline.drain_progress)
            if options.replay_multiplier:
                await self._replay(verifier, wall_ms(timeline.traffic_started))
        finally:
            shown.cancel()
            await asyncio.gather(shown, return_exceptions=True)
        return verifier

    async def _replay(self, verifier: Verifier, traffic_started_ms: int) -> None:
        """The run's raw buckets fired back into its raw streams; then everything drains again."""
        moto, kinesis, start, options = self.stand_ins.moto, self.stand_ins.kinesis, now_ms(), self.options
        replays = [local_replay(run.name, options.replay_multiplier, options.seed, traffic_started_ms, start)
                   for run in self.regions]  # fmt: skip
        verifier.replays = replays
        progress = self.timeline.replay_began()

        def report(region: str) -> Callable[[Progress], None]:
            return lambda p: progress.__setitem__(region, p)

        await asyncio.gather(*(replay_region(run.resources, replay, moto, kinesis, report(replay.region))
                               for run, replay in zip(self.regions, replays, strict=True)))  # fmt: skip
        self.timeline.replay_ended = True
        self.timeline.drained = await verifier.drain(options.drain_seconds, self.snapshot,
                                                     self.timeline.drain_progress)  # fmt: skip

    def report(self, verifier: Verifier) -> Report:
        report = verifier.report(self.snapshot(), self.timeline.drained)
        report.faults = self.faults()
        return report


def _timing(options: Options) -> tuple[Timing, int | None]:
    """The players' timing and the job's allowed lateness (None: the local job's) for the actions asked for."""
    if options.outage:  # the longer of the two: it covers the chaos faults' holds too
        return OUTAGE_TIMING, OUTAGE_ALLOWED_LATENESS_MS
    if options.chaos:
        return CHAOS_TIMING, CHAOS_ALLOWED_LATENESS_MS
    return Timing(late_after_ms=late_after_ms(LOCAL_ALLOWED_LATENESS_MS)), None


def run(options: Options) -> Report:
    """One local run; a bad stack file ends it before anything starts (exit 2)."""
    try:
        settings = from_stack_file(stack_file(options.stack))
    except SettingsError as error:
        fail(f"--stack {options.stack}: {error}")
    regions = [region.name for region in settings.regions]
    if options.outage and options.outage.region not in regions:
        fail(f"argument --outage: {options.outage.region} is not a region of stack {options.stack} "
             f"({', '.join(regions)})")  # fmt: skip
    with ExitStack() as started:
        folder = options.log_dir / time.strftime("%Y%m%d-%H%M%S")
        pipeline = LocalPipeline.start(options, settings, folder, started)
        history = PipelineHistory(pipeline.snapshot)
        page = DashboardServer(history, sessions_store(pipeline.stand_ins.store), options.dashboard_port)
        started.callback(page.stop)
        pipeline.dashboard_url = page.start().url + PAGE_QUERY
        print(f"dashboards: {pipeline.dashboard_url}", flush=True)
        # Ctrl-C ends the traffic: the sessions playing finish, the pipeline drains, the comparison runs.
        previous = signal.signal(signal.SIGINT, lambda *_: pipeline.simulator.stop())
        started.callback(signal.signal, signal.SIGINT, previous)
        if options.duration:
            print(f"viewers start sessions for {options.duration:g} s; the ones playing then finish (up to "
                  f"{Timing().session_ms[1] // 1000} s) and the pipeline drains (up to {options.drain_seconds:g} s)",
                  flush=True)  # fmt: skip
        verifier = asyncio.run(pipeline.simulate_and_drain())
        report = pipeline.report(verifier)
        try:
            report.page = write_run_page(folder, options, report, page.history, pipeline.snapshot())
        except Exception as error:  # the verdict stands without its figures: say so and go on
            print(f"the report page was not written: {error!r}", flush=True)
        return report


def sessions_store(store: LocalStore) -> SessionsStore | None:
    """What the dashboard page queries: the run's InfluxDB (moto's Timestream answers no query)."""
    if isinstance(store, LocalInfluxDB):
        return SessionsStore(store.server.query, store.databases)
    return None


def write_run_page(folder: Path, options: Options, report: Report, history: PipelineHistory,
                   snapshot: Snapshot) -> Path:  # fmt: skip
    """The pipeline view's samples (pipeline.json, for the page served again later) and the report page."""
    history.sample()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / PIPELINE_FILE).write_text(json.dumps(history.saved()))
    title = f"prism-pipeline local run: {options.stack}, {options.viewers} viewers, seed {options.seed}"
    return write_report(folder, title, report, history.view(), history.marks, snapshot.first_row_ms(),
                        snapshot.final_row_ms())  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "prism")
    report = run(options)
    print_report(report)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
