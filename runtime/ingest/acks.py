"""A request's wait for its events to be in Kinesis, and the ack timeout of every such wait.

Every request has the same timeout, so deadlines come in arrival order: one timer, for
the oldest waiting request, serves them all. asyncio.wait_for per request, and even a
timer per request, were measurable in the ingest service's CPU (bench/ingest.py).
"""

from __future__ import annotations

import asyncio
from collections import deque


class Ticket:
    """One request's wait for its events."""

    __slots__ = ("abandoned", "future", "remaining")

    def __init__(self, count: int, future: asyncio.Future[None]) -> None:
        self.remaining = count
        self.future = future
        self.abandoned = False

    def event_written(self) -> None:
        self.remaining -= 1
        if self.remaining == 0 and not self.future.done():
            self.future.set_result(None)

    def expire(self) -> None:
        """The ack timeout passed: the request is answered 503, and its unsent events are dropped."""
        if not self.future.done():
            self.abandoned = True
            self.future.set_exception(TimeoutError())


class AckDeadlines:
    """Expires each ticket that is still waiting `timeout_seconds` after it was added."""

    def __init__(self, timeout_seconds: float) -> None:
        self.timeout_seconds = timeout_seconds
        self._waiting: deque[tuple[float, Ticket]] = deque()  # (loop time, ticket) in arrival order
        self._timer: asyncio.TimerHandle | None = None

    def add(self, loop: asyncio.AbstractEventLoop, ticket: Ticket) -> None:
        waiting = self._waiting
        while waiting and waiting[0][1].future.done():
            waiting.popleft()
        waiting.append((loop.time() + self.timeout_seconds, ticket))
        if self._timer is None:
            self._timer = loop.call_at(waiting[0][0], self._expire_overdue, loop)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire_overdue(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        waiting, now = self._waiting, loop.time()
        while waiting and (waiting[0][1].future.done() or waiting[0][0] <= now):
            waiting.popleft()[1].expire()
        if waiting:
            self._timer = loop.call_at(waiting[0][0], self._expire_overdue, loop)
