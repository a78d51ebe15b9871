"""Reading raw-bucket objects: plain or gzip, line by line, malformed lines counted and skipped."""

from __future__ import annotations

import gzip
import io

import pytest

from runtime.replay.source import ReadStats, read_events
from tests.replay.objects import object_bytes, recorded_events


class WatchedStream(io.BytesIO):
    """Records the largest read: an object is streamed, never read whole."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.largest_read = 0

    def read(self, size: int | None = -1) -> bytes:
        assert size is not None and size >= 0, "the reader asked for the whole object"
        self.largest_read = max(self.largest_read, size)
        return super().read(size)


@pytest.mark.parametrize("gzipped", [True, False], ids=["gzip", "plain"])
def test_objects_are_read_in_order_either_compressed_or_not(gzipped: bool) -> None:
    events = recorded_events(5)
    stats = ReadStats()
    assert list(read_events(io.BytesIO(object_bytes(events, gzipped)), stats)) == events
    assert (stats.lines, stats.events, stats.malformed) == (30, 30, 0)


def test_malformed_lines_are_counted_and_never_fatal() -> None:
    events = recorded_events(2)
    bad = (b"not json\n", b"[1, 2]\n", b'{"sessionId": "", "timestamp": 1}\n',
           b'{"sessionId": "x", "timestamp": "1"}\n', b'{"sessionId": "x"}\n', b"\n")  # fmt: skip
    stats = ReadStats()
    assert list(read_events(io.BytesIO(object_bytes(events, extra_lines=bad)), stats)) == events
    assert (stats.events, stats.malformed) == (12, 5)


def test_a_gzip_stream_cut_short_keeps_what_was_read_and_counts_the_break() -> None:
    whole = object_bytes(recorded_events(200))
    stats = ReadStats()
    read = list(read_events(io.BytesIO(whole[: len(whole) // 2]), stats))
    assert 0 < len(read) < 1_200 and stats.malformed == 1


def test_a_large_object_is_streamed() -> None:
    data = gzip.compress(object_bytes(recorded_events(5_000), gzipped=False))
    stream = WatchedStream(data)
    stats = ReadStats()
    assert sum(1 for _ in read_events(stream, stats)) == 30_000
    assert stream.largest_read <= 1 << 16 < len(data)
