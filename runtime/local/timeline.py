"""Where a local run is: starting, traffic, replay, drain; and the phase line the readers show."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from runtime.local.options import Options
from runtime.local.simulator import PlayerSimulator
from runtime.local.verify import Pending
from runtime.replay.history import Progress


@dataclass
class Timeline:
    started_at: float = field(default_factory=time.monotonic)  # every part up
    traffic_started: float | None = None
    traffic_ended: float | None = None
    replaying: dict[str, Progress] | None = None  # region -> the replay's progress, once it began
    replay_ended: bool = False
    draining: tuple[Pending, float] | None = None  # what the drain waits for, seconds waited
    drained: tuple[bool, float] = (False, 0.0)  # everything arrived, seconds the drain took

    def traffic_seconds(self) -> float:
        if self.traffic_started is None:
            return 0.0
        return (self.traffic_ended or time.monotonic()) - self.traffic_started

    def drain_progress(self, pending: Pending, waited: float) -> None:
        self.draining = (pending, waited)

    def replay_began(self) -> dict[str, Progress]:
        self.replaying, self.draining = {}, None
        return self.replaying

    def phase(self, simulator: PlayerSimulator, options: Options) -> str:
        if self.traffic_started is None:
            return "starting"
        if self.traffic_ended is None:
            if not simulator.stopping:
                if options.duration:
                    return f"traffic {self.traffic_seconds():,.0f} of {options.duration:g} s"
                return f"traffic {self.traffic_seconds():,.0f} s (Ctrl-C ends it)"
            return f"finishing: {simulator.playing()} playing, {simulator.held()} held back"
        if self.replaying is not None and not self.replay_ended:
            progress = list(self.replaying.values())
            events = sum(p.read.events for p in progress)
            lag = max((p.lag_ms for p in progress), default=0) / 1000
            return f"replaying x{options.replay_multiplier}: {events:,} recorded events read, {lag:.1f} s behind"
        if self.draining is None:
            return "draining"
        pending, waited = self.draining
        if pending.done:
            return "drained: comparing"
        return f"draining {waited:,.0f}/{options.drain_seconds:g} s: {pending.describe()} to come"
