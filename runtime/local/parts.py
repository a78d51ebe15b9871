"""The parts of a local run, and what every part can be asked.

A part is one stand-in or one real component: it starts, says whether it is healthy,
stops, can be killed (as a crash would end it) and restarted (from where its kind
resumes on AWS: a job from its checkpoint, a poller after its acknowledged records).
Actions (chaos.py) act on parts through this interface alone; readers never touch a
part, they read a snapshot (snapshot.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Protocol

from runtime.local.relay import RelayStats

HEALTH_POLL_SECONDS = 0.5


class Part(Protocol):
    @property
    def name(self) -> str: ...

    def start(self) -> object: ...

    def healthy(self) -> bool: ...

    def stop(self) -> None: ...

    def kill(self) -> None: ...

    def restart(self) -> None: ...

    def problems(self) -> list[str]:
        """What went wrong in it so far, a line each (errors it logged, an exit nobody asked for)."""
        ...


class Loop(Protocol):
    """A thread standing in for an AWS consumer (relay.py)."""

    name: str
    stats: RelayStats

    def start(self) -> None: ...

    def is_alive(self) -> bool: ...

    def stop(self) -> None: ...

    def kill(self) -> None: ...

    def restarted(self) -> Loop: ...


class LoopPart:
    """A consumer thread as a part: a restart is a new thread that goes on where the old one stopped."""

    def __init__(self, loop: Loop) -> None:
        self.loop = loop

    @property
    def name(self) -> str:
        return self.loop.name

    @property
    def stats(self) -> RelayStats:
        return self.loop.stats

    def start(self) -> LoopPart:
        self.loop.start()
        return self

    def healthy(self) -> bool:
        return self.loop.is_alive()

    def stop(self) -> None:
        self.loop.stop()

    def kill(self) -> None:
        self.loop.kill()

    def restart(self) -> None:
        self.loop.stop()
        self.loop = self.loop.restarted()
        self.loop.start()

    def problems(self) -> list[str]:
        return list(self.loop.stats.errors)


async def until_healthy(parts: Sequence[Part], within_seconds: float) -> bool:
    """Waits until every part is healthy (probed in a thread: a probe may wait on a socket);
    False when they are not within the bound."""
    deadline = time.monotonic() + within_seconds
    while not await asyncio.to_thread(lambda: all(part.healthy() for part in parts)):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(HEALTH_POLL_SECONDS)
    return True
