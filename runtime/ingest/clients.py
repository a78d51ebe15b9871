"""AWS clients of the ingest service. Retries are ours (sink.py), so botocore makes one attempt."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from runtime.ingest.put_records import PutRecordsClient
from runtime.ingest.settings import IngestSettings


def _config(pool: int) -> Config:
    return Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        max_pool_connections=pool,
        connect_timeout=2,
        read_timeout=5,
        tcp_keepalive=True,
    )


def kinesis_client(settings: IngestSettings) -> PutRecordsClient:
    session = boto3.session.Session()
    config = _config(2)  # ListShards only: PutRecords has its own connections, one per call in flight
    client = session.client("kinesis", region_name=settings.region, endpoint_url=settings.kinesis_endpoint,
                            config=config)  # fmt: skip
    return PutRecordsClient(session, client, config)


def firehose_client(settings: IngestSettings) -> Any:
    if not settings.failed_events_stream:
        return None
    return boto3.session.Session().client(
        "firehose", region_name=settings.region, endpoint_url=settings.firehose_endpoint, config=_config(4)
    )
