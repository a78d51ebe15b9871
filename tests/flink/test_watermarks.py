"""The reader's watermark rule (IdleAdvancingClock in the connector jar), on times the test gives,
and the deserializer that tags each raw record with its shard (ShardTaggedStrings).

No mini-cluster: the classes are plain code, called through PyFlink's gateway, so
every case is exact and nothing depends on how fast this machine runs a JVM.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.flink.java_parser import connector

OUT_OF_ORDERNESS = 1_000
IDLE_AFTER = 2_000
CAUGHT_UP_LAG = 5_000
NOW = 1_800_000_000_000  # the server's clock
NO_ARRIVAL = 0
SECOND = 1_000


@pytest.fixture(scope="module")
def clock_class() -> Any:
    return connector().IdleAdvancingClock


def new_clock(clock_class: Any) -> Any:
    return clock_class(OUT_OF_ORDERNESS, IDLE_AFTER, CAUGHT_UP_LAG)


def bounded(newest_event_ms: int) -> int:
    """The watermark without the clock: newest event time less the out-of-orderness."""
    return newest_event_ms - OUT_OF_ORDERNESS - 1


@pytest.mark.parametrize("player_clock_offset_ms", [-30 * SECOND, 0, 30 * SECOND])
def test_a_live_reader_advances_with_the_clock_whatever_the_players_clocks(
    clock_class: Any, player_clock_offset_ms: int
) -> None:
    clock = new_clock(clock_class)
    for second in range(5):  # one event a second, each read 300 ms after it arrived
        arrived = NOW + second * SECOND
        clock.observe(arrived + player_clock_offset_ms, arrived, arrived + 300)
    last_read = NOW + 4 * SECOND + 300
    newest = NOW + 4 * SECOND + player_clock_offset_ms
    assert clock.caughtUp()
    assert clock.watermark(last_read + IDLE_AFTER) == bounded(newest)
    assert clock.watermark(last_read + IDLE_AFTER + 10 * SECOND) == bounded(newest) + 10 * SECOND


@pytest.mark.parametrize("player_clock_offset_ms", [-30 * SECOND, 30 * SECOND])
def test_a_backlog_does_not_advance_with_the_clock_while_reading_pauses(
    clock_class: Any, player_clock_offset_ms: int
) -> None:
    """Arrivals ten minutes old: the reader is catching up, and a pause in reading it (a
    stalled fetch) up to the caught-up lag leaves the watermark where the events put it."""
    clock = new_clock(clock_class)
    for second in range(5):
        arrived = NOW - 600 * SECOND + second * SECOND
        clock.observe(arrived + player_clock_offset_ms, arrived, NOW + second * 10)
    assert not clock.caughtUp()
    newest = NOW - 596 * SECOND + player_clock_offset_ms
    last_read = NOW + 40
    assert clock.watermark(last_read + CAUGHT_UP_LAG) == bounded(newest)


def test_a_backlog_read_out_with_nothing_after_it_advances_with_the_clock(clock_class: Any) -> None:
    """A region back from an outage: its stream's backlog read, and no player sent there yet.
    Once nothing at all has been read for longer than the caught-up lag, the clock takes over."""
    clock = new_clock(clock_class)
    clock.observe(NOW - 600 * SECOND, NOW - 600 * SECOND, NOW)
    assert not clock.caughtUp(NOW + CAUGHT_UP_LAG)
    assert clock.caughtUp(NOW + CAUGHT_UP_LAG + 1)
    later = CAUGHT_UP_LAG + 10 * SECOND
    assert clock.watermark(NOW + later) == bounded(NOW - 600 * SECOND) + later - IDLE_AFTER


def test_a_reader_that_catches_up_advances_again(clock_class: Any) -> None:
    clock = new_clock(clock_class)
    clock.observe(NOW - 600 * SECOND, NOW - 600 * SECOND, NOW)
    assert not clock.caughtUp()
    clock.observe(NOW + SECOND, NOW + SECOND, NOW + 1_200)
    assert clock.caughtUp()
    assert clock.watermark(NOW + 1_200 + IDLE_AFTER + 5 * SECOND) == bounded(NOW + SECOND) + 5 * SECOND


def test_the_caught_up_lag_is_the_bound(clock_class: Any) -> None:
    at_bound, past_bound = new_clock(clock_class), new_clock(clock_class)
    at_bound.observe(NOW, NOW, NOW + CAUGHT_UP_LAG)
    past_bound.observe(NOW, NOW, NOW + CAUGHT_UP_LAG + 1)
    assert at_bound.caughtUp() and not past_bound.caughtUp()


def test_an_older_arrival_read_after_the_newest_does_not_stop_the_clock(clock_class: Any) -> None:
    """A slow shard's event that arrived a minute ago, read after live ones: the newest
    arrival still decides, and it was read live."""
    clock = new_clock(clock_class)
    clock.observe(NOW, NOW, NOW + 200)
    clock.observe(NOW - 60 * SECOND, NOW - 60 * SECOND, NOW + 400)
    assert clock.caughtUp()
    assert clock.watermark(NOW + 400 + IDLE_AFTER + SECOND) == bounded(NOW) + SECOND


def test_events_without_an_arrival_time_prove_nothing(clock_class: Any) -> None:
    clock = new_clock(clock_class)
    clock.observe(NOW, NO_ARRIVAL, NOW)
    assert not clock.caughtUp()
    assert clock.watermark(NOW + 3_600 * SECOND) == bounded(NOW)


def test_the_watermark_never_goes_backwards(clock_class: Any) -> None:
    """An event after a silence restarts the quiet time, but the clock's advance stays."""
    clock = new_clock(clock_class)
    clock.observe(NOW, NOW, NOW)
    advanced = clock.watermark(NOW + IDLE_AFTER + 10 * SECOND)
    assert advanced == bounded(NOW) + 10 * SECOND
    clock.observe(NOW + SECOND, NOW + 10 * SECOND, NOW + 10 * SECOND)
    assert clock.watermark(NOW + 10 * SECOND + 1) == advanced


def test_no_watermark_before_the_first_event(clock_class: Any) -> None:
    assert new_clock(clock_class).watermark(NOW) == clock_class.NO_WATERMARK


def test_raw_records_are_read_behind_their_shard_id(clock_class: Any) -> None:
    """The connector's deserializer puts the shard id and the ASCII record separator before each record."""
    tagged = connector().ShardTaggedStrings
    assert tagged.SEPARATOR == "\x1e"
    text = tagged().deserialize('{"a":"é"}'.encode(), "key", "1", 0, "raw", "shardId-000000000003")
    assert text == "shardId-000000000003\x1e" + '{"a":"é"}'
