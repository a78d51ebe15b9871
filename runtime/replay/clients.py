"""boto3 clients of the replayer. Kinesis retries are the sink's (runtime/ingest/sink.py): one attempt each."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from runtime.ingest.put_records import PutRecordsClient
from runtime.replay.settings import ReplaySettings, TargetSpec
from runtime.replay.targets import StreamTarget, Target, UrlTarget

MAX_IN_FLIGHT_CALLS = 8


def s3_client(settings: ReplaySettings) -> Any:
    return boto3.session.Session().client("s3", region_name=settings.region, endpoint_url=settings.s3_endpoint)


def kinesis_client(region: str, endpoint: str | None, session: boto3.session.Session | None = None) -> PutRecordsClient:
    """The sink's client for a stream in `region`; `session` gives credentials other than the environment's."""
    config = Config(retries={"total_max_attempts": 1, "mode": "standard"}, max_pool_connections=2,
                    connect_timeout=2, read_timeout=10, tcp_keepalive=True)  # fmt: skip
    session = session or boto3.session.Session()
    # PutRecords is most of a replay's CPU outside the events themselves: written by PutRecordsClient,
    # on its own connections (the boto3 client's pool is for ListShards).
    return PutRecordsClient(session, session.client("kinesis", region_name=region, endpoint_url=endpoint,
                                                    config=config), config)  # fmt: skip


def create_targets(settings: ReplaySettings) -> dict[str, Target]:
    """One target per spec, by TargetSpec.name; stream targets in their own region."""

    def create(spec: TargetSpec) -> Target:
        if spec.url is not None:
            return UrlTarget(spec.name, spec.url)
        assert spec.stream is not None  # parse_targets: exactly one of stream and url
        client = kinesis_client(spec.region, settings.kinesis_endpoint)
        return StreamTarget(spec.name, client, spec.stream, spec.region, MAX_IN_FLIGHT_CALLS)

    return {spec.name: create(spec) for spec in settings.targets}
