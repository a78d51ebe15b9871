"""A region's ingest service in a local run: uvicorn on a free loopback port, as a part.

A restart replaces it as ECS replaces a task behind the load balancer: a new process on
a new port, the region's address moved to it once it is ready, then SIGTERM to the old
one, which drains (every request it answered 200 is durable) within its shutdown bound.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from runtime.local.options import ROOT
from runtime.local.processes import ProcessPart, answering, free_port

# The old process's SIGTERM grace: beyond the service's shutdown drain (25 s by default).
REPLACED_GRACE_SECONDS = 60.0


def error_line(line: str) -> bool:
    """A line of the service's log that reports an error: an ERROR record or a traceback."""
    return '"level":"ERROR"' in line.replace(" ", "") or "Traceback" in line


class IngestService:
    def __init__(self, name: str, environment: Callable[[int], dict[str, str]], log_dir: Path) -> None:
        self.name = name
        self._environment = environment  # port -> the process's environment
        self.log_dir = log_dir
        self.process: ProcessPart | None = None
        self.url = ""  # where the region's players post, once started

    def start(self) -> IngestService:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        process = ProcessPart(f"{self.name}-{port}", [sys.executable, "-m", "runtime.ingest"], self._environment(port),
                              ROOT, self.log_dir, answering(f"{url}/ready", 200), log_problem=error_line)  # fmt: skip
        process.start()
        self.process, self.url = process, url
        return self

    def healthy(self) -> bool:
        return self.process is not None and self.process.healthy()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()

    def restart(self) -> None:
        old = self.process
        self.start()
        if old is not None:
            old.stop(grace_seconds=REPLACED_GRACE_SECONDS)

    def problems(self) -> list[str]:
        return self.process.problems() if self.process is not None else []


class Addresses(Mapping[str, str]):
    """Region -> where its players post now, as the accelerator routes them: each region's own
    service (through its restarts), or the other region's while it is moved there (an outage)."""

    def __init__(self) -> None:
        self._services: dict[str, IngestService] = {}
        self._moved: dict[str, str] = {}  # region -> the region its players are sent to instead

    def serve(self, region: str, service: IngestService) -> None:
        self._services[region] = service

    def move(self, region: str, to: str | None) -> None:
        """Sends the region's players to another region's service; None: to their own again."""
        if to is None:
            self._moved.pop(region, None)
        else:
            self._moved[region] = to

    def serving(self, region: str) -> str:
        """The region whose service the region's players reach now."""
        return self._moved.get(region, region)

    def __getitem__(self, region: str) -> str:
        return self._services[self.serving(region)].url

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._services))

    def __len__(self) -> int:
        return len(self._services)
