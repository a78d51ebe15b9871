"""One region of a local run: its resources in the stand-ins and its parts, wired as on AWS.

raw stream -> ingest service (a process) writes it; the sessionizer (the PyFlink job, a
process) reads it and writes the session and late streams; a Firehose relay per stream
delivers to its bucket; the event source poller feeds the session writer's handler,
called in-process, whose stored records the region's observations see. With both
regions, each region's buckets replicate to the other's and a reconciler per region makes
the sessions whose players moved between them whole (runtime/reconciler).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.ingest.settings import base_settings
from runtime.ingest.settings import environment as ingest_environment
from runtime.local.function_logs import FunctionLogs
from runtime.local.ingest_service import IngestService
from runtime.local.job import local_sessionizer, sessionizer_part
from runtime.local.kinesis_mock import LOCAL_CREDENTIALS
from runtime.local.observations import Observations
from runtime.local.parts import LoopPart, Part
from runtime.local.processes import ProcessPart, free_port
from runtime.local.reconciling import ReconcilerLoop
from runtime.local.relay import EventSourcePoller, FirehoseRelay
from runtime.local.replication import Replicas, Replication
from runtime.local.resources import RegionResources, create, names
from runtime.local.simulator import SessionTruth
from runtime.local.snapshot import RegionSnapshot
from runtime.local.stand_ins import StandIns
from runtime.names import STREAM_KINDS, StreamKind
from runtime.reconciler.reconcile import Reconciler
from runtime.session_writer.handler import handle
from runtime.sessionizer.config import SessionizerConfig, session_settings
from runtime.sessionizer.session import SessionSettings
from runtime.stack import RegionSettings, Settings

# The names of a region's parts, as actions ask for them and readers see them.
INGEST = "ingest"
SESSIONIZER = "sessionizer"
SESSION_WRITER = "session-writer"
# With both regions: the bucket replication out of the region, and its reconciler (across_regions).
REPLICATION = "replication"
RECONCILER = "reconciler"


def relay_part(kind: StreamKind) -> str:
    return f"firehose-{kind}"


@dataclass(frozen=True)
class RegionRun:
    resources: RegionResources
    job: SessionizerConfig  # what the region's sessionizer runs with
    ingest: IngestService
    sessionizer: ProcessPart
    writer: LoopPart
    relays: dict[StreamKind, LoopPart]  # stream -> its bucket, as Firehose
    observations: Observations  # what the session writer stored
    across: dict[str, Part] = field(default_factory=dict)  # the parts that need the other region (across_regions)

    @property
    def name(self) -> str:
        return self.resources.region.name

    @property
    def session_settings(self) -> SessionSettings:
        """What the region's job runs with, for the ground truth."""
        return session_settings(self.job)

    def parts(self) -> dict[str, Part]:
        relays: dict[str, Part] = {relay_part(kind): relay for kind, relay in self.relays.items()}
        return {
            INGEST: self.ingest,
            SESSIONIZER: self.sessionizer,
            SESSION_WRITER: self.writer,
            **relays,
            **self.across,
        }

    def snapshot(self) -> RegionSnapshot:
        healthy = {name: part.healthy() for name, part in self.parts().items()}
        relayed = {kind: relay.stats.user_records for kind, relay in self.relays.items()}
        consumers: dict[str, LoopPart] = {SESSION_WRITER: self.writer}
        consumers |= {relay_part(kind): relay for kind, relay in self.relays.items()}
        lag = {name: part.stats.behind_ms for name, part in consumers.items()}
        return self.observations.region_snapshot(self.name, healthy, relayed, lag)

    def problems(self) -> list[str]:
        return [problem for part in self.parts().values() for problem in part.problems()]


@dataclass(frozen=True)
class RegionStart:
    """What a region is started with."""

    settings: Settings
    region: RegionSettings
    stand_ins: StandIns
    log_dir: Path
    function_logs: FunctionLogs  # the session writer's output, into its own log file
    truth: Callable[[str], SessionTruth | None]  # the simulator's knowledge of a session
    allowed_lateness_ms: int | None = None  # instead of the local job's


def start_region(start: RegionStart, started: ExitStack) -> RegionRun:
    """The region's resources, its ingest service (ready), its job (launched: wait_ready() waits for it),
    the relays and the writer; each part is stopped when ``started`` closes."""
    stand_ins, region, log_dir = start.stand_ins, start.region, start.log_dir
    resources = names(start.settings, region)
    kinesis = stand_ins.kinesis.client(region.name)
    firehose = stand_ins.moto.client("firehose", region.name)
    timestream = (stand_ins.moto.client("timestream-write", region.name)
                  if stand_ins.store.engine == "liveanalytics" else None)  # fmt: skip
    create(resources, start.settings, kinesis, stand_ins.moto.client("s3", region.name), firehose, timestream)
    job = local_sessionizer(start.settings.environment, resources, stand_ins.kinesis.endpoint,
                            log_dir / "checkpoints" / region.code)  # fmt: skip
    job = dataclasses.replace(job, rest_port=free_port())
    if start.allowed_lateness_ms is not None:
        job = dataclasses.replace(job, allowed_lateness_ms=start.allowed_lateness_ms)

    def environment(port: int) -> dict[str, str]:
        settings = dataclasses.replace(
            base_settings(resources.streams["raw"], region.name),
            kinesis_endpoint=stand_ins.ingest_kinesis_endpoint,
            firehose_endpoint=stand_ins.moto.endpoint,
            failed_events_stream=resources.failed_events_delivery,
            host="127.0.0.1",
            port=port,
            heartbeat_interval_ms=job.heartbeat_interval_ms,
        )
        return {**ingest_environment(settings), "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["aws_access_key_id"],
                "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["aws_secret_access_key"]}  # fmt: skip

    ingest = IngestService(f"ingest-{region.code}", environment, log_dir)
    started.callback(ingest.stop)
    ingest.start()
    sessionizer = sessionizer_part(f"sessionizer-{region.code}", job, log_dir)
    started.callback(sessionizer.stop)
    sessionizer.launch()

    relays = {kind: LoopPart(FirehoseRelay(kinesis, firehose, resources.streams[kind], resources.deliveries[kind]))
              for kind in STREAM_KINDS}  # fmt: skip
    observations = Observations(start.truth)
    store = stand_ins.store.writer_store(resources)
    writer_log = log_dir / f"session-writer-{region.code}.log"

    def write(event: dict[str, Any]) -> dict[str, Any]:
        with start.function_logs.logging_to(writer_log):
            answer = handle(event, None, store)
        # The rows are in the store now (those of failed records are not, and come again).
        failed = {failure["itemIdentifier"] for failure in answer.get("batchItemFailures", [])}
        observations.stored({**event, "Records": [r for r in event["Records"]
                                                  if r["kinesis"]["sequenceNumber"] not in failed]})  # fmt: skip
        return answer

    batch_size = min(start.settings.session_store.batch_size, 1_000)
    writer = LoopPart(EventSourcePoller(kinesis, resources.streams["session"], resources.stream_arn("session"),
                                        region.name, write, batch_size))  # fmt: skip
    for part in [*relays.values(), writer]:
        started.callback(part.stop)
        part.start()
    return RegionRun(resources, job, ingest, sessionizer, writer, relays, observations)


def across_regions(runs: list[RegionRun], stand_ins: StandIns, started: ExitStack) -> None:
    """Both regions up: each gets its bucket replication to the other and its reconciler, as parts."""
    replicas = Replicas()
    settings = {run.name: run.session_settings for run in runs}
    for run, other in zip(runs, reversed(runs), strict=True):
        s3 = stand_ins.moto.client("s3", run.name)
        resources = run.resources
        reconciler = Reconciler(run.name, s3, resources.buckets, stand_ins.kinesis.client(run.name),
                                resources.streams["session"], settings.__getitem__)  # fmt: skip
        run.across.update({REPLICATION: LoopPart(Replication(s3, resources, other.resources, replicas)),
                           RECONCILER: LoopPart(ReconcilerLoop(reconciler))})  # fmt: skip
        for part in run.across.values():
            started.callback(part.stop)
            part.start()
