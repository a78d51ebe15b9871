"""A whole region down while viewers play (`make run RUN_ARGS="--regions both --outage REGION[@START_S[:DOWN_S]]"`).

At START_S the region's processes die (the ingest service and the sessionizer, kill -9) and
its consumers stop (the Firehose relays and the session writer's event source): players
posting there get no answer and send again, as a player SDK does. Once the load balancer's
health checks have failed (runtime/stack/failover.py) the accelerator sends the region's
players to the other region, where they go on with the sessions they were in. With DOWN_S
the region comes back: the sessionizer from its newest checkpoint, the consumers after
what they had acknowledged, the raw stream with what it held; once its health checks pass
and the accelerator's return delay is over, its players are sent home.

The outage acts on the region's parts through the part interface and on the routing of
players through ``Router``; it knows nothing else of the run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from runtime.local.job import late_after_ms
from runtime.local.options import Outage
from runtime.local.parts import Part, until_healthy
from runtime.local.region import INGEST, SESSIONIZER
from runtime.local.simulator import Timing
from runtime.sessionizer.config import DEFAULT_ALLOWED_LATENESS_MS
from runtime.stack.failover import failover_seconds, return_seconds

# The processes die with the region; the consumers (Firehose, the event source mapping) pause.
KILLED = (INGEST, SESSIONIZER)
BACK_WITHIN_SECONDS = 300.0  # a region whose parts are not all healthy by then is reported as not back
# The players resend what the failed region did not answer, and it is acknowledged about the
# failover delay (20 s) after its time. On AWS that is on time: the job allows 30 s of lateness
# by default. A drill allows the same (the local job's compressed 2 s would make them late)...
OUTAGE_ALLOWED_LATENESS_MS = DEFAULT_ALLOWED_LATENESS_MS
# ...and holds its too-late events well past it (the watermark's 1 s and the idle advance's 1 s too).
OUTAGE_TIMING = Timing(too_late_hold_ms=45_000, late_after_ms=late_after_ms(OUTAGE_ALLOWED_LATENESS_MS))


class Router(Protocol):
    """Where the accelerator sends a region's players (ingest_service.Addresses)."""

    def move(self, region: str, to: str | None) -> None: ...


@dataclass
class OutageTimes:
    """Seconds after the traffic started."""

    struck_s: float | None = None
    moved_s: float | None = None  # the region's players sent to the other region
    back_s: float | None = None  # every part of the region healthy again
    returned_s: float | None = None  # its players sent home


class RegionOutage:
    def __init__(self, outage: Outage, other: str, parts: Callable[[], Mapping[str, Part]], router: Router,
                 clock: Callable[[], float], failover_s: float | None = None,
                 return_s: float | None = None) -> None:  # fmt: skip
        self.outage = outage
        self.other = other  # where its players go
        self.parts = parts  # the region's parts, by name (region.py)
        self.router = router
        self.clock = clock  # seconds since the traffic started
        self.failover_s = failover_seconds() if failover_s is None else failover_s
        self.return_s = return_seconds() if return_s is None else return_s
        self.times = OutageTimes()

    async def run(self) -> None:
        outage, times = self.outage, self.times
        await asyncio.sleep(max(0.0, outage.start_s - self.clock()))
        times.struck_s = self.clock()
        await asyncio.to_thread(self._down)
        await asyncio.sleep(max(0.0, times.struck_s + self.failover_s - self.clock()))
        self.router.move(outage.region, self.other)
        times.moved_s = self.clock()
        if outage.down_s is None:
            return
        await asyncio.sleep(max(0.0, times.struck_s + outage.down_s - self.clock()))
        await asyncio.to_thread(self._up)
        if not await until_healthy(list(self.parts().values()), BACK_WITHIN_SECONDS):
            return  # its players stay moved; the description says it never came back
        times.back_s = self.clock()
        await asyncio.sleep(self.return_s)
        self.router.move(outage.region, None)
        times.returned_s = self.clock()

    @property
    def struck(self) -> bool:
        return self.times.struck_s is not None

    def down(self) -> str | None:
        """The region, while the outage holds it down (struck and not back)."""
        return self.outage.region if self.struck and self.times.back_s is None else None

    def _down(self) -> None:
        for name, part in self.parts().items():
            if name in KILLED:
                part.kill()
            else:
                part.stop()

    def _up(self) -> None:
        for part in self.parts().values():
            part.restart()

    def describe(self) -> str:
        t, region = self.times, self.outage.region
        if t.struck_s is None:
            return f"outage of {self.outage.describe()}"
        text = f"{region} down at {t.struck_s:.1f} s"
        if t.moved_s is not None:
            text += f", its players moved to {self.other} at {t.moved_s:.1f} s"
        if t.back_s is not None:
            text += f", back at {t.back_s:.1f} s"
        if t.returned_s is not None:
            text += f", players home at {t.returned_s:.1f} s"
        return text
