"""Starting local stand-ins as processes on loopback, and stopping exactly what was started."""

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

    def stop(self, grace_seconds: float = 5.0) -> None:
        if self.process.poll() is not None:
            return
        # Started in a session of its own: the group id is its pid, so children go too.
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(grace_seconds)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


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
        if started.process.poll() is not None:
            raise RuntimeError(f"{started.name} exited with {started.process.returncode}:\n{started.log_tail()}")
        try:
            if ready():
                return
        except Exception:  # not answering yet
            pass
        time.sleep(0.2)
    started.stop()
    raise TimeoutError(f"{what} not ready within {timeout_seconds:g} s:\n{started.log_tail()}")


def wait_until_answering(url: str, status: int, started: Started, timeout_seconds: float, what: str) -> None:
    """Waits until a GET of ``url`` is answered with ``status``; as wait_until."""

    def answering() -> bool:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == status)

    wait_until(answering, started, timeout_seconds, what)
