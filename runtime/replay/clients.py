"""Clients of the replayer. Kinesis retries are the sink's (runtime/ingest/sink.py): one attempt each."""

from __future__ import annotations

from typing import Any

import boto3

from runtime.ingest.transport import KinesisClient, kinesis_client
from runtime.replay.settings import ReplaySettings, TargetSpec
from runtime.replay.targets import StreamTarget, Target, UrlTarget

MAX_IN_FLIGHT_CALLS = 8


def s3_client(settings: ReplaySettings) -> Any:
    return boto3.session.Session().client("s3", region_name=settings.region, endpoint_url=settings.s3_endpoint)


def stream_client(region: str, endpoint: str | None) -> KinesisClient:
    """The sink's client for a stream in `region`: the direct transport, as PutRecords is most of a
    replay's CPU outside the events themselves."""
    return kinesis_client(region, endpoint, read_timeout=10.0)


def create_targets(settings: ReplaySettings) -> dict[str, Target]:
    """One target per spec, by TargetSpec.name; stream targets in their own region."""

    def create(spec: TargetSpec) -> Target:
        if spec.url is not None:
            return UrlTarget(spec.name, spec.url)
        assert spec.stream is not None  # parse_targets: exactly one of stream and url
        client = stream_client(spec.region, settings.kinesis_endpoint)
        return StreamTarget(spec.name, client, spec.stream, spec.region, MAX_IN_FLIGHT_CALLS)

    return {spec.name: create(spec) for spec in settings.targets}
