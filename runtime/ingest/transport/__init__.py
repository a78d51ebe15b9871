"""How the sink reaches Kinesis: one small interface, two transports behind it.

    direct.py          PutRecords written, signed (sigv4.py) and sent (http_endpoint.py) by
                       this package on the event loop: what replaces botocore on the hot
                       path, because botocore's request path costs most of a replay's CPU
                       per event outside the events themselves (figures: the docs'
                       performance page). It cannot go through a proxy.
    botocore_client.py the plain boto3 client, run in a thread: slower, and it honours
                       HTTPS_PROXY and everything else botocore does. The fallback.

``kinesis_client`` opens either for a region; the ingest service picks by
``INGEST_KINESIS_TRANSPORT`` (the stack's ``ingest.kinesisTransport``).
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, get_args

import boto3

from runtime.retries import one_attempt_config

Transport = Literal["direct", "botocore"]
TRANSPORTS: tuple[Transport, ...] = get_args(Transport)
DEFAULT_TRANSPORT: Transport = "direct"


class KinesisClient(Protocol):
    """What the sink asks of Kinesis, answering as boto3 would (failures as botocore's ClientError)."""

    async def put_records(self, *, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]: ...

    async def list_shards(self, **kwargs: Any) -> dict[str, Any]: ...

    async def close(self) -> None: ...


def kinesis_client(
    region: str,
    endpoint: str | None,
    transport: Transport = DEFAULT_TRANSPORT,
    session: boto3.session.Session | None = None,
    read_timeout: float = 5.0,
) -> KinesisClient:
    """A client for the streams of `region`. The sink retries, so botocore makes one attempt.
    `session` gives credentials other than the environment's."""
    # Imported here: each transport's module pulls in what only it needs.
    from runtime.ingest.transport.botocore_client import BotocoreKinesisClient
    from runtime.ingest.transport.direct import PutRecordsClient

    session = session or boto3.session.Session()
    config = one_attempt_config(16, read_timeout)
    client = session.client("kinesis", region_name=region, endpoint_url=endpoint, config=config)
    if transport == "botocore":
        return BotocoreKinesisClient(client)
    return PutRecordsClient(session, client, config)
