"""kinesis-mock (npm ``kinesis-local``) on a loopback port, installed into .local on first use."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from runtime.ingest.transport import KinesisClient, kinesis_client
from runtime.local.processes import ProcessPart, free_port
from runtime.retries import one_attempt_config

KINESIS_LOCAL_VERSION = "0.6.2"
_LOOPBACK_PRELOAD = Path(__file__).with_name("loopback.cjs")
# Local stand-ins accept any credentials; these keep boto3 from looking for real ones.
LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


def install(root: Path) -> Path:
    """The folder holding kinesis-mock's main.js (it reads server.json from its working directory)."""
    package = root / "node_modules" / "kinesis-local"
    if not (package / "main.js").exists():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is needed to install kinesis-mock (npm package kinesis-local)")
        root.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(root),
             f"kinesis-local@{KINESIS_LOCAL_VERSION}"],
            check=True,
        )  # fmt: skip
    return package


@dataclass
class KinesisMock:
    part: ProcessPart
    endpoint: str

    def client(self, region: str) -> Any:
        return boto3.client("kinesis", endpoint_url=self.endpoint, region_name=region, **LOCAL_CREDENTIALS)

    def sink_client(self, region: str) -> KinesisClient:
        """The ingest sink's asynchronous client (what a replay writes through) for this stand-in."""
        return kinesis_client(region, self.endpoint, session=boto3.session.Session(**LOCAL_CREDENTIALS))

    def create_streams(self, region: str, shards: dict[str, int]) -> None:
        client = self.client(region)
        for name, count in shards.items():
            client.create_stream(StreamName=name, ShardCount=count)
        for name in shards:
            client.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})

    def stop(self) -> None:
        self.part.stop()


def start_kinesis_mock(install_root: Path, log_dir: Path, region: str = "us-east-1") -> KinesisMock:
    package = install(install_root)
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is needed to run kinesis-mock")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"

    # One client for every probe (start-up and each health check), one attempt each: the caller polls.
    probe = boto3.client("kinesis", endpoint_url=endpoint, region_name=region,
                         config=one_attempt_config(1, read_timeout=2.0), **LOCAL_CREDENTIALS)  # fmt: skip

    def ready() -> bool:
        return probe.list_streams() is not None

    part = ProcessPart(
        "kinesis-mock",
        [node, "-r", str(_LOOPBACK_PRELOAD), "main.js"],
        {
            "KINESIS_MOCK_PLAIN_PORT": str(port),
            "KINESIS_MOCK_TLS_PORT": str(free_port()),
            "AWS_REGION": region,
            "LOG_LEVEL": "WARN",
            "CREATE_STREAM_DURATION": "50ms",
        },
        cwd=package,
        log_dir=log_dir,
        ready=ready,
    )
    return KinesisMock(part.start(), endpoint)
