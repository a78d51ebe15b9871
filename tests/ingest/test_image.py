"""The ingest image as its Dockerfile defines it: linted, and started with its own command and environment.

No Docker engine runs here, so the image's final stage is read from the Dockerfile and its
start command, environment and health check run in the project's environment: what would
fail in the container for a reason of ours (a wrong module, a missing variable, a health
check that cannot pass) fails here.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from runtime.ingest.settings import base_settings, environment
from runtime.local.processes import free_port, start, wait_until
from tests.graph import ROOT

DOCKERFILE = ROOT / "runtime" / "ingest" / "Dockerfile"
BIN = Path(sys.executable).parent


@dataclass
class Stage:
    """What the final stage of a Dockerfile says about running the image."""

    env: dict[str, str] = field(default_factory=dict)
    entrypoint: list[str] = field(default_factory=list)
    healthcheck: list[str] = field(default_factory=list)
    stop_signal: str = "SIGTERM"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in logical]


def final_stage(text: str) -> Stage:
    stage = Stage()
    for instruction, arguments in instructions(text):
        if instruction == "FROM":
            stage = Stage()
        elif instruction == "ENV":
            for pair in shlex.split(arguments):
                key, _, value = pair.partition("=")
                stage.env[key] = value
        elif instruction == "ENTRYPOINT":
            stage.entrypoint = json.loads(arguments)
        elif instruction == "HEALTHCHECK":
            stage.healthcheck = json.loads(arguments.split("CMD", 1)[1])
        elif instruction == "STOPSIGNAL":
            stage.stop_signal = arguments
    return stage


def in_project_environment(command: list[str]) -> list[str]:
    """The image's `python` is its venv's: here, the project's."""
    return [sys.executable if command[0] == "python" else command[0], *command[1:]]


def test_the_dockerfile_passes_hadolint() -> None:
    result = subprocess.run([str(BIN / "hadolint"), str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_stage_starts_from_a_base_pinned_by_digest() -> None:
    """The same commit builds on the same bytes: a tag alone may move under it."""
    text = DOCKERFILE.read_text()
    arguments = dict(re.findall(r"^ARG (\w+)=(\S+)$", text, flags=re.MULTILINE))
    bases = [line.split()[1] for line in text.splitlines() if line.startswith("FROM ")]
    resolved = [arguments[base[2:-1]] if base.startswith("${") else base for base in bases]
    assert len(resolved) == 2
    assert all(re.fullmatch(r"[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}", base) for base in resolved), resolved


def test_the_final_stage_is_read_as_docker_would() -> None:
    stage = final_stage(DOCKERFILE.read_text())
    assert stage.entrypoint == ["python", "-m", "runtime.ingest"]
    assert stage.env["INGEST_PORT"] == "8080" and stage.env["PATH"].startswith("/opt/venv/bin:")
    assert stage.healthcheck[:2] == ["python", "-c"] and stage.stop_signal == "SIGTERM"


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


@pytest.mark.integration
def test_the_image_command_starts_the_service_and_its_health_check_passes(tmp_path: Path) -> None:
    stage = final_stage(DOCKERFILE.read_text())
    port = free_port()
    # The image's environment, its venv as the project's, and what the task definition adds
    # (the program writes it with the same function); Kinesis unreachable: liveness only.
    settings = base_settings("prism-dev-use1-raw", "us-east-1")
    env = {
        **stage.env,
        "PATH": f"{BIN}:{os.environ['PATH']}",
        "INGEST_PORT": str(port),
        **environment(settings),
        "INGEST_KINESIS_ENDPOINT": f"http://127.0.0.1:{free_port()}",
        "AWS_ACCESS_KEY_ID": "image-test",
        "AWS_SECRET_ACCESS_KEY": "image-test",
    }
    service = start("ingest-image", in_project_environment(stage.entrypoint), env, tmp_path, tmp_path / "logs")
    try:
        wait_until(lambda: get(f"http://127.0.0.1:{port}/health") == 200, service, 60, "the ingest image's command")
        assert get(f"http://127.0.0.1:{port}/ready") == 503  # no stream reached: the ALB would not send traffic
        check = subprocess.run(in_project_environment(stage.healthcheck), env={**os.environ, **env}, cwd=tmp_path,
                               capture_output=True, text=True, timeout=10, check=False)  # fmt: skip
        assert check.returncode == 0, check.stderr
        stop_signal = getattr(signal, stage.stop_signal)
        service.process.send_signal(stop_signal)
        # uvicorn shuts down gracefully, then re-raises the signal so the exit says what stopped it.
        assert service.process.wait(timeout=60) in (0, -stop_signal)
        assert '"message":"ingest_stopped"' in service.log_path.read_text()
    finally:
        if service.process.poll() is None:
            service.process.kill()
