"""The session writer's handler against a fake Timestream: batching, retries, rejections, partial failures."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from runtime.events import RECENT_SESSION_RECORD_FIELDS, SESSION_RECORD_FIELDS
from runtime.session_writer.handler import handle
from runtime.session_writer.records import MEASURES, parse_session_record, timestream_row
from runtime.session_writer.timestream import TimestreamStore
from tests.session_writer.fakes import (
    FakeTimestream,
    aggregated,
    client_error,
    kinesis_event,
    plain,
    session_record,
)


def store(client: FakeTimestream, parallel: int = 4, attempts: int = 5) -> TimestreamStore:
    return TimestreamStore(client, "prism_dev", "sessions", parallel, attempts, sleep=lambda _: None)


def failures(response: dict[str, Any]) -> list[str]:
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


def sequence(i: int) -> str:
    return f"{49_600_000_000_000_000_000 + i}"


def test_the_whole_invocation_is_written_in_calls_of_at_most_100() -> None:
    client = FakeTimestream()
    event = kinesis_event(plain([session_record(f"s{i}") for i in range(250)]))
    assert failures(handle(event, None, store(client))) == []
    assert sorted(len(call) for call in client.calls) == [50, 100, 100]
    written = {row["Dimensions"][2]["Value"] for call in client.calls for row in call}
    assert written == {f"s{i}" for i in range(250)}


def test_calls_run_in_parallel_up_to_the_bound() -> None:
    client = FakeTimestream(delay=0.05)
    handle(kinesis_event(plain([session_record(f"s{i}") for i in range(800)])), None, store(client, parallel=3))
    assert len(client.calls) == 8
    assert client.max_in_flight == 3


def test_throttling_is_retried_with_backoff() -> None:
    throttles = iter([True, True])

    def respond(_: list[dict[str, Any]]) -> None:
        if next(throttles, False):
            raise client_error("ThrottlingException")

    client = FakeTimestream(respond)
    sleeps: list[float] = []
    writer = TimestreamStore(client, "prism_dev", "sessions", 1, 5, backoff_base_seconds=0.1, sleep=sleeps.append)
    assert failures(handle(kinesis_event(plain([session_record("s1")])), None, writer)) == []
    assert len(client.calls) == 3
    assert len(sleeps) == 2 and 0 <= sleeps[0] <= 0.1 and 0 <= sleeps[1] <= 0.2


def test_throttling_past_the_attempts_fails_those_records_only() -> None:
    def respond(rows: list[dict[str, Any]]) -> None:
        if any(row["Dimensions"][2]["Value"] == "s150" for row in rows):
            raise client_error("ThrottlingException")

    client = FakeTimestream(respond)
    event = kinesis_event(plain([session_record(f"s{i}") for i in range(200)]))
    response = handle(event, None, store(client, parallel=1, attempts=3))
    # The second call (s100..s199) never got through: Lambda retries from its first record.
    assert failures(response) == [sequence(i) for i in range(100, 200)]
    assert len(client.calls) == 1 + 3


def test_a_newer_version_in_the_table_is_success_and_other_rejections_fail_their_record() -> None:
    def respond(rows: list[dict[str, Any]]) -> None:
        raise client_error(
            "RejectedRecordsException",
            RejectedRecords=[
                {"RecordIndex": 0, "Reason": "A record with a higher version exists", "ExistingVersion": 99},
                {"RecordIndex": 2, "Reason": "The record timestamp is outside the time range of the memory store."},
            ],
        )

    client = FakeTimestream(respond)
    response = handle(kinesis_event(plain([session_record(f"s{i}") for i in range(3)])), None, store(client))
    assert failures(response) == [sequence(2)]
    assert len(client.calls) == 1, "a rejection is an answer, not a reason to retry"


def test_an_aggregated_record_fails_when_any_of_its_session_records_fails() -> None:
    def respond(rows: list[dict[str, Any]]) -> None:
        index = next(i for i, row in enumerate(rows) if row["Dimensions"][2]["Value"] == "agg-2")
        raise client_error("RejectedRecordsException", RejectedRecords=[{"RecordIndex": index, "Reason": "bad"}])

    client = FakeTimestream(respond)
    payloads = [*plain([session_record("single")]), aggregated([session_record(f"agg-{i}") for i in range(3)])]
    response = handle(kinesis_event(payloads), None, store(client))
    assert failures(response) == [sequence(1)]
    assert sorted(row["Dimensions"][2]["Value"] for row in client.calls[0]) == ["agg-0", "agg-1", "agg-2", "single"]


def test_malformed_records_are_reported_and_the_rest_written(caplog: pytest.LogCaptureFixture) -> None:
    client = FakeTimestream()
    missing_field = {k: v for k, v in session_record("s-missing").items() if k != "updateTime"}
    payloads = [b"not json", *plain([session_record("s-ok"), missing_field]), b"[1, 2]"]
    response = handle(kinesis_event(payloads), None, store(client))
    assert failures(response) == [sequence(0), sequence(2), sequence(3)]
    assert [row["Dimensions"][2]["Value"] for row in client.calls[0]] == ["s-ok"]


def test_a_record_from_a_sessionizer_of_the_release_before_is_written_without_the_fields_added_since() -> None:
    """During a deploy the writer may be new and the job old: a record without the recent fields is
    written (they are left out of the row); without any other field it is malformed."""
    client = FakeTimestream()
    older = {k: v for k, v in session_record("s-older").items() if k not in RECENT_SESSION_RECORD_FIELDS}
    assert set(SESSION_RECORD_FIELDS) >= RECENT_SESSION_RECORD_FIELDS and "incomplete" in RECENT_SESSION_RECORD_FIELDS
    response = handle(kinesis_event(plain([older, session_record("s-now")])), None, store(client))
    assert failures(response) == []
    rows = {row["Dimensions"][2]["Value"]: {m["Name"]: m["Value"] for m in row["MeasureValues"]}
            for row in client.calls[0]}  # fmt: skip
    assert "incomplete" not in rows["s-older"] and rows["s-now"]["incomplete"] == "false"


def test_a_batch_of_only_malformed_records_fails_whole_for_bisection() -> None:
    with pytest.raises(BatchProcessingError):
        handle(kinesis_event([b"{}", b"nope"]), None, store(FakeTimestream()))


def test_a_session_record_becomes_one_multi_measure_row() -> None:
    record = session_record("s1", final=False, device=None)
    row = timestream_row(parse_session_record(json.dumps(record).encode()))
    dimensions = {d["Name"]: d["Value"] for d in row["Dimensions"]}
    assert dimensions == {"environment": "dev", "region": "us-east-1", "session_id": "s1", "content_id": "unknown",
                          "device_type": "unknown", "player": "prism-web/3.1"}  # fmt: skip
    measures = {m["Name"]: (m["Value"], m["Type"]) for m in row["MeasureValues"]}
    assert measures["state"] == ("playing", "VARCHAR")
    assert measures["startup_ms"] == ("1500", "BIGINT")
    assert measures["rebuffer_count"] == ("1", "BIGINT")
    assert measures["final"] == ("false", "BOOLEAN")
    assert "average_bitrate_kbps" not in measures and "end_reason" not in measures, "null metrics are left out"
    assert set(measures) <= set(MEASURES)
    assert (row["MeasureName"], row["MeasureValueType"], row["TimeUnit"]) == ("session", "MULTI", "MILLISECONDS")
    assert (row["Time"], row["Version"]) == (str(record["updateTime"]), record["version"])
