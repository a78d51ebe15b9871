"""The plain boto3 Kinesis client behind the sink's interface: each call in a thread.

The fallback transport: botocore's own request path (proxies, its retry-free one attempt,
its signing), at the CPU cost direct.py avoids. Answers and failures are boto3's own.
"""

from __future__ import annotations

import asyncio
from typing import Any


class BotocoreKinesisClient:
    """A boto3 Kinesis client, asynchronous; its connection pool bounds the calls in flight."""

    def __init__(self, client: Any) -> None:
        self._client = client

    async def put_records(self, *, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = await asyncio.to_thread(self._client.put_records, StreamName=StreamName,
                                                         Records=Records)  # fmt: skip
        return result

    async def list_shards(self, **kwargs: Any) -> dict[str, Any]:
        result: dict[str, Any] = await asyncio.to_thread(self._client.list_shards, **kwargs)
        return result

    async def close(self) -> None:
        self._client.close()
