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
how long after its restart the first new session record arrived. Chaos acts on parts
through their interface (parts.py) and on Kinesis through the fault proxy's mode; it
knows nothing else of the run.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from runtime.local.job import late_after_ms
from runtime.local.parts import Part, until_healthy
from runtime.local.region import INGEST, SESSION_WRITER, SESSIONIZER
from runtime.local.simulator import Timing

FAULT_KINDS = ("ingest-restart", "sessionizer-kill", "writer-kill", "kinesis-throttle")
THROTTLE_SECONDS = 4.0
# A part not healthy this long after its restart is reported as never back (a job starts in 10-30 s here).
BACK_WITHIN_SECONDS = 120.0
# Faults hold on-time events back: the throttle plus the ingest service's retry backoff,
# viewers sending a refused event again (acknowledged seconds after their time; docs/performance.md).
# An event held past the out-of-orderness and the allowed lateness is late by the pipeline's
# contract, which the simulator's ground truth does not model. A chaos run allows this much,
# more than any fault holds an event...
CHAOS_ALLOWED_LATENESS_MS = 8_000
# ...and holds its too-late events this long, well past that lateness: a shard's newest event
# read before a held one can be seconds older than the moment it was sent (a quiet shard, a
# throttle), and 3 s of margin (the usual 12 s hold) let one be taken as on time in CI.
CHAOS_TIMING = Timing(too_late_hold_ms=20_000, late_after_ms=late_after_ms(CHAOS_ALLOWED_LATENESS_MS))
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


PartOf = Callable[[str, str], Part]  # (region, part name) -> the part


class KinesisFaults(Protocol):
    """What Kinesis does with the ingest services' writes (fault_proxy.py)."""

    mode: str


class Chaos:
    def __init__(self, faults: list[Fault], part_of: PartOf, kinesis: KinesisFaults | None,
                 clock: Callable[[], float]) -> None:  # fmt: skip
        self.faults = faults
        self.part_of = part_of
        self.kinesis = kinesis
        self.clock = clock  # seconds since the traffic started

    async def run(self) -> None:
        """Each fault at its moment; returns once every part is back (or the bound on that is up)."""
        back: list[asyncio.Task[None]] = []
        for fault in self.faults:
            await asyncio.sleep(max(0.0, fault.at_s - self.clock()))
            fault.struck_s = self.clock()
            part = await asyncio.to_thread(self._inject, fault)
            back.append(asyncio.create_task(self._back(fault, part)))
        await asyncio.gather(*back)

    async def _back(self, fault: Fault, part: Part | None) -> None:
        """Marks the fault's part back once it is healthy again (a job: running all its tasks). One never
        back keeps "being restored" in its description, and the run's errors say why."""
        if await until_healthy([part] if part is not None else [], BACK_WITHIN_SECONDS):
            fault.back_s = self.clock()

    def _inject(self, fault: Fault) -> Part | None:
        """Strikes; returns the part that has to come back, if any."""
        if fault.kind == "ingest-restart":
            # A new process; the region's players post to it once it is ready; the old one drains.
            ingest = self.part_of(fault.region, INGEST)
            ingest.restart()
            return ingest
        if fault.kind == "sessionizer-kill":
            job = self.part_of(fault.region, SESSIONIZER)
            job.kill()
            fault.restarted_wall = time.time()
            job.restart()  # from the newest retained checkpoint
            return job
        if fault.kind == "writer-kill":
            writer = self.part_of(fault.region, SESSION_WRITER)
            writer.kill()  # mid-batch: half of it written, nothing acknowledged
            writer.restart()  # after the last acknowledged record, as the event source mapping resumes
            return writer
        if fault.kind == "kinesis-throttle":
            assert self.kinesis is not None, "a chaos run writes to Kinesis through the fault proxy"
            self.kinesis.mode = "throttle"
            time.sleep(THROTTLE_SECONDS)
            self.kinesis.mode = "pass"
            return None
        raise ValueError(f"unknown fault kind {fault.kind!r}; the kinds are {', '.join(FAULT_KINDS)}")

    def observe(self, region: str, arrival_wall: float) -> None:
        """A session record reached the writer: the first one a restarted job wrote ends its restart."""
        for fault in self.faults:
            if (fault.kind == "sessionizer-kill" and fault.region == region and fault.restarted_wall is not None
                    and fault.first_record_s is None and arrival_wall >= fault.restarted_wall):  # fmt: skip
                fault.first_record_s = arrival_wall - fault.restarted_wall

    def struck(self) -> list[str]:
        """Each fault that struck so far, described."""
        return [fault.describe() for fault in self.faults if fault.struck_s is not None]
