"""The whole pipeline on one machine: `make run` (python -m runtime.local.pipeline).

Starts kinesis-mock and moto server on loopback, creates the stack's streams, buckets,
deliveries and sessions table with the program's names, then runs the real components:
the ingest service (uvicorn), the PyFlink sessionizer (local mini-cluster, real
connector jar), and the session writer's handler fed like its event source mapping.
A player simulator posts EPAS events; a live view shows the pipeline; at the end the
store is compared with the simulator's ground truth. Everything started is stopped by
its pid on exit (Ctrl-C included).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.settings import RegionSettings, Settings, from_stack_file
from runtime.local.kinesis_mock import LOCAL_CREDENTIALS, KinesisMock, start_kinesis_mock
from runtime.local.moto_server import MotoServer, start_moto_server
from runtime.local.processes import Started, free_port, start, wait_until
from runtime.local.relay import EventSourcePoller, FirehoseRelay
from runtime.local.resources import RegionResources, create, names
from runtime.local.simulator import PlayerSimulator, Timing
from runtime.session_writer.handler import handle
from runtime.session_writer.records import MEASURES, kinesis_session_records, timestream_row
from runtime.session_writer.timestream import TimestreamStore
from runtime.sessionizer.package import CONNECTOR_JAR
from runtime.sessionizer.session import SessionSettings

ROOT = Path(__file__).resolve().parents[2]
FLINK_PYTHON = ROOT / ".venv-sessionizer" / "bin" / "python"
# Local timing: seconds-long sessions need a watermark and timeouts on the same scale.
LOCAL_SESSIONIZER = {
    "heartbeat.interval.ms": 1_000,
    "watermark.out.of.orderness.ms": 1_000,
    "watermark.idle.advance.after.ms": 1_000,
    "allowed.lateness.ms": 2_000,
    "inactivity.gap.ms": 4_000,
    "update.interval.ms": 2_000,
    "checkpoint.interval.ms": 10_000,
}
COMPARED_TOLERANCE = 1e-9


@dataclass
class Options:
    stack: str = "dev"
    regions: str = "primary"  # or "both"
    duration: float = 0.0  # seconds of simulated traffic; 0: until Ctrl-C
    viewers: int = 6
    seed: int = 7
    view: bool = True
    drain_seconds: float = 90.0
    log_dir: Path = ROOT / ".local" / "run"


@dataclass
class RegionRun:
    resources: RegionResources
    ingest: Started
    ingest_url: str
    sessionizer: Started
    relays: list[FirehoseRelay]
    writer: EventSourcePoller
    latest: dict[str, dict[str, Any]] = field(default_factory=dict)  # session id -> newest record
    latencies_ms: list[float] = field(default_factory=list)


@dataclass
class Report:
    events_acknowledged: int
    events_per_second: float
    sessions_compared: int
    sessions_matched: int
    mismatches: list[str]
    missing_raw_events: int
    too_late_events: int
    missing_late_events: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    errors: list[str]

    @property
    def ok(self) -> bool:
        return (
            self.sessions_compared > 0
            and self.sessions_matched == self.sessions_compared
            and not self.missing_raw_events
            and not self.missing_late_events
            and not self.errors
        )


class LocalPipeline:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.settings: Settings = from_stack_file(ROOT / f"Pulumi.{options.stack}.yaml")
        self.log_dir = options.log_dir / time.strftime("%Y%m%d-%H%M%S")
        self.kinesis: KinesisMock | None = None
        self.moto: MotoServer | None = None
        self.regions: list[RegionRun] = []
        self.started_at = 0.0
        self.simulator: PlayerSimulator | None = None

    @property
    def region_settings(self) -> list[RegionSettings]:
        return list(self.settings.regions) if self.options.regions == "both" else [self.settings.primary]

    def session_settings(self, region: str) -> SessionSettings:
        return SessionSettings(
            environment=self.settings.environment,
            region=region,
            allowed_lateness_ms=LOCAL_SESSIONIZER["allowed.lateness.ms"],
            inactivity_gap_ms=LOCAL_SESSIONIZER["inactivity.gap.ms"],
            update_interval_ms=LOCAL_SESSIONIZER["update.interval.ms"],
        )

    # -- start ---------------------------------------------------------------------

    def start(self) -> None:
        if not FLINK_PYTHON.exists() or not CONNECTOR_JAR.exists():
            raise SystemExit("the sessionizer's environment and connector jar are missing: run `make run`")
        self.kinesis = start_kinesis_mock(ROOT / ".local" / "kinesis-mock", self.log_dir)
        self.moto = start_moto_server(self.log_dir)
        for region in self.region_settings:
            self.regions.append(self._start_region(region))
        self.started_at = time.monotonic()

    def _start_region(self, region: RegionSettings) -> RegionRun:
        assert self.kinesis is not None and self.moto is not None
        resources = names(self.settings, region)
        kinesis = self.kinesis.client(region.name)
        firehose = self.moto.client("firehose", region.name)
        timestream = self.moto.client("timestream-write", region.name)
        create(resources, self.settings, kinesis, self.moto.client("s3", region.name), firehose, timestream)

        port = free_port()
        ingest = start(
            f"ingest-{region.code}",
            [sys.executable, "-m", "runtime.ingest"],
            {
                "INGEST_STREAM_NAME": resources.streams["raw"],
                "INGEST_REGION": region.name,
                "INGEST_KINESIS_ENDPOINT": self.kinesis.endpoint,
                "INGEST_FIREHOSE_ENDPOINT": self.moto.endpoint,
                "INGEST_FAILED_EVENTS_STREAM": resources.failed_events_delivery,
                "INGEST_HOST": "127.0.0.1",
                "INGEST_PORT": str(port),
                "INGEST_HEARTBEAT_INTERVAL_MS": str(LOCAL_SESSIONIZER["heartbeat.interval.ms"]),
                "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["aws_access_key_id"],
                "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["aws_secret_access_key"],
            },
            ROOT,
            self.log_dir,
        )
        ingest_url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _get(f"{ingest_url}/ready") == 200, ingest, 60, f"ingest service ({region.name})")

        properties = {
            "environment": self.settings.environment,
            "region": region.name,
            "raw.stream": resources.streams["raw"],
            "session.stream": resources.streams["session"],
            "late.stream": resources.streams["late"],
            "aws.endpoint": self.kinesis.endpoint,
            "source.initial.position": "TRIM_HORIZON",
            "parallelism": "1",
            **{key: str(value) for key, value in LOCAL_SESSIONIZER.items()},
        }
        sessionizer = start(
            f"sessionizer-{region.code}",
            [str(FLINK_PYTHON), "-m", "runtime.sessionizer.job"],
            {
                **{"PRISM_SESSIONIZER_" + k.upper().replace(".", "_"): v for k, v in properties.items()},
                "PRISM_SESSIONIZER_JAR": str(CONNECTOR_JAR),
            },
            ROOT,
            self.log_dir,
        )

        relays = [FirehoseRelay(kinesis, firehose, resources.streams[k], resources.deliveries[k])
                  for k in ("raw", "session", "late")]  # fmt: skip
        store = TimestreamStore(timestream, resources.database, resources.table)
        latest: dict[str, dict[str, Any]] = {}
        latencies: list[float] = []

        def write(event: dict[str, Any]) -> dict[str, Any]:
            self._observe(event, latest, latencies)
            return handle(event, None, store)

        batch_size = min(self.settings.session_store.batch_size, 1_000)
        writer = EventSourcePoller(kinesis, resources.streams["session"], resources.stream_arn("session"),
                                   region.name, write, batch_size)  # fmt: skip
        for thread in [*relays, writer]:
            thread.start()
        return RegionRun(resources, ingest, ingest_url, sessionizer, relays, writer, latest, latencies)

    def _observe(self, event: dict[str, Any], latest: dict[str, dict[str, Any]], latencies: list[float]) -> None:
        """What the writer is handed: the live view's sessions, and post-to-record latency."""
        now = time.time()
        for record in event["Records"]:
            for session in kinesis_session_records(record):
                latest[session.session_id] = dict(session.fields)
                truth = self.simulator.sessions.get(session.session_id) if self.simulator else None
                posted = truth.posted_at.get(session.fields["lastEventTime"]) if truth else None
                if posted is not None:
                    latencies.append((now - posted) * 1000)

    # -- run -----------------------------------------------------------------------

    async def simulate(self) -> None:
        self.simulator = PlayerSimulator({r.resources.region.name: r.ingest_url for r in self.regions},
                                         self.options.viewers, self.options.seed, Timing())  # fmt: skip
        until = time.monotonic() + self.options.duration if self.options.duration else None
        view = asyncio.create_task(self._view())
        try:
            await self.simulator.run(until)
        finally:
            view.cancel()

    async def _view(self) -> None:
        if self.options.view and sys.stdout.isatty():
            from rich.live import Live

            with Live(self._table(), refresh_per_second=2, screen=False) as live:
                while True:
                    await asyncio.sleep(1)
                    live.update(self._table())
        else:
            while True:
                await asyncio.sleep(5)
                print(" | ".join(f"{k} {v}" for k, v in self.status().items()), flush=True)

    def _table(self) -> Any:
        from rich.table import Table

        table = Table(title=f"prism-pipeline local ({self.options.stack}) — Ctrl-C stops", show_header=False)
        for key, value in self.status().items():
            table.add_row(key, str(value))
        return table

    def status(self) -> dict[str, str]:
        elapsed = max(1e-9, time.monotonic() - self.started_at)
        sim = self.simulator.stats if self.simulator else None
        latest = [r for run in self.regions for r in run.latest.values()]
        active = [r for r in latest if not r["final"]]
        startups = sorted(r["startupMs"] for r in latest if r["startupMs"] is not None)
        played = sum(r["playingMs"] for r in latest)
        rebuffered = sum(r["rebufferMs"] for r in latest)
        finals = [r for r in latest if r["final"]]
        latencies = sorted(x for run in self.regions for x in run.latencies_ms)
        stream_rates = {
            kind: sum(run.relays[i].stats.user_records for run in self.regions) / elapsed
            for i, kind in enumerate(("raw", "session", "late"))
        }
        return {
            "events in": f"{(sim.events_acknowledged if sim else 0) / elapsed:,.1f}/s "
            f"({sim.events_acknowledged if sim else 0:,} acknowledged)",
            "streams raw / session / late": " / ".join(f"{v:,.1f}/s" for v in stream_rates.values()),
            "active sessions": f"{len(active):,} ({len(finals):,} ended)",
            "concurrent plays": f"{sum(1 for r in active if r['state'] in ('playing', 'buffering')):,}",
            "startup p50 / p95": f"{_percentile(startups, 0.5)} / {_percentile(startups, 0.95)} ms",
            "rebuffer ratio": f"{rebuffered / (played + rebuffered):.3%}" if played + rebuffered else "-",
            "EBVS / VSF": f"{sum(r['ebvs'] for r in finals)} / {sum(r['vsf'] for r in finals)} of {len(finals)} ended",
            "late events": f"{sum(run.relays[2].stats.user_records for run in self.regions):,}",
            "post -> session record p50 / p95": f"{_percentile(latencies, 0.5)} / {_percentile(latencies, 0.95)} ms",
            "errors": str(len(self.errors())),
        }

    def errors(self) -> list[str]:
        found = [e for run in self.regions for t in [*run.relays, run.writer] for e in t.stats.errors]
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

    def drain(self) -> None:
        """Wait until what the simulator sent has gone all the way through (or the drain time is up):
        every finished session's final record in the store, every event in the raw bucket,
        every too-late event in the late bucket."""
        assert self.simulator is not None
        deadline = time.monotonic() + self.options.drain_seconds
        wanted = {t.session_id for t in self.simulator.finished_sessions()}
        while time.monotonic() < deadline:
            done = {sid for run in self.regions for sid, r in run.latest.items() if r["final"]}
            if (
                wanted <= done
                and self._acknowledged() <= self._objects("raw")
                and self._too_late() <= self._objects("late")
            ):
                return
            time.sleep(1)

    def _acknowledged(self) -> set[tuple[str, str, int]]:
        assert self.simulator is not None
        return {(t.session_id, d["event"], d["timestamp"]) for t in self.simulator.sessions.values()
                for d in [*t.accepted, *t.too_late]}  # fmt: skip

    def _too_late(self) -> set[tuple[str, str, int]]:
        assert self.simulator is not None
        return {(t.session_id, d["event"], d["timestamp"]) for t in self.simulator.sessions.values()
                for d in t.too_late}  # fmt: skip

    def report(self) -> Report:
        assert self.simulator is not None and self.moto is not None
        finished = list(self.simulator.finished_sessions())
        stored = self._stored_finals()
        mismatches, matched = [], 0
        for truth in finished:
            expected = timestream_row_measures(truth.expected_record(self.session_settings(truth.region)))
            got = stored.get(truth.session_id)
            if got is None:
                mismatches.append(f"{truth.session_id}: no final record in the store")
            elif differences := compare(expected, got):
                mismatches.append(f"{truth.session_id}: {differences}")
            else:
                matched += 1
        raw_seen, late_seen = self._objects("raw"), self._objects("late")
        acknowledged, too_late = self._acknowledged(), self._too_late()
        latencies = sorted(x for run in self.regions for x in run.latencies_ms)
        elapsed = max(1e-9, time.monotonic() - self.started_at)
        return Report(
            events_acknowledged=self.simulator.stats.events_acknowledged,
            events_per_second=self.simulator.stats.events_acknowledged / elapsed,
            sessions_compared=len(finished),
            sessions_matched=matched,
            mismatches=mismatches,
            missing_raw_events=sum(1 for key in acknowledged if key not in raw_seen),
            too_late_events=len(too_late),
            missing_late_events=sum(1 for key in too_late if key not in late_seen),
            latency_p50_ms=_percentile_value(latencies, 0.5),
            latency_p95_ms=_percentile_value(latencies, 0.95),
            errors=self.errors(),
        )

    def _stored_finals(self) -> dict[str, dict[str, tuple[str, str]]]:
        """Session id -> measures of its newest final row, as Timestream (moto) holds them."""
        assert self.moto is not None
        best: dict[str, tuple[int, dict[str, tuple[str, str]]]] = {}
        tables = self.moto.state().get("timestreamwrite", {}).get("TimestreamTable", [])
        databases = {run.resources.database for run in self.regions}
        for table in tables:
            if table["db_name"] not in databases:
                continue
            for row in table["records"]:
                dimensions = {d["Name"]: d["Value"] for d in row["Dimensions"]}
                measures = {m["Name"]: (m["Value"], m["Type"]) for m in row["MeasureValues"]}
                if measures.get("final", ("false", ""))[0] != "true":
                    continue
                session_id = dimensions["session_id"]
                if session_id not in best or row["Version"] > best[session_id][0]:
                    best[session_id] = (row["Version"], measures)
        return {sid: measures for sid, (_, measures) in best.items()}

    def _objects(self, kind: str) -> set[tuple[str, str, int]]:
        """(session, event, timestamp) of every event line under the kind's prefix in its buckets."""
        assert self.moto is not None
        seen: set[tuple[str, str, int]] = set()
        for run in self.regions:
            s3 = self.moto.client("s3", run.resources.region.name)
            bucket = run.resources.buckets[kind]  # type: ignore[index]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{kind}/"):
                for item in page.get("Contents", []):
                    body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                    for line in body.splitlines():
                        document = json.loads(line)
                        # A late record wraps the event; a raw line is the event.
                        event = document["event"] if isinstance(document.get("event"), dict) else document
                        if "sessionId" in event:
                            seen.add((event["sessionId"], event["event"], event["timestamp"]))
        return seen

    def stop(self) -> None:
        for run in self.regions:
            for thread in [*run.relays, run.writer]:
                thread.stop()
            for started in (run.ingest, run.sessionizer):
                started.stop()
        for stand_in in (self.kinesis, self.moto):
            if stand_in is not None:
                stand_in.stop()


def timestream_row_measures(record: dict[str, Any]) -> dict[str, tuple[str, str]]:
    from runtime.session_writer.records import SessionRecord

    session = SessionRecord(record["sessionId"], record["version"], record["updateTime"], record)
    return {m["Name"]: (m["Value"], m["Type"]) for m in timestream_row(session)["MeasureValues"]}


def compare(expected: dict[str, tuple[str, str]], got: dict[str, tuple[str, str]]) -> str:
    """Differences between two rows' measures; numbers within a nanosecond's worth of rounding."""
    differences = []
    for name in sorted(set(expected) | set(got)):
        if name not in MEASURES:
            continue
        want, have = expected.get(name), got.get(name)
        if want == have:
            continue
        if want and have and want[1] == "DOUBLE" and abs(float(want[0]) - float(have[0])) <= COMPARED_TOLERANCE:
            continue
        differences.append(f"{name} expected {want[0] if want else None}, got {have[0] if have else None}")
    return "; ".join(differences)


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=2) as response:
        return int(response.status)


def _log_lines(path: Path) -> Iterator[str]:
    try:
        yield from path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return


def _percentile_value(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of sorted values."""
    if not values:
        return None
    return values[min(len(values) - 1, max(0, round(q * len(values)) - 1))]


def _rounded(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _percentile(values: list[float], q: float) -> str:
    return _rounded(_percentile_value(values, q))


def run(options: Options) -> Report:
    pipeline = LocalPipeline(options)
    interrupted = False

    def on_signal(signum: int, _: Any) -> None:
        nonlocal interrupted
        interrupted = True
        if pipeline.simulator is not None:
            pipeline.simulator.stop()

    previous = signal.signal(signal.SIGINT, on_signal)
    try:
        pipeline.start()
        asyncio.run(pipeline.simulate())
        pipeline.drain()
        return pipeline.report()
    finally:
        pipeline.stop()
        signal.signal(signal.SIGINT, previous)


def print_report(report: Report) -> None:
    print(f"events acknowledged: {report.events_acknowledged:,} ({report.events_per_second:,.1f}/s sustained)")
    print(f"sessions matching the simulator's ground truth: {report.sessions_matched} of {report.sessions_compared}")
    for mismatch in report.mismatches[:20]:
        print(f"  {mismatch}")
    print(f"acknowledged events missing from the raw bucket: {report.missing_raw_events}")
    print(f"too-late events: {report.too_late_events}, missing from the late bucket: {report.missing_late_events}")
    print(f"post -> session record latency p50 / p95: {_rounded(report.latency_p50_ms)} / "
          f"{_rounded(report.latency_p95_ms)} ms")  # fmt: skip
    print(f"component errors: {len(report.errors)}")
    for error in report.errors[:20]:
        print(f"  {error}")
    print("the pipeline agrees with the ground truth" if report.ok else "the pipeline does NOT agree")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="dev", help="the stack file whose names and sizes to use")
    parser.add_argument("--regions", choices=("primary", "both"), default="primary")
    parser.add_argument("--duration", type=float, default=0.0, help="seconds of traffic (default: until Ctrl-C)")
    parser.add_argument("--viewers", type=int, default=6, help="concurrent simulated viewers")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-view", action="store_true", help="status lines instead of the live view")
    args = parser.parse_args(argv)
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "prism")
    report = run(Options(args.stack, args.regions, args.duration, args.viewers, args.seed, not args.no_view))
    print_report(report)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
