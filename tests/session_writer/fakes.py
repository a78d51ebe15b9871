"""Session records and Kinesis-shaped Lambda events for the session writer's tests, and a fake Timestream."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from aws_kinesis_agg.aggregator import RecordAggregator
from botocore.exceptions import ClientError

from runtime.sessionizer.session import NO_WATERMARK, Tracker
from tests.sessionizer.sequences import END_OF_TIME, SETTINGS, ev


def session_record(session_id: str, final: bool = True, device: str | None = "tv") -> dict[str, Any]:
    """A real record of the sessionizer's tracker."""
    tracker = Tracker(session_id)
    events = [ev("init", 0, session_id), ev("loading", 0.5, session_id), ev("playing", 2, session_id),
              ev("buffering", 10, session_id), ev("buffered", 11, session_id)]  # fmt: skip
    if device is not None:
        events.append(ev("metadata", 0.1, session_id, contentId="c-7", deviceType=device))
    if final:
        events.append(ev("stopped", 20, session_id, reason="ended"))
    for event in events:
        tracker.accept(event, NO_WATERMARK, SETTINGS)
    if final:
        tracker.advance(END_OF_TIME, SETTINGS)
    return tracker.record(SETTINGS)


def kinesis_event(payloads: Sequence[bytes]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": f"pk-{i}",
                    "sequenceNumber": f"{49_600_000_000_000_000_000 + i}",
                    "data": base64.b64encode(payload).decode(),
                    "approximateArrivalTimestamp": 1_764_000_000.0,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"shardId-000000000000:{49_600_000_000_000_000_000 + i}",
                "eventName": "aws:kinesis:record",
                "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/prism-dev-use1-session",
            }
            for i, payload in enumerate(payloads)
        ]
    }


def plain(records: Sequence[dict[str, Any]]) -> list[bytes]:
    return [json.dumps(r).encode() for r in records]


def aggregated(records: Sequence[dict[str, Any]]) -> bytes:
    aggregator = RecordAggregator()
    for record in records:
        aggregator.add_user_record(record["sessionId"], json.dumps(record).encode())
    _, _, data = aggregator.clear_and_get().get_contents()
    return bytes(data)


def client_error(code: str, **extra: Any) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} from the fake"}, **extra}, "WriteRecords")


class FakeTimestream:
    """Records every WriteRecords call; `respond` decides per call (raise or return)."""

    def __init__(self, respond: Callable[[list[dict[str, Any]]], None] | None = None, delay: float = 0.0) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self.respond = respond
        self.delay = delay
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()

    def write_records(self, DatabaseName: str, TableName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
        assert (DatabaseName, TableName) == ("prism_dev", "sessions")
        with self._lock:
            self.calls.append(Records)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            if self.respond is not None:
                self.respond(Records)
        finally:
            with self._lock:
                self.in_flight -= 1
        return {"RecordsIngested": {"Total": len(Records)}}
