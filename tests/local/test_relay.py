"""The local consumers: a poller that dies mid-batch is followed by one that skips nothing; a Firehose
relay puts a refused batch again and, restarted, goes on after what it put."""

from __future__ import annotations

import base64
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from runtime.local.kinesis_mock import KinesisMock
from runtime.local.parts import LoopPart
from runtime.local.relay import EventSourcePoller, FirehoseRelay

pytestmark = pytest.mark.integration
REGION = "us-east-1"
_streams = itertools.count()


class Function:
    """A session writer stand-in: what it was handed, call by call; fails whole calls on demand."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.failing = 0  # calls still to fail outright (an exception, as a crashed invocation)
        self.lock = threading.Lock()

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if self.failing:
                self.failing -= 1
                raise RuntimeError("the function failed")
            self.calls.append([base64.b64decode(r["kinesis"]["data"]).decode() for r in event["Records"]])
        return {"batchItemFailures": []}

    @property
    def delivered(self) -> list[str]:
        return [data for call in self.calls for data in call]


def put(kinesis_mock: KinesisMock, stream: str, values: list[str]) -> None:
    client = kinesis_mock.client(REGION)
    for value in values:
        client.put_record(StreamName=stream, Data=value.encode(), PartitionKey=value)


def wait_for(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def poller(kinesis_mock: KinesisMock, function: Function) -> tuple[EventSourcePoller, str]:
    stream = f"relay-{next(_streams)}"
    kinesis_mock.create_streams(REGION, {stream: 2})
    arn = f"arn:aws:kinesis:{REGION}:000000000000:stream/{stream}"
    return EventSourcePoller(kinesis_mock.client(REGION), stream, arn, REGION, function, batch_size=10), stream


def test_a_poller_killed_mid_batch_is_followed_by_one_that_resends_that_batch_and_skips_nothing(
    kinesis_mock: KinesisMock,
) -> None:
    function = Function()
    first, stream = poller(kinesis_mock, function)
    first.start()
    put(kinesis_mock, stream, [f"before-{i}" for i in range(25)])
    wait_for(lambda: len(function.delivered) == 25)
    acknowledged = dict(first.acknowledged)
    killing = threading.Thread(target=first.kill)  # kill() returns once the poller died in a batch
    killing.start()
    put(kinesis_mock, stream, [f"during-{i}" for i in range(12)])
    killing.join(timeout=60)
    assert not first.is_alive()
    assert any(call[0].startswith("during-") for call in function.calls), "the kill came mid-batch"
    assert first.acknowledged == acknowledged, "the dead batch was not acknowledged"

    second = first.restarted()
    second.start()
    put(kinesis_mock, stream, [f"after-{i}" for i in range(5)])
    expected = (
        {f"before-{i}" for i in range(25)} | {f"during-{i}" for i in range(12)} | {f"after-{i}" for i in range(5)}
    )
    try:
        wait_for(lambda: expected <= set(function.delivered))
    finally:
        second.stop()
    delivered = function.delivered
    # Nothing acknowledged was delivered again; only the dead batch's records were (at least once).
    assert sorted(delivered[:25]) == sorted(f"before-{i}" for i in range(25))
    assert all(not value.startswith("before-") for value in delivered[25:])
    assert second.stats.errors == []


def test_a_batch_the_function_fails_outright_is_sent_again(kinesis_mock: KinesisMock) -> None:
    function = Function()
    function.failing = 2
    running, stream = poller(kinesis_mock, function)
    running.start()
    try:
        put(kinesis_mock, stream, [f"event-{i}" for i in range(8)])
        wait_for(lambda: set(function.delivered) == {f"event-{i}" for i in range(8)})
    finally:
        running.stop()
    assert len(function.delivered) == 8


class Delivery:
    """A Firehose delivery stream stand-in: the lines put; refuses whole batches on demand."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.refusing = 0
        self.lock = threading.Lock()

    def put_record_batch(self, DeliveryStreamName: str, Records: list[dict[str, bytes]]) -> dict[str, int]:
        with self.lock:
            if self.refusing:
                self.refusing -= 1
                return {"FailedPutCount": len(Records)}
            self.lines += [record["Data"].decode().strip() for record in Records]
            return {"FailedPutCount": 0}


def test_a_relay_puts_a_refused_batch_again_and_once_restarted_goes_on_after_what_it_put(
    kinesis_mock: KinesisMock,
) -> None:
    stream = f"relay-{next(_streams)}"
    kinesis_mock.create_streams(REGION, {stream: 2})
    delivery = Delivery()
    delivery.refusing = 1
    relay = LoopPart(FirehoseRelay(kinesis_mock.client(REGION), delivery, stream, "raw-delivery")).start()
    first = [f"first-{i}" for i in range(10)]
    put(kinesis_mock, stream, first)
    wait_for(lambda: set(delivery.lines) == set(first))
    [refused] = relay.problems()
    assert "records refused by raw-delivery" in refused

    relay.restart()
    then = [f"then-{i}" for i in range(5)]
    put(kinesis_mock, stream, then)
    try:
        wait_for(lambda: set(then) <= set(delivery.lines))
    finally:
        relay.stop()
    assert sorted(delivery.lines) == sorted(first + then), "each line once: the restart skipped what was put"
    assert relay.stats.user_records == 15 and relay.healthy() is False
