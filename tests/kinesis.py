"""Reading a stand-in's stream back: every user record of every shard, KPL aggregates opened."""

from __future__ import annotations

import json
from typing import Any

from runtime.kpl import user_records


def stream_events(client: Any, stream: str) -> list[dict[str, Any]]:
    """The JSON user records of a stream, shard by shard, each shard in order."""
    events: list[dict[str, Any]] = []
    for shard in client.list_shards(StreamName=stream)["Shards"]:
        iterator = client.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"],
                                             ShardIteratorType="TRIM_HORIZON")["ShardIterator"]  # fmt: skip
        while iterator:
            page = client.get_records(ShardIterator=iterator, Limit=10_000)
            events.extend(json.loads(data) for _, data in user_records(page["Records"]))
            if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:
                break
            iterator = page.get("NextShardIterator")
    return events
