"""A local run replayed: its raw bucket fired back into its raw stream, as the loadtest replayer would.

After the simulated traffic has drained, each region's raw bucket (moto) is replayed with
runtime/replay's own history code into the region's raw stream (kinesis-mock): paced at
the recorded speed, every timestamp shifted to now, each session ``multiplier`` times
under a rewritten id. The rewrite maps ids one to one, so a replayed session's ground
truth is its original's: the self-check (verify.py) compares them too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from runtime.local.kinesis_mock import KinesisMock
from runtime.local.moto_server import MotoServer
from runtime.local.resources import RegionResources
from runtime.names import data_prefix, literal_head
from runtime.replay.history import Pace, Progress, list_objects, replay_history
from runtime.replay.targets import Route, Routes, StreamTarget, running
from runtime.replay.transform import Transform

# Recorded traffic is replayed at the pace it came in: lateness and order are as recorded.
REPLAY_SPEED = 1.0
_WINDOW_MARGIN_MS = 1_000  # monotonic-to-wall conversion; events arrive after the traffic began


@dataclass(frozen=True)
class LocalReplay:
    """One region's replay: the recorded window it reads and the transform its events went through."""

    region: str
    from_ms: int  # the recorded arrivals it replays start here; the replay starts at from_ms + shift
    transform: Transform

    @property
    def start_ms(self) -> int:
        return self.from_ms + self.transform.shift_ms


def local_replay(region: str, multiplier: int, seed: int, traffic_started_ms: int, start_ms: int) -> LocalReplay:
    """The replay of a region's traffic that began at traffic_started_ms, started at start_ms."""
    from_ms = traffic_started_ms - _WINDOW_MARGIN_MS
    return LocalReplay(region, from_ms, Transform(start_ms - from_ms, f"local-{seed}", multiplier))


async def replay_region(
    resources: RegionResources,
    replay: LocalReplay,
    moto: MotoServer,
    kinesis: KinesisMock,
    report: Callable[[Progress], None],
) -> Progress:
    region = resources.region.name
    s3 = moto.client("s3", region)
    bucket = resources.buckets["raw"]
    window = (replay.from_ms, replay.start_ms)
    objects = list_objects(s3, bucket, literal_head(data_prefix("raw")), *window)
    target = StreamTarget(f"local/{region}", kinesis.sink_client(region), resources.streams["raw"], region)
    routes = Routes([Route(target, replay.transform)])
    pace = Pace(replay.from_ms, replay.start_ms, REPLAY_SPEED)
    async with running([target]):
        return await replay_history(s3, bucket, objects, window, pace, routes, chunk_events=1_000, report=report)


def wall_ms(monotonic: float) -> int:
    """Epoch milliseconds of a time.monotonic() reading."""
    return int((time.time() - (time.monotonic() - monotonic)) * 1000)
