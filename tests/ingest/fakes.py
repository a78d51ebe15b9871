"""A Kinesis client stand-in that can throttle, fail partially and go down, and records what it kept."""

from __future__ import annotations

import json
import threading
from typing import Any

from runtime.kpl import user_records

THROTTLED = "ProvisionedThroughputExceededException"
MAX_HASH_KEY = 2**128 - 1


class KinesisDown(Exception):
    def __init__(self) -> None:
        super().__init__("Could not connect to the endpoint URL")
        self.response = {"Error": {"Code": "EndpointConnectionError"}}


class FakeKinesis:
    """Modes: ok; throttle (every record refused); partial (every other record refused); down (call fails)."""

    def __init__(self, shards: int = 2) -> None:
        self.mode = "ok"
        self.script: list[str] = []  # modes for the next calls, one each, before `mode` applies again
        self.shards = shards
        self.records: list[dict[str, Any]] = []
        self.calls = 0
        self.refused = 0
        self.closed = False
        self._lock = threading.Lock()

    async def list_shards(self, **_: Any) -> dict[str, Any]:
        if self.mode == "down":
            raise KinesisDown()
        return self.shard_list()

    def shard_list(self) -> dict[str, Any]:
        """ListShards's answer: the hash key range split evenly."""
        step = (MAX_HASH_KEY + 1) // self.shards
        return {
            "Shards": [
                {
                    "ShardId": f"shardId-{i:012d}",
                    "HashKeyRange": {
                        "StartingHashKey": str(i * step),
                        "EndingHashKey": str(MAX_HASH_KEY if i == self.shards - 1 else (i + 1) * step - 1),
                    },
                    "SequenceNumberRange": {"StartingSequenceNumber": "0"},
                }
                for i in range(self.shards)
            ]
        }

    async def put_records(self, *, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
        with self._lock:
            self.calls += 1
            mode = self.script.pop(0) if self.script else self.mode
            if mode == "down":
                raise KinesisDown()
            results: list[dict[str, Any]] = []
            for position, record in enumerate(Records):
                refuse = mode == "throttle" or (mode == "partial" and position % 2 == 0)
                if refuse:
                    self.refused += 1
                    results.append({"ErrorCode": THROTTLED, "ErrorMessage": "Rate exceeded for shard"})
                    continue
                self.records.append({**record, "SequenceNumber": str(len(self.records))})
                results.append({"SequenceNumber": str(len(self.records)), "ShardId": "shardId-000000000000"})
            failed = sum(1 for r in results if "ErrorCode" in r)
            return {"FailedRecordCount": failed, "Records": results}

    async def close(self) -> None:
        self.closed = True

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            stored = list(self.records)
        return [json.loads(data) for _, data in user_records(stored)]
