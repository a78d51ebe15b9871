"""Reading KPL-aggregated Kinesis records back into user records.

Uses aws-kinesis-agg's protobuf message, but not its de-aggregator: that one prints a
record it cannot parse to stderr and yields nothing for it, and needs a complete
Lambda- or boto3-shaped record. Here a record is bytes in, user records out, and a
record that is not a valid aggregate (no magic, bad digest, bad protobuf) is one
user record as it is, which is what the KCL does too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import aws_kinesis_agg.deaggregator  # noqa: F401 - adds the folder its messages_pb2 imports from to sys.path
from aws_kinesis_agg import MAGIC
from aws_kinesis_agg.messages_pb2 import AggregatedRecord
from google.protobuf.message import DecodeError

_DIGEST_BYTES = 16


def deaggregate(data: bytes, partition_key: str) -> list[tuple[str, bytes]]:
    """(partition key, data) of each user record in one Kinesis record, in order."""
    if data[: len(MAGIC)] == MAGIC and len(data) > len(MAGIC) + _DIGEST_BYTES:
        message, digest = data[len(MAGIC) : -_DIGEST_BYTES], data[-_DIGEST_BYTES:]
        if hashlib.md5(message).digest() == digest:
            aggregate = AggregatedRecord()
            try:
                aggregate.ParseFromString(message)
                keys = aggregate.partition_key_table
                return [(keys[r.partition_key_index], r.data) for r in aggregate.records]
            except (DecodeError, IndexError):
                pass
    return [(partition_key, data)]


def user_records(records: Iterable[Mapping[str, Any]]) -> Iterator[tuple[str, bytes]]:
    """User records of GetRecords- or PutRecords-shaped records ({"Data", "PartitionKey"}), in order."""
    for record in records:
        yield from deaggregate(record["Data"], record["PartitionKey"])
