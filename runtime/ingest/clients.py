"""AWS clients of the ingest service. Retries are ours (sink.py), so botocore makes one attempt."""

from __future__ import annotations

from typing import Any

import boto3

from runtime.ingest.settings import IngestSettings
from runtime.ingest.transport import KinesisClient
from runtime.ingest.transport import kinesis_client as open_kinesis
from runtime.retries import one_attempt_config


def kinesis_client(settings: IngestSettings) -> KinesisClient:
    return open_kinesis(settings.region, settings.kinesis_endpoint, settings.kinesis_transport)


def firehose_client(settings: IngestSettings) -> Any:
    if not settings.failed_events_stream:
        return None
    return boto3.session.Session().client(
        "firehose", region_name=settings.region, endpoint_url=settings.firehose_endpoint, config=one_attempt_config(4)
    )
