"""moto server (``moto[server]``) on a loopback port: S3, Firehose, Timestream and the rest, locally."""

from __future__ import annotations

import json
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from runtime.local.kinesis_mock import LOCAL_CREDENTIALS
from runtime.local.processes import ProcessPart, answering, free_port


@dataclass
class MotoServer:
    part: ProcessPart
    endpoint: str

    def client(self, service: str, region: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name=region, **LOCAL_CREDENTIALS)

    def state(self) -> dict[str, Any]:
        """Everything moto holds, as its /moto-api/data.json shows it (what the APIs cannot read back)."""
        with urllib.request.urlopen(f"{self.endpoint}/moto-api/data.json", timeout=10) as response:
            return dict(json.loads(response.read()))

    def stop(self) -> None:
        self.part.stop()


def start_moto_server(log_dir: Path) -> MotoServer:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    part = ProcessPart("moto-server", command, {}, Path.cwd(), log_dir, answering(f"{endpoint}/moto-api/", 200))
    return MotoServer(part.start(), endpoint)
