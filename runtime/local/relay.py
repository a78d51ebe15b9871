"""What AWS runs between a stream and its consumers, for local runs: stream tailing, Firehose, Lambda's event source.

moto's Firehose cannot read a Kinesis stream and its event source mappings never fire,
so two small threads stand in, fed by a tailer of every shard of a stream:

- FirehoseRelay: stream -> de-aggregated records, one per line -> moto Firehose (direct
  put) -> S3, as the Kinesis-source Firehose of components/delivery.py does;
- EventSourcePoller: stream -> Lambda-shaped batches -> the session writer's handler,
  honouring ``batchItemFailures``: the batch is retried from its first failed record,
  as the event source mapping does with ReportBatchItemFailures. Like the mapping, it
  moves its position in each shard only past batches the function acknowledged: a
  batch that fails outright is sent again, and a poller that dies mid-batch is followed
  by one that starts after the last acknowledged record (``restarted``), so the dead
  batch is delivered again, never skipped.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Mapping
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
    behind_ms: int | None = None  # how far behind the stream's newest record its last read was (Kinesis says)


class StreamTailer:
    """Every record of every shard of a stream, in shard order: from its start, or after a
    sequence number in the shards `start_after` names."""

    def __init__(self, kinesis: Any, stream: str, start_after: Mapping[str, str] | None = None) -> None:
        self.kinesis = kinesis
        self.stream = stream
        self.start_after = dict(start_after or {})
        self.iterators: dict[str, str] = {}
        self.read: dict[str, str] = dict(self.start_after)  # shard id -> sequence number of the last record read
        self.behind_ms: int | None = None  # the last poll's MillisBehindLatest, the most of its shards

    def _discover(self) -> None:
        for shard in self.kinesis.list_shards(StreamName=self.stream)["Shards"]:
            shard_id = shard["ShardId"]
            if shard_id in self.iterators:
                continue
            position: dict[str, str] = {"ShardIteratorType": "TRIM_HORIZON"}
            if shard_id in self.start_after:
                position = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                            "StartingSequenceNumber": self.start_after[shard_id]}  # fmt: skip
            self.iterators[shard_id] = self.kinesis.get_shard_iterator(
                StreamName=self.stream, ShardId=shard_id, **position
            )["ShardIterator"]

    def poll(self) -> list[tuple[str, dict[str, Any]]]:
        """(shard id, record) of what arrived since the last poll."""
        if not self.iterators:
            self._discover()
        arrived, behind = [], []
        for shard_id, iterator in list(self.iterators.items()):
            response = self.kinesis.get_records(ShardIterator=iterator, Limit=1_000)
            self.iterators[shard_id] = response["NextShardIterator"]
            if "MillisBehindLatest" in response:
                behind.append(int(response["MillisBehindLatest"]))
            arrived += [(shard_id, record) for record in response["Records"]]
            if response["Records"]:
                self.read[shard_id] = response["Records"][-1]["SequenceNumber"]
        self.behind_ms = max(behind) if behind else self.behind_ms
        return arrived

    def restarted(self) -> StreamTailer:
        """A tailer that goes on after the last record this one read."""
        return StreamTailer(self.kinesis, self.stream, self.read)


class ThreadLoop(threading.Thread):
    """A step, again and again, ``period_seconds`` apart, until stopped."""

    def __init__(self, name: str, step: Callable[[], None], stats: RelayStats,
                 period_seconds: float = POLL_SECONDS) -> None:  # fmt: skip
        super().__init__(name=name, daemon=True)
        self.step = step
        self.stats = stats
        self.period_seconds = period_seconds
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.step()
            except Exception as error:  # a local stand-in reports and keeps going
                self.stats.errors.append(f"{self.name}: {error!r}")
            self.stopping.wait(self.period_seconds)

    def stop(self) -> None:
        self.stopping.set()
        if self.is_alive():
            self.join(timeout=10)

    def kill(self) -> None:
        """Ends the loop as a crash would; what it had not finished is done again by `restarted`."""
        self.stop()


class FirehoseRelay(ThreadLoop):
    def __init__(self, kinesis: Any, firehose: Any, stream: str, delivery_stream: str,
                 tailer: StreamTailer | None = None, stats: RelayStats | None = None) -> None:  # fmt: skip
        self.tailer = tailer or StreamTailer(kinesis, stream)
        self.kinesis = kinesis
        self.stream = stream
        self.firehose = firehose
        self.delivery_stream = delivery_stream
        super().__init__(f"firehose-{stream}", self._step, stats or RelayStats())
        self.pending: list[bytes] = []  # lines read and not yet put: put again on the next step
        self.delivered = dict(self.tailer.read)  # shard id -> last sequence number whose lines were all put

    def restarted(self) -> FirehoseRelay:
        """A relay that goes on after the last record whose lines were put, counting in the same stats
        (a record read but not put is read again: as Firehose, it delivers at least once)."""
        return FirehoseRelay(self.kinesis, self.firehose, self.stream, self.delivery_stream,
                             StreamTailer(self.kinesis, self.stream, self.delivered), self.stats)  # fmt: skip

    def _step(self) -> None:
        arrived = self.tailer.poll()
        self.stats.behind_ms = self.tailer.behind_ms
        for _, record in arrived:
            self.stats.records += 1
            self.pending += [data + b"\n" for _, data in deaggregate(record["Data"], record["PartitionKey"])]
        while self.pending:
            chunk = self.pending[:FIREHOSE_MAX_RECORDS]
            response = self.firehose.put_record_batch(
                DeliveryStreamName=self.delivery_stream, Records=[{"Data": line} for line in chunk]
            )
            if response["FailedPutCount"]:
                raise RuntimeError(f"{response['FailedPutCount']} records refused by {self.delivery_stream}")
            del self.pending[: len(chunk)]
            self.stats.user_records += len(chunk)
            self.stats.batches += 1
        self.delivered = dict(self.tailer.read)


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


class PollerKilled(Exception):
    """The poller died mid-batch (a local fault): the batch was not acknowledged."""


class EventSourcePoller(ThreadLoop):
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
        start_after: Mapping[str, str] | None = None,
        stats: RelayStats | None = None,
    ) -> None:
        self.kinesis = kinesis
        self.stream = stream
        self.tailer = StreamTailer(kinesis, stream, start_after)
        self.stream_arn = stream_arn
        self.region = region
        self.handler = handler
        self.batch_size = batch_size
        self.max_retries = max_retries
        self.pending: list[dict[str, Any]] = []
        # shard id -> sequence number of the last record the function acknowledged
        self.acknowledged: dict[str, str] = dict(start_after or {})
        self._kill = threading.Event()
        super().__init__(f"event-source-{stream}", self._step, stats or RelayStats())

    def _step(self) -> None:
        arrived = self.tailer.poll()
        self.stats.behind_ms = self.tailer.behind_ms
        self.pending += [lambda_kinesis_record(shard, r, self.stream_arn, self.region) for shard, r in arrived]
        while self.pending:
            batch = self.pending[: self.batch_size]
            try:
                self._deliver(batch)
            except PollerKilled:
                return  # stopped; `restarted` picks up after what was acknowledged
            # Only an acknowledged (or given-up) batch leaves: one that raised is sent again next step.
            del self.pending[: len(batch)]
            for record in batch:
                self.acknowledged[record["eventID"].split(":", 1)[0]] = record["kinesis"]["sequenceNumber"]

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        self.stats.records += len(batch)
        for attempt in range(self.max_retries + 1):
            self.stats.batches += 1
            if self._kill.is_set():
                # Dies with the function mid-batch: half the batch written, nothing acknowledged.
                self.handler({"Records": batch[: max(1, len(batch) // 2)]})
                self.stopping.set()
                raise PollerKilled(f"{len(batch)} records in flight")
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

    def kill(self, within_seconds: float = 60.0) -> None:
        """Dies during the next batch (as a function killed mid-invocation: half of it written, nothing
        acknowledged); when no batch comes within the bound, it stops between batches instead."""
        self._kill.set()
        self.join(timeout=within_seconds)
        if self.is_alive():
            self.stop()

    def restarted(self) -> EventSourcePoller:
        """A new poller from after the last acknowledged record of each shard, as the mapping resumes,
        counting in the same stats."""
        return EventSourcePoller(self.kinesis, self.stream, self.stream_arn, self.region, self.handler,
                                 self.batch_size, self.max_retries, self.acknowledged, self.stats)  # fmt: skip
