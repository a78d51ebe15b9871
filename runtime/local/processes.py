"""Processes of a local run: started on loopback, each a part that can be stopped, killed and started again."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# How long a process gets to end on SIGTERM before it is killed.
STOP_GRACE_SECONDS = 5.0
# How long kill -9 may take to be reaped: the job's process group holds a JVM and Python workers.
KILL_WAIT_SECONDS = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Started:
    """A process this code started; stop() ends it (and its children) by its pid."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace_seconds: float = STOP_GRACE_SECONDS) -> None:
        if not self.alive:
            return
        # Started in a session of its own: the group id is its pid, so children go too.
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(grace_seconds)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """kill -9 of the process group, as a crash or an OOM kill would end it."""
        if self.alive:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(KILL_WAIT_SECONDS)

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(log_lines(self.log_path)[-lines:])


def log_lines(path: Path) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return []


def start(name: str, command: list[str], env: dict[str, str], cwd: Path, log_dir: Path) -> Started:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=cwd, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Started(name, process, log_path)


def wait_until(ready: Callable[[], bool], started: Started, timeout_seconds: float, what: str) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if not started.alive:
            raise RuntimeError(f"{started.name} exited with {started.process.returncode}:\n{started.log_tail()}")
        if answers(ready):
            return
        time.sleep(0.2)
    started.stop()
    raise TimeoutError(f"{what} not ready within {timeout_seconds:g} s:\n{started.log_tail()}")


def answers(ready: Callable[[], bool]) -> bool:
    """Whether a readiness probe says yes; a probe that raises (not listening yet, refused) says no."""
    try:
        return ready()
    except Exception:
        return False


def answering(url: str, status: int) -> Callable[[], bool]:
    """A probe: a GET of ``url`` is answered with ``status``."""

    def probe() -> bool:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == status)

    return probe


class ProcessPart:
    """One process of the run as a part: the same command at each start, a log file per start
    (``NAME.log``, then ``NAME-restart-N.log``: a killed process's log stays as it was).

    ``ready`` says when it serves; ``log_problem`` picks the lines of its log that are errors.
    """

    def __init__(
        self,
        name: str,
        command: list[str],
        env: dict[str, str],
        cwd: Path,
        log_dir: Path,
        ready: Callable[[], bool],
        ready_seconds: float = 60.0,
        log_problem: Callable[[str], bool] = lambda _: False,
    ) -> None:
        self.name = name
        self._launch = (command, env, cwd, log_dir)
        self.ready = ready
        self.ready_seconds = ready_seconds
        self.log_problem = log_problem
        self.current: Started | None = None
        self._starts = 0
        self._ended_on_purpose = False

    @property
    def pid(self) -> int:
        assert self.current is not None, f"{self.name} was never started"
        return self.current.pid

    def launch(self) -> None:
        """Starts the process without waiting for it to serve (wait_ready does)."""
        command, env, cwd, log_dir = self._launch
        log_name = self.name if not self._starts else f"{self.name}-restart-{self._starts}"
        self._starts += 1
        self._ended_on_purpose = False
        self.current = start(log_name, command, env, cwd, log_dir)

    def wait_ready(self) -> None:
        assert self.current is not None, f"{self.name} was never started"
        wait_until(self.ready, self.current, self.ready_seconds, self.name)

    def start(self) -> ProcessPart:
        self.launch()
        self.wait_ready()
        return self

    def healthy(self) -> bool:
        return self.current is not None and self.current.alive and answers(self.ready)

    def stop(self, grace_seconds: float = STOP_GRACE_SECONDS) -> None:
        if self.current is not None:
            self._ended_on_purpose = True
            self.current.stop(grace_seconds)

    def kill(self) -> None:
        if self.current is not None:
            self._ended_on_purpose = True
            self.current.kill()

    def restart(self) -> None:
        """A new process (after stopping the old one if it still runs); healthy() says when it serves."""
        self.stop()
        self.launch()

    def problems(self) -> list[str]:
        current = self.current
        if current is None:
            return []
        found = [f"{current.name}: {line}" for line in log_lines(current.log_path) if self.log_problem(line)]
        if not current.alive and not self._ended_on_purpose:
            found.append(f"{current.name} exited with {current.process.returncode}: {current.log_tail(5)}")
        return found
