"""KPL aggregation: records de-aggregate back to exactly the events, in order per session."""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict

from aws_kinesis_agg import MAGIC
from aws_kinesis_agg.aggregator import AggRecord
from aws_kinesis_agg.messages_pb2 import AggregatedRecord
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.ingest.aggregation import Aggregator, KinesisRecord, KplAggregate, ShardMap, put_records_batches
from runtime.kpl import user_records
from tests.ingest.fakes import FakeKinesis

TWO_SHARDS = ShardMap.from_list_shards(FakeKinesis(shards=2).shard_list()["Shards"])


def events_of(n_sessions: int, per_session: int, size: int = 300) -> list[tuple[str, bytes]]:
    rng = random.Random(7)
    sessions = [f"session-{i}" for i in range(n_sessions)]
    out = []
    for seq in range(per_session):
        for session in rng.sample(sessions, len(sessions)):
            body = json.dumps({"sessionId": session, "seq": seq, "pad": ""}).encode()
            out.append((session, body.replace(b'"pad": ""', b'"pad": "' + b"x" * max(0, size - len(body)) + b'"')))
    return out


def aggregate(events: list[tuple[str, bytes]], max_bytes: int = 51_200) -> list[KinesisRecord[int]]:
    aggregator: Aggregator[int] = Aggregator(max_bytes, TWO_SHARDS)
    records: list[KinesisRecord[int]] = []
    for index, (pk, data) in enumerate(events):
        records.extend(aggregator.add(pk, data, index))
    return records + aggregator.flush()


def read_back(records: list[KinesisRecord[int]]) -> list[tuple[str, bytes]]:
    return list(user_records(r.put_records_entry() for r in records))


def test_records_deaggregate_to_exactly_the_events_in_order_per_session() -> None:
    events = events_of(n_sessions=40, per_session=25)
    records = aggregate(events)
    back = read_back(records)
    assert sorted(back) == sorted(events)
    per_session: dict[str, list[bytes]] = defaultdict(list)
    for pk, data in back:
        per_session[pk].append(data)
    for pk, datas in per_session.items():
        assert datas == [d for p, d in events if p == pk]


def test_each_aggregate_goes_to_the_shard_of_all_its_sessions() -> None:
    records = aggregate(events_of(n_sessions=50, per_session=4))
    for record in records:
        assert record.explicit_hash_key is not None
        shard = next(s for s in TWO_SHARDS.shards if str(s.starting_hash_key) == record.explicit_hash_key)
        for pk, _ in read_back([record]):
            assert TWO_SHARDS.shard_for(pk) == shard


def test_shard_for_follows_the_md5_of_the_partition_key() -> None:
    for key in ("a", "session-1", "ünïcode"):
        hash_key = int.from_bytes(hashlib.md5(key.encode()).digest(), "big")
        shard = TWO_SHARDS.shard_for(key)
        assert shard is not None and shard.starting_hash_key <= hash_key <= shard.ending_hash_key


def test_closed_shards_take_no_records() -> None:
    listed = FakeKinesis(shards=3).shard_list()["Shards"]
    listed[1]["SequenceNumberRange"]["EndingSequenceNumber"] = "99"
    assert [s.shard_id for s in ShardMap.from_list_shards(listed).shards] == [
        listed[0]["ShardId"],
        listed[2]["ShardId"],
    ]


def test_300_byte_events_pack_over_150_to_a_51200_byte_record() -> None:
    records = aggregate(events_of(n_sessions=1, per_session=2_000))
    full = records[:-1]
    assert all(len(r.data) <= 51_200 for r in records)
    assert min(len(r.items) for r in full) >= 150


def test_an_event_larger_than_an_aggregate_travels_alone() -> None:
    small = events_of(1, 3)
    big = ("session-0", b"{" + b"x" * 60_000 + b"}")
    records = aggregate([small[0], big, small[1]])
    assert sorted(len(r.items) for r in records) == [1, 2]
    assert sorted(read_back(records)) == sorted([small[0], big, small[1]])


def test_unknown_shard_layout_still_aggregates_without_a_hash_key() -> None:
    aggregator: Aggregator[int] = Aggregator(51_200, ShardMap([]))
    aggregator.add("s1", b"a", 0)
    (record,) = aggregator.flush()
    assert record.explicit_hash_key is None
    assert "ExplicitHashKey" not in record.put_records_entry()


def test_put_records_batches_respect_count_and_bytes() -> None:
    records = [KinesisRecord("pk", None, b"x" * 1_000, [i]) for i in range(1_200)]
    batches = put_records_batches(records, max_count=500, max_bytes=300_000)
    assert [len(b) for b in batches] == [299, 299, 299, 299, 4]  # 1,002 bytes each with the key
    assert [len(b) for b in put_records_batches(records, max_count=500, max_bytes=5_242_880)] == [500, 500, 200]
    assert [r.items[0] for b in batches for r in b] == list(range(1_200))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.binary(min_size=1, max_size=3_000)), max_size=200))
def test_any_events_round_trip(events: list[tuple[str, bytes]]) -> None:
    records = aggregate(events, max_bytes=8_192)
    assert sorted(read_back(records)) == sorted(events)
    assert sorted(i for r in records for i in r.items) == list(range(len(events)))


def protobuf_aggregate(records: list[tuple[str, bytes]]) -> bytes:
    """The same user records as aws-kinesis-agg's own protobuf message serializes them."""
    message = AggregatedRecord()
    keys: dict[str, int] = {}
    for partition_key, data in records:
        if partition_key not in keys:
            keys[partition_key] = len(keys)
            message.partition_key_table.append(partition_key)
        record = message.records.add()
        record.partition_key_index = keys[partition_key]
        record.data = data
    body = bytes(message.SerializeToString())
    return bytes(MAGIC) + body + hashlib.md5(body).digest()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.text(min_size=1, max_size=40), st.binary(min_size=0, max_size=20_000)), min_size=1, max_size=60
    ),
    st.sampled_from([256, 4_096, 51_200]),
)
def test_aggregates_are_the_bytes_aws_kinesis_agg_serializes_and_fill_up_to_the_limit(
    events: list[tuple[str, bytes]], max_bytes: int
) -> None:
    """KplAggregate encodes exactly aws-kinesis-agg's message, sized exactly: it takes a record
    whenever the result fits (AggRecord counts a repeated partition key again, so it
    refuses sooner), and never exceeds the limit."""
    ours = KplAggregate(max_bytes)
    accepted: list[tuple[str, bytes]] = []
    for partition_key, data in events:
        try:
            fits = ours.add_user_record(partition_key, data)
        except ValueError:
            continue
        if not fits:
            assert len(protobuf_aggregate([*accepted, (partition_key, data)])) > max_bytes, "refused but it fitted"
            break
        accepted.append((partition_key, data))
    if accepted:
        assert ours.data() == protobuf_aggregate(accepted)
        assert len(ours.data()) <= max_bytes
        assert ours.partition_key == accepted[0][0]
    assert len(accepted) >= records_until_full(AggRecord(max_bytes), events), "AggRecord packed more"


def records_until_full(aggregate: AggRecord, events: list[tuple[str, bytes]]) -> int:
    taken = 0
    for partition_key, data in events:
        try:
            if not aggregate.add_user_record(partition_key, data):
                break
        except ValueError:
            continue
        taken += 1
    return taken
