"""KPL-format aggregation, shard-aware like the KPL itself.

Many user records (one raw event each) are packed into one Kinesis record in the KPL
aggregated format (aws-kinesis-agg): magic bytes, protobuf AggregatedRecord, MD5.
The aggregate is encoded here (``KplAggregate``) rather than by aws-kinesis-agg's
``AggRecord``, which builds a protobuf object per user record: the same bytes (a test
holds them equal to AggRecord's for any input), at a fraction of the CPU per event.
A Kinesis record lands on the shard of its own hash key, so records are aggregated
per shard: each user record goes to the open aggregate of the shard its partition key
(the session id) hashes to, and the aggregate is sent with that shard's starting hash
key as ExplicitHashKey. All events of a session therefore stay on one shard, as if
each had been put with its own partition key.

Pure logic: no I/O, no clock; the sink feeds it and ships what it returns.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from aws_kinesis_agg import DIGEST_SIZE, MAGIC

T = TypeVar("T")

# The largest Kinesis record (1 MiB); an event too big for an aggregate of the
# configured size is sent alone in a record of up to this size.
KINESIS_MAX_RECORD_BYTES = 1_048_576
_CACHED_KEYS = 65_536


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


# Lengths and indexes of an aggregate are almost always below 2**14: looked up, not computed.
_SMALL_VARINTS = tuple(_encode_varint(value) for value in range(1 << 14))


def _varint(value: int) -> bytes:
    return _SMALL_VARINTS[value] if value < 16_384 else _encode_varint(value)


# protobuf tags of AggregatedRecord.partition_key_table (1, bytes), .records (3, message), and of
# Record.partition_key_index (1, varint) and Record.data (3, bytes).
_KEY_TABLE_TAG, _RECORD_TAG, _INDEX_TAG, _DATA_TAG = b"\x0a", b"\x1a", b"\x08", b"\x1a"
_FRAMING_BYTES = len(MAGIC) + DIGEST_SIZE


class KplAggregate:
    """One KPL aggregated record being filled: the partition-key table, then the records, as
    protobuf serializes an AggregatedRecord (field order), with the magic and the MD5 around it."""

    __slots__ = ("_key_table", "_keys", "_records", "_size", "max_bytes", "partition_key")

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.partition_key = ""  # the first user record's: the aggregate's own
        self._keys: dict[str, int] = {}
        self._key_table = bytearray()
        self._records = bytearray()
        self._size = 0  # of the protobuf message

    def add_user_record(self, partition_key: str, data: bytes) -> bool:
        """False when the aggregate is too full for it; ValueError when no aggregate of this size could hold it."""
        index = self._keys.get(partition_key)
        position = len(self._keys) if index is None else index
        key_entry = b""
        if index is None:
            key = partition_key.encode()
            key_entry = _KEY_TABLE_TAG + _varint(len(key)) + key
        # The record's framing is built once and used both to size it and to write it.
        record_fields = _INDEX_TAG + _varint(position) + _DATA_TAG + _varint(len(data))
        record_head = _RECORD_TAG + _varint(len(record_fields) + len(data)) + record_fields
        size = len(key_entry) + len(record_head) + len(data)
        if size > self.max_bytes:
            raise ValueError(f"a user record of {size} bytes does not fit an aggregate of {self.max_bytes}")
        if _FRAMING_BYTES + self._size + size > self.max_bytes:
            return False
        if index is None:
            self._keys[partition_key] = position
            self._key_table += key_entry
        if not self._records:
            self.partition_key = partition_key
        self._records += record_head
        self._records += data
        self._size += size
        return True

    def data(self) -> bytes:
        message = bytes(self._key_table + self._records)
        return bytes(MAGIC) + message + hashlib.md5(message).digest()


@dataclass(frozen=True)
class Shard:
    shard_id: str
    starting_hash_key: int
    ending_hash_key: int


class ShardMap:
    """Open shards by hash-key range. Empty: the stream's layout is not known (yet)."""

    def __init__(self, shards: Sequence[Shard]) -> None:
        self.shards = sorted(shards, key=lambda s: s.starting_hash_key)
        self._starts = [s.starting_hash_key for s in self.shards]
        # A session's events share a key: its MD5 is worked out once (the map never changes).
        self.shard_for = functools.lru_cache(maxsize=_CACHED_KEYS)(self._shard_for)

    @classmethod
    def from_list_shards(cls, listed: Iterable[Mapping[str, Any]]) -> ShardMap:
        """From the Shards of ListShards: closed shards (with an ending sequence number) take no writes."""
        return cls(
            [
                Shard(s["ShardId"], int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]))
                for s in listed
                if "EndingSequenceNumber" not in s.get("SequenceNumberRange", {})
            ]
        )

    def __len__(self) -> int:
        return len(self.shards)

    def _shard_for(self, partition_key: str) -> Shard | None:
        if not self.shards:
            return None
        # Kinesis maps a partition key to a shard by the MD5 of its UTF-8 bytes.
        hash_key = int.from_bytes(hashlib.md5(partition_key.encode()).digest(), "big")
        index = bisect.bisect_right(self._starts, hash_key) - 1
        return self.shards[max(index, 0)]


@dataclass
class KinesisRecord(Generic[T]):
    """One aggregated Kinesis record and the user records inside it (their owners wait for it)."""

    partition_key: str
    explicit_hash_key: str | None
    data: bytes
    items: list[T]

    def put_records_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"Data": self.data, "PartitionKey": self.partition_key}
        if self.explicit_hash_key is not None:  # boto3 rejects an explicit None
            entry["ExplicitHashKey"] = self.explicit_hash_key
        return entry

    @property
    def size(self) -> int:
        """What PutRecords counts against its 5 MB: data plus partition key."""
        return len(self.data) + len(self.partition_key.encode())


@dataclass
class _Open(Generic[T]):
    record: KplAggregate
    items: list[T] = field(default_factory=list)


class Aggregator(Generic[T]):
    """Packs (partition key, data, item) triples into aggregated records, one open record per shard."""

    def __init__(self, max_bytes: int, shard_map: ShardMap) -> None:
        self.max_bytes = max_bytes
        self.shard_map = shard_map
        self._open: dict[str, _Open[T]] = {}

    def add(self, partition_key: str, data: bytes, item: T) -> list[KinesisRecord[T]]:
        """Add one user record; returns the aggregates it completed (usually none)."""
        shard = self.shard_map.shard_for(partition_key)
        slot = shard.shard_id if shard is not None else ""
        completed: list[KinesisRecord[T]] = []
        current = self._open.get(slot)
        if current is None:
            current = self._open[slot] = _Open(KplAggregate(self.max_bytes))
        try:
            fits = current.record.add_user_record(partition_key, data)
        except ValueError:
            # Larger than an aggregate of the configured size: alone, in a record of its own.
            single: _Open[T] = _Open(KplAggregate(KINESIS_MAX_RECORD_BYTES), [item])
            single.record.add_user_record(partition_key, data)
            return [self._close(single, shard)]
        if not fits:
            completed.append(self._close(current, shard))
            current = self._open[slot] = _Open(KplAggregate(self.max_bytes))
            current.record.add_user_record(partition_key, data)
        current.items.append(item)
        return completed

    def flush(self) -> list[KinesisRecord[T]]:
        """Close every open aggregate (the linger time is over)."""
        records = [
            self._close(open_record, self._shard(slot)) for slot, open_record in self._open.items() if open_record.items
        ]
        self._open.clear()
        return records

    def _shard(self, slot: str) -> Shard | None:
        return next((s for s in self.shard_map.shards if s.shard_id == slot), None)

    @staticmethod
    def _close(open_record: _Open[T], shard: Shard | None) -> KinesisRecord[T]:
        data = open_record.record.data()
        return KinesisRecord(
            partition_key=open_record.record.partition_key,
            explicit_hash_key=str(shard.starting_hash_key) if shard is not None else None,
            data=data,
            items=open_record.items,
        )


def put_records_batches(
    records: Sequence[KinesisRecord[T]], max_count: int, max_bytes: int
) -> list[list[KinesisRecord[T]]]:
    """Split records into PutRecords calls within the count and size limits, keeping order."""
    batches: list[list[KinesisRecord[T]]] = []
    current: list[KinesisRecord[T]] = []
    current_bytes = 0
    for record in records:
        if current and (len(current) >= max_count or current_bytes + record.size > max_bytes):
            batches.append(current)
            current, current_bytes = [], 0
        current.append(record)
        current_bytes += record.size
    if current:
        batches.append(current)
    return batches
