"""A player simulator: viewers that speak EPAS over HTTP to the ingest service, and know the truth.

Each viewer plays seeded, realistic sessions one after the other (startup delay,
heartbeats, rebuffers, seeks, pauses, bitrate switches, fatal errors, abandons before
start), in real time and with the client clock. A fraction of events is delivered out
of order (held back less than the allowed lateness) and a fraction too late (held
back well beyond the watermark's reach). The simulator keeps what it got acknowledged:
the ground truth of every session is the state machine run over the events that were
accepted and on time, and every too-late event must show up as a late event. Like a
player SDK, a viewer sends an event again when the service could not take it (503,
429, or no answer at all), backing off, at whatever address its region has by then.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx2 as httpx

from runtime.sessionizer.playback import Event
from runtime.sessionizer.session import NO_WATERMARK, SessionSettings, Tracker

END_OF_TIME = 2**62
RETRIED_STATUSES = (429, 503)
# A player keeps an event it could not send and tries again: long enough to outlast a region's
# failover (the load balancer's health checks, runtime/stack/failover.py), about 66 s in all.
RETRY_DELAYS_S = (0.05, 0.1, 0.2, 0.4, 0.8, *(1.0,) * 5, *(2.0,) * 30)


@dataclass(frozen=True)
class Timing:
    """How long things take, in milliseconds; local runs compress a session to seconds."""

    heartbeat_ms: int = 1_000
    session_ms: tuple[int, int] = (8_000, 30_000)
    startup_ms: tuple[int, int] = (200, 2_500)
    out_of_order_hold_ms: int = 400  # within the allowed lateness
    too_late_hold_ms: int = 12_000  # beyond out-of-orderness + lateness (+ idle advance)
    # An event held back is surely too late only once its region has acknowledged an event this much
    # newer (job.late_after_ms): sent when the region's traffic has stopped, the watermark may not
    # have moved past it, and it is uncertain. None: held back is too late.
    late_after_ms: int | None = None


@dataclass(frozen=True)
class Step:
    at_ms: int  # offset from the session's start
    name: str
    payload: dict[str, Any] | None = None


def session_script(rng: random.Random, timing: Timing) -> list[Step]:
    """One viewer's session, as the player emits it."""
    steps = [Step(0, "init")]
    t = rng.randrange(20, 120)
    steps.append(Step(t, "metadata", {"contentId": f"c-{rng.randrange(40)}", "live": rng.random() < 0.2,
                                      "deviceType": rng.choice(["tv", "web", "mobile"])}))  # fmt: skip
    t += rng.randrange(20, 200)
    steps.append(Step(t, "loading"))
    roll = rng.random()
    if roll < 0.06:  # exit before video start
        steps.append(Step(t + rng.randrange(*timing.startup_ms), "stopped", {"reason": "aborted"}))
        return steps
    if roll < 0.09:  # video start failure
        steps.append(
            Step(t + rng.randrange(*timing.startup_ms), "error", {"code": "MEDIA_ERR_DECODE", "category": "media"})
        )
        return steps
    t += rng.randrange(*timing.startup_ms)
    steps.append(Step(t, "bitrate_changed", {"bitrate": rng.choice([1500, 3000, 4500])}))
    steps.append(Step(t, "playing"))
    end = t + rng.randrange(*timing.session_ms)
    while t < end:
        t += timing.heartbeat_ms
        steps.append(Step(t, "heartbeat"))
        roll = rng.random()
        if roll < 0.06:
            steps.append(Step(t + 10, "buffering"))
            t += rng.randrange(200, 1_500)
            steps.append(Step(t, "buffered"))
        elif roll < 0.09:
            steps.append(Step(t + 10, "seeking"))
            t += rng.randrange(100, 600)
            steps.append(Step(t, "seeked"))
        elif roll < 0.12:
            steps.append(Step(t + 10, "paused"))
            t += rng.randrange(500, 3_000)
            steps.append(Step(t, "resume"))
        elif roll < 0.16:
            steps.append(Step(t + 10, "bitrate_changed", {"bitrate": rng.choice([1500, 3000, 4500, 6000])}))
        elif roll < 0.17:
            steps.append(Step(t + 20, "error", {"code": str(rng.choice([3016, 4001])), "category": "network"}))
            return steps
    steps.append(Step(t + 50, "stopped", {"reason": "ended"}))
    return steps


@dataclass
class SessionTruth:
    session_id: str
    region: str
    accepted: list[dict[str, Any]] = field(default_factory=list)  # on time and acknowledged
    too_late: list[dict[str, Any]] = field(default_factory=list)  # acknowledged, sent late on purpose
    # Sent late on purpose, but acknowledged when its region's watermark may not be past it: by another
    # region than the one serving the player when it happened (the player was moved meanwhile), or
    # when the region had acknowledged nothing newer by Timing.late_after_ms (its traffic had stopped).
    # Either outcome is then right, and the late bucket says which it was.
    uncertain: list[dict[str, Any]] = field(default_factory=list)
    rejected: int = 0
    posted_at: dict[int, float] = field(default_factory=dict)  # event timestamp -> wall time acknowledged
    served_by: dict[int, str] = field(default_factory=dict)  # event timestamp -> region that acknowledged it
    finished: bool = False

    @property
    def regions(self) -> set[str]:
        """The regions that acknowledged its on-time events: where it has a part to sessionize."""
        return {self.served_by[document["timestamp"]] for document in self.accepted}

    @property
    def moved(self) -> bool:
        """It has a part in more than one region (its player moved mid-play). An event sent late that
        reached another region does not make a part there: it is late."""
        return len(self.regions) > 1

    def expected_record(self, settings: SessionSettings, taken: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
        """The final session record the pipeline must produce from the accepted events (and the uncertain
        ones it took on time)."""
        tracker = Tracker(self.session_id)
        for document in [*self.accepted, *taken]:
            tracker.accept(Event.from_raw(document), NO_WATERMARK, settings)
        tracker.advance(END_OF_TIME, settings)
        return tracker.record(settings)


@dataclass
class SimulatorStats:
    events_sent: int = 0
    events_acknowledged: int = 0
    events_rejected: int = 0
    retries: int = 0  # sends again after a 503, a 429 or no answer
    errors: list[str] = field(default_factory=list)


class PlayerSimulator:
    """`viewers` concurrent viewers, each playing sessions back to back until stopped."""

    def __init__(
        self,
        endpoints: Mapping[str, str],  # region -> ingest base URL, now (it moves when a service is replaced)
        viewers: int,
        seed: int,
        timing: Timing = Timing(),
        out_of_order_share: float = 0.03,
        too_late_share: float = 0.01,
        serving: Callable[[str], str] = lambda region: region,  # region -> the region its players reach now
    ) -> None:
        self.endpoints = endpoints
        self.serving = serving
        self.viewers = viewers
        self.rng = random.Random(seed)
        self.timing = timing
        self.out_of_order_share = out_of_order_share
        self.too_late_share = too_late_share
        self.sessions: dict[str, SessionTruth] = {}
        self.stats = SimulatorStats()
        self._stop = asyncio.Event()
        self._held: set[asyncio.Task[None]] = set()
        self._newest: dict[str, int] = {}  # region -> the newest event time it acknowledged

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        """No new sessions start; the ones playing finish."""
        return self._stop.is_set()

    def playing(self) -> int:
        # A copy first: the view reads this from another thread while viewers add sessions.
        return sum(1 for truth in list(self.sessions.values()) if not truth.finished)

    def held(self) -> int:
        """Events held back (out of order or too late) that are still to be sent."""
        return len(self._held)

    async def run(self, until_monotonic: float | None = None) -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            seeds = [self.rng.randrange(2**32) for _ in range(self.viewers)]
            regions = list(self.endpoints)
            viewers = [self._viewer(client, random.Random(s), regions[i % len(regions)], i)
                       for i, s in enumerate(seeds)]  # fmt: skip
            if until_monotonic is not None:
                viewers.append(self._stop_at(until_monotonic))
            await asyncio.gather(*viewers)
            if self._held:  # events held back must still go out before the run ends
                await asyncio.gather(*self._held)

    async def _stop_at(self, until_monotonic: float) -> None:
        await asyncio.sleep(max(0.0, until_monotonic - time.monotonic()))
        self._stop.set()

    async def _viewer(self, client: httpx.AsyncClient, rng: random.Random, region: str, number: int) -> None:
        await asyncio.sleep(rng.uniform(0, 2))  # viewers do not all press play at once
        sequence = 0
        while not self._stop.is_set():
            session_id = f"sim-{number}-{sequence}-{rng.randrange(16**6):06x}"
            sequence += 1
            truth = self.sessions[session_id] = SessionTruth(session_id, region)
            await self._play(client, rng, truth, session_script(rng, self.timing))
            truth.finished = True
            await asyncio.sleep(rng.uniform(0.2, 1.5))

    async def _play(
        self, client: httpx.AsyncClient, rng: random.Random, truth: SessionTruth, steps: list[Step]
    ) -> None:
        monotonic_start = time.monotonic()
        for step in steps:
            delay = monotonic_start + step.at_ms / 1000 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            # A player stamps an event when it happens, which is when this loop gets to it.
            document = {"event": step.name, "sessionId": truth.session_id, "timestamp": int(time.time() * 1000),
                        "playhead": step.at_ms / 1000, "duration": 3600}  # fmt: skip
            if step.payload is not None:
                document["payload"] = step.payload
            roll = rng.random()
            if step.name not in ("init", "stopped", "error") and roll < self.too_late_share:
                self._hold(client, truth, document, self.timing.too_late_hold_ms, on_time=False)
            elif step.name not in ("init",) and roll < self.too_late_share + self.out_of_order_share:
                self._hold(client, truth, document, self.timing.out_of_order_hold_ms, on_time=True)
            else:
                await self._post(client, truth, document, on_time=True)

    def _hold(self, client: httpx.AsyncClient, truth: SessionTruth, document: dict[str, Any], hold_ms: int,
              on_time: bool) -> None:  # fmt: skip
        produced_in = self.serving(truth.region)

        async def later() -> None:
            await asyncio.sleep(hold_ms / 1000)
            await self._post(client, truth, document, on_time, produced_in)

        task = asyncio.create_task(later())
        self._held.add(task)
        task.add_done_callback(self._held.discard)

    async def _post(self, client: httpx.AsyncClient, truth: SessionTruth, document: dict[str, Any],
                    on_time: bool, produced_in: str | None = None) -> None:  # fmt: skip
        self.stats.events_sent += 1
        failure = ""
        for delay in (0.0, *RETRY_DELAYS_S):
            if delay:
                self.stats.retries += 1
                await asyncio.sleep(delay)
            serving = self.serving(truth.region)
            try:
                response = await client.post(f"{self.endpoints[truth.region]}/events", json=document,
                                              headers={"User-Agent": "prism-sim/1.0 (local)"})  # fmt: skip
            except httpx.HTTPError as error:
                failure = f"POST {truth.session_id} {document['event']}: {error!r}"
                continue
            if response.status_code in RETRIED_STATUSES:
                failure = f"POST {document['event']} -> {response.status_code} {response.text[:200]}"
                continue
            break
        else:
            self.stats.errors.append(f"{failure} (gave up after {len(RETRY_DELAYS_S)} retries)")
            return
        if response.status_code != 200:
            self.stats.events_rejected += 1
            truth.rejected += 1
            self.stats.errors.append(f"POST {document['event']} -> {response.status_code} {response.text[:200]}")
            return
        self.stats.events_acknowledged += 1
        # What the raw stream holds: the ingest service adds its `server` part; the state
        # machine reads the user agent from it.
        recorded = {**document, "server": {"userAgent": "prism-sim/1.0 (local)"}}
        timestamp, newest = document["timestamp"], self._newest.get(serving)
        behind = self.timing.late_after_ms is None or (newest is not None and
                                                       newest - timestamp > self.timing.late_after_ms)  # fmt: skip
        if on_time:
            truth.accepted.append(recorded)
        elif (produced_in is not None and serving != produced_in) or not behind:
            truth.uncertain.append(recorded)
        else:
            truth.too_late.append(recorded)
        self._newest[serving] = timestamp if newest is None else max(newest, timestamp)
        truth.posted_at[document["timestamp"]] = time.time()
        truth.served_by[document["timestamp"]] = serving

    def finished_sessions(self) -> Iterator[SessionTruth]:
        return (t for t in self.sessions.values() if t.finished)
