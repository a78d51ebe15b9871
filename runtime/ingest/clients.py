"""AWS clients of the ingest service. Retries are ours (sink.py), so botocore makes one attempt."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from runtime.ingest.settings import IngestSettings
from runtime.ingest.transport import KinesisClient
from runtime.ingest.transport import kinesis_client as open_kinesis


def _config(pool: int) -> Config:
    return Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        max_pool_connections=pool,
        connect_timeout=2,
        read_timeout=5,
        tcp_keepalive=True,
    )


def kinesis_client(settings: IngestSettings) -> KinesisClient:
    return open_kinesis(settings.region, settings.kinesis_endpoint, settings.kinesis_transport)


def firehose_client(settings: IngestSettings) -> Any:
    if not settings.failed_events_stream:
        return None
    return boto3.session.Session().client(
        "firehose", region_name=settings.region, endpoint_url=settings.firehose_endpoint, config=_config(4)
    )
