"""A region outage acts on the region's parts and on where its players are sent, at the planned moments."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx2 as httpx
import pytest

from runtime.local.ingest_service import Addresses, IngestService
from runtime.local.kinesis_mock import KinesisMock
from runtime.local.moved import stream_events
from runtime.local.options import Outage, parse_options
from runtime.local.outage import RegionOutage
from runtime.local.simulator import PlayerSimulator, SessionTruth, Timing
from runtime.stack.failover import TARGET_HEALTH_CHECK, failover_seconds, return_seconds
from tests.local.test_chaos import FakePart


class Moves:
    def __init__(self) -> None:
        self.moves: list[tuple[str, str | None]] = []

    def move(self, region: str, to: str | None) -> None:
        self.moves.append((region, to))


def outage(down_s: float | None, calls: list[str], router: Moves) -> RegionOutage:
    parts = {name: FakePart(name, calls) for name in ("ingest", "sessionizer", "session-writer", "firehose-raw")}
    started = time.monotonic()
    return RegionOutage(Outage("us-west-2", 0.05, down_s), "us-east-1", lambda: parts, router,
                        lambda: time.monotonic() - started, failover_s=0.05, return_s=0.05)  # fmt: skip


def test_the_region_dies_its_players_move_and_with_down_s_it_comes_back_and_they_go_home() -> None:
    calls: list[str] = []
    router = Moves()
    drill = outage(0.2, calls, router)
    asyncio.run(drill.run())
    assert calls == [
        "kill ingest", "kill sessionizer", "stop session-writer", "stop firehose-raw",
        "restart ingest", "restart sessionizer", "restart session-writer", "restart firehose-raw",
    ]  # fmt: skip
    assert router.moves == [("us-west-2", "us-east-1"), ("us-west-2", None)]
    t = drill.times
    assert t.struck_s is not None and t.moved_s is not None and t.back_s is not None and t.returned_s is not None
    assert t.struck_s + 0.05 <= t.moved_s and t.struck_s + 0.2 <= t.back_s and t.back_s + 0.05 <= t.returned_s
    assert "players home at" in drill.describe()


def test_a_region_that_does_not_come_back_keeps_its_players_moved() -> None:
    calls: list[str] = []
    router = Moves()
    drill = outage(None, calls, router)
    asyncio.run(drill.run())
    assert [call for call in calls if call.startswith("restart")] == []
    assert router.moves == [("us-west-2", "us-east-1")]
    assert drill.describe().endswith("its players moved to us-east-1 at " + f"{drill.times.moved_s:.1f} s")


def test_the_drill_moves_players_after_the_deployed_health_checks_fail() -> None:
    """Two failed checks 10 s apart (components/load_balancer.py reads the same figures), and the
    accelerator's documented return of about 30 s once the region passes its checks again."""
    assert failover_seconds() == TARGET_HEALTH_CHECK.interval_seconds * TARGET_HEALTH_CHECK.unhealthy_threshold == 20
    assert return_seconds() == 20 + 30


def test_players_reach_the_region_they_were_moved_to_and_then_their_own_again() -> None:
    east, west = (IngestService(name, lambda port: {}, Path(".")) for name in ("ingest-use1", "ingest-usw2"))
    east.url, west.url = "http://127.0.0.1:1", "http://127.0.0.1:2"
    addresses = Addresses()
    addresses.serve("us-east-1", east)
    addresses.serve("us-west-2", west)
    addresses.move("us-west-2", "us-east-1")
    assert (addresses["us-west-2"], addresses.serving("us-west-2")) == ("http://127.0.0.1:1", "us-east-1")
    assert list(addresses) == ["us-east-1", "us-west-2"], "players keep their home region"
    addresses.move("us-west-2", None)
    assert (addresses["us-west-2"], addresses.serving("us-west-2")) == ("http://127.0.0.1:2", "us-west-2")


def test_an_outage_option_is_read_with_its_defaults() -> None:
    options = parse_options(["--regions", "both", "--duration", "60", "--outage", "us-west-2"])
    assert options.outage == Outage("us-west-2", 20.0, None)
    options = parse_options(["--regions", "both", "--duration", "60", "--outage", "us-east-1@5:40"])
    assert options.outage == Outage("us-east-1", 5.0, 40.0)


@pytest.mark.integration
def test_the_events_a_raw_stream_holds_are_read_from_its_oldest_record(kinesis_mock: KinesisMock) -> None:
    """What a region still down holds: the report counts these as kept, not missing."""
    kinesis_mock.create_streams("us-west-2", {"prism-test-held-raw": 2})
    client = kinesis_mock.client("us-west-2")
    events = [{"sessionId": f"s-{i}", "event": "heartbeat", "timestamp": 1_000 + i} for i in range(30)]
    for event in events:
        client.put_record(StreamName="prism-test-held-raw", Data=json.dumps(event).encode(),
                          PartitionKey=event["sessionId"])  # fmt: skip
    held = stream_events(client, "prism-test-held-raw")
    assert held == {(event["sessionId"], "heartbeat", event["timestamp"]) for event in events}


def test_an_event_sent_late_to_the_region_its_player_was_moved_to_is_uncertain_not_late() -> None:
    """That region may have no watermark past it and take it on time; the verifier then lets the late
    bucket say which it was. Sent late to the region that served it when it happened, it is late."""
    serving = {"us-west-2": "us-west-2"}
    simulator = PlayerSimulator({"us-west-2": "http://west", "us-east-1": "http://east"}, 1, 1,
                                serving=serving.__getitem__)  # fmt: skip
    ok = httpx.MockTransport(lambda request: httpx.Response(200, json={}))

    async def send_late(timestamp: int, moved_meanwhile: bool) -> None:
        async with httpx.AsyncClient(transport=ok) as client:
            document = {"event": "heartbeat", "sessionId": "s-1", "timestamp": timestamp}
            simulator._hold(client, truth, document, 10, on_time=False)
            serving["us-west-2"] = "us-east-1" if moved_meanwhile else "us-west-2"
            await asyncio.gather(*simulator._held)

    truth = simulator.sessions["s-1"] = SessionTruth("s-1", "us-west-2")
    asyncio.run(send_late(1, moved_meanwhile=False))
    asyncio.run(send_late(2, moved_meanwhile=True))
    assert [d["timestamp"] for d in truth.too_late] == [1]
    assert [d["timestamp"] for d in truth.uncertain] == [2]
    assert truth.served_by == {1: "us-west-2", 2: "us-east-1"}


def test_an_event_sent_late_when_its_region_has_acknowledged_nothing_much_newer_is_uncertain() -> None:
    """The region's traffic had stopped: its watermark may not be past the event, which may count."""
    simulator = PlayerSimulator({"us-east-1": "http://east"}, 1, 1, Timing(late_after_ms=5_000))
    ok = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
    truth = simulator.sessions["s-1"] = SessionTruth("s-1", "us-east-1")

    async def send(timestamp: int, on_time: bool) -> None:
        async with httpx.AsyncClient(transport=ok) as client:
            document = {"event": "heartbeat", "sessionId": "s-1", "timestamp": timestamp}
            await simulator._post(client, truth, document, on_time, "us-east-1")

    for timestamp, on_time in ((10_000, True), (8_000, False), (20_000, True), (9_000, False)):
        asyncio.run(send(timestamp, on_time))
    assert [d["timestamp"] for d in truth.uncertain] == [8_000]  # 2 s behind the newest: may count
    assert [d["timestamp"] for d in truth.too_late] == [9_000]  # 11 s behind it: surely late
