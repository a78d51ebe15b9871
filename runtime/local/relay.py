"""What AWS runs between a stream and its consumers, for local runs: stream tailing, Firehose, Lambda's event source.

moto's Firehose cannot read a Kinesis stream and its event source mappings never fire,
so two small threads stand in, fed by a tailer of every shard of a stream:

- FirehoseRelay: stream -> de-aggregated records, one per line -> moto Firehose (direct
  put) -> S3, as the Kinesis-source Firehose of components/delivery.py does;
- EventSourcePoller: stream -> Lambda-shaped batches -> the session writer's handler,
  honouring ``batchItemFailures``: the batch is retried from its first failed record,
  as the event source mapping does with ReportBatchItemFailures.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from runtime.kpl import deaggregate

FIREHOSE_MAX_RECORDS = 500
POLL_SECONDS = 0.2


@dataclass
class RelayStats:
    records: int = 0
    user_records: int = 0
    batches: int = 0
    retried_batches: int = 0
    errors: list[str] = field(default_factory=list)


class StreamTailer:
    """Every record of every shard of a stream, from its start, in shard order."""

    def __init__(self, kinesis: Any, stream: str) -> None:
        self.kinesis = kinesis
        self.stream = stream
        self.iterators: dict[str, str] = {}

    def _discover(self) -> None:
        for shard in self.kinesis.list_shards(StreamName=self.stream)["Shards"]:
            if shard["ShardId"] not in self.iterators:
                self.iterators[shard["ShardId"]] = self.kinesis.get_shard_iterator(
                    StreamName=self.stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]

    def poll(self) -> list[tuple[str, dict[str, Any]]]:
        """(shard id, record) of what arrived since the last poll."""
        if not self.iterators:
            self._discover()
        arrived = []
        for shard_id, iterator in list(self.iterators.items()):
            response = self.kinesis.get_records(ShardIterator=iterator, Limit=1_000)
            self.iterators[shard_id] = response["NextShardIterator"]
            arrived += [(shard_id, record) for record in response["Records"]]
        return arrived


class _Loop(threading.Thread):
    def __init__(self, name: str, step: Callable[[], None], stats: RelayStats) -> None:
        super().__init__(name=name, daemon=True)
        self.step = step
        self.stats = stats
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.step()
            except Exception as error:  # a local stand-in reports and keeps going
                self.stats.errors.append(f"{self.name}: {error!r}")
            self.stopping.wait(POLL_SECONDS)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)


class FirehoseRelay(_Loop):
    def __init__(self, kinesis: Any, firehose: Any, stream: str, delivery_stream: str) -> None:
        self.tailer = StreamTailer(kinesis, stream)
        self.firehose = firehose
        self.delivery_stream = delivery_stream
        super().__init__(f"firehose-{stream}", self._step, RelayStats())

    def _step(self) -> None:
        lines: list[bytes] = []
        for _, record in self.tailer.poll():
            self.stats.records += 1
            lines += [data + b"\n" for _, data in deaggregate(record["Data"], record["PartitionKey"])]
        for start in range(0, len(lines), FIREHOSE_MAX_RECORDS):
            chunk = lines[start : start + FIREHOSE_MAX_RECORDS]
            response = self.firehose.put_record_batch(
                DeliveryStreamName=self.delivery_stream, Records=[{"Data": line} for line in chunk]
            )
            if response["FailedPutCount"]:
                raise RuntimeError(f"{response['FailedPutCount']} records refused by {self.delivery_stream}")
            self.stats.user_records += len(chunk)
            self.stats.batches += 1


def lambda_kinesis_record(shard_id: str, record: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A record as Lambda hands it to a function."""
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": record["PartitionKey"],
            "sequenceNumber": record["SequenceNumber"],
            "data": base64.b64encode(record["Data"]).decode(),
            "approximateArrivalTimestamp": record["ApproximateArrivalTimestamp"].timestamp(),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{record['SequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "awsRegion": region,
        "eventSourceARN": stream_arn,
    }


class EventSourcePoller(_Loop):
    """Batches of the session stream into the session writer, retrying from the first failure."""

    def __init__(
        self,
        kinesis: Any,
        stream: str,
        stream_arn: str,
        region: str,
        handler: Callable[[dict[str, Any]], dict[str, Any]],
        batch_size: int,
        max_retries: int = 3,
    ) -> None:
        self.tailer = StreamTailer(kinesis, stream)
        self.stream_arn = stream_arn
        self.region = region
        self.handler = handler
        self.batch_size = batch_size
        self.max_retries = max_retries
        self.pending: list[dict[str, Any]] = []
        super().__init__(f"event-source-{stream}", self._step, RelayStats())

    def _step(self) -> None:
        self.pending += [
            lambda_kinesis_record(shard, r, self.stream_arn, self.region) for shard, r in self.tailer.poll()
        ]
        while self.pending:
            batch, self.pending = self.pending[: self.batch_size], self.pending[self.batch_size :]
            self._deliver(batch)

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        self.stats.records += len(batch)
        for attempt in range(self.max_retries + 1):
            self.stats.batches += 1
            failures = self.handler({"Records": batch})["batchItemFailures"]
            if not failures:
                break
            first = min(batch.index(next(r for r in batch if r["kinesis"]["sequenceNumber"] == f["itemIdentifier"]))
                        for f in failures)  # fmt: skip
            batch = batch[first:]
            self.stats.retried_batches += 1
            if attempt == self.max_retries:
                self.stats.errors.append(f"{len(batch)} session records given up after {attempt + 1} attempts")
            time.sleep(0.1 * (attempt + 1))
