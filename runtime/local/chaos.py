"""Faults injected into a local run while viewers play (`make run RUN_ARGS="--chaos"`).

One fault of each kind, at moments and in regions drawn from `--chaos-seed`:

- ingest-restart: a new ingest process is started, the region's viewers are sent to it,
  and the old one gets SIGTERM: it drains (every request it answered 200 was durable)
  and refuses the rest with 503, which the viewers send again, as a player SDK does;
- sessionizer-kill: kill -9 of the job's process group, then a new job that resumes from
  the newest checkpoint the run retained (shard positions and open sessions);
- writer-kill: the session writer dies in the middle of a batch (half of it written,
  nothing acknowledged) and a new one starts after the last acknowledged record, as the
  event source mapping would;
- kinesis-throttle: Kinesis refuses every write for a few seconds (the fault proxy
  between the ingest service and kinesis-mock), which the ingest service retries.

Each fault records when it struck, when the part was back, and, for the sessionizer,
how long after its restart the first new session record arrived.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from runtime.local.simulator import Timing

if TYPE_CHECKING:
    from runtime.local.pipeline import LocalPipeline, RegionRun

FAULT_KINDS = ("ingest-restart", "sessionizer-kill", "writer-kill", "kinesis-throttle")
THROTTLE_SECONDS = 4.0
# Faults hold on-time events back: the throttle plus the ingest service's retry backoff,
# viewers sending a refused event again (acknowledged seconds after their time; docs/performance.md).
# An event held past the out-of-orderness and the allowed lateness is late by the pipeline's
# contract, which the simulator's ground truth does not model. A chaos run allows this much,
# more than any fault holds an event...
CHAOS_ALLOWED_LATENESS_MS = 8_000
# ...and holds its too-late events this long, well past that lateness: a shard's newest event
# read before a held one can be seconds older than the moment it was sent (a quiet shard, a
# throttle), and 3 s of margin (the usual 12 s hold) let one be taken as on time in CI.
CHAOS_TIMING = Timing(too_late_hold_ms=20_000)
# Faults strike within this share of the traffic: the last restart still has traffic to show it works.
WINDOW = (0.15, 0.55)


@dataclass
class Fault:
    kind: str
    region: str
    at_s: float  # planned, seconds after traffic started
    struck_s: float | None = None  # when it happened, seconds after traffic started
    back_s: float | None = None  # when the part worked again
    first_record_s: float | None = None  # sessionizer: restart -> first new session record
    restarted_wall: float | None = None  # epoch seconds of the restart (records after it are the new job's)

    def describe(self) -> str:
        if self.struck_s is None:
            return f"{self.kind} ({self.region}) at {self.at_s:.0f} s"
        back = "being restored" if self.back_s is None else f"back at {self.back_s:.1f} s"
        first = f", first record {self.first_record_s:.1f} s after restart" if self.first_record_s is not None else ""
        return f"{self.kind} ({self.region}) struck at {self.struck_s:.1f} s, {back}{first}"


def plan(seed: int, duration_s: float, regions: list[str]) -> list[Fault]:
    """One fault of each kind, at seeded moments in the window of the traffic, in seeded regions."""
    rng = random.Random(seed)
    low, high = (share * duration_s for share in WINDOW)
    faults = [Fault(kind, rng.choice(regions), rng.uniform(low, high)) for kind in FAULT_KINDS]
    return sorted(faults, key=lambda fault: fault.at_s)


class Chaos:
    def __init__(self, pipeline: LocalPipeline, faults: list[Fault]) -> None:
        self.pipeline = pipeline
        self.faults = faults

    def _run_of(self, region: str) -> RegionRun:
        return next(run for run in self.pipeline.regions if run.resources.region.name == region)

    def _elapsed(self) -> float:
        started = self.pipeline.traffic_started
        return 0.0 if started is None else time.monotonic() - started

    async def run(self) -> None:
        for fault in self.faults:
            await asyncio.sleep(max(0.0, fault.at_s - self._elapsed()))
            fault.struck_s = self._elapsed()
            await self._inject(fault)
            fault.back_s = self._elapsed()

    async def _inject(self, fault: Fault) -> None:
        run = self._run_of(fault.region)
        injections: dict[str, Callable[[RegionRun, Fault], None]] = {
            "ingest-restart": self._replace_ingest,
            "sessionizer-kill": self._restart_sessionizer,
            "writer-kill": self._restart_writer,
            "kinesis-throttle": self._throttle,
        }
        await asyncio.to_thread(injections[fault.kind], run, fault)

    def _replace_ingest(self, run: RegionRun, _: Fault) -> None:
        old = run.ingest
        new, url = self.pipeline.start_ingest(run.resources.region, run.resources, run.job)
        run.ingest, run.ingest_url = new, url
        simulator = self.pipeline.simulator
        if simulator is not None:
            simulator.endpoints[run.resources.region.name] = url
        old.stop(grace_seconds=60)  # SIGTERM: the service drains within its shutdown bound

    def _restart_sessionizer(self, run: RegionRun, fault: Fault) -> None:
        os.killpg(run.sessionizer.pid, signal.SIGKILL)
        run.sessionizer.process.wait(timeout=30)
        fault.restarted_wall = time.time()
        run.sessionizer = self.pipeline.start_sessionizer(run.resources.region, run.job, restart=True)

    def _restart_writer(self, run: RegionRun, _: Fault) -> None:
        dying = run.writer
        dying.kill()
        dying.join(timeout=60)  # it dies in its next batch
        if dying.is_alive():  # no batch came: stop it between batches instead
            dying.stop()
        writer = dying.restarted()
        writer.stats.errors.extend(dying.stats.errors)
        run.writer = writer
        writer.start()

    def _throttle(self, _: RegionRun, __: Fault) -> None:
        proxy = self.pipeline.kinesis_proxy
        assert proxy is not None
        proxy.mode = "throttle"
        time.sleep(THROTTLE_SECONDS)
        proxy.mode = "pass"

    def observe(self, region: str, arrival_wall: float) -> None:
        """A session record reached the writer: the first one a restarted job wrote ends its restart."""
        for fault in self.faults:
            if (fault.kind == "sessionizer-kill" and fault.region == region and fault.restarted_wall is not None
                    and fault.first_record_s is None and arrival_wall >= fault.restarted_wall):  # fmt: skip
                fault.first_record_s = arrival_wall - fault.restarted_wall
