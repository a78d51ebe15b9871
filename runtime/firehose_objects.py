"""An object as Firehose writes it into a bucket: lines, plain or gzip (delivery.compression).

Streamed: lines are read as they arrive, never the whole object in memory. The replayer
reads raw objects through it, the reconciler session objects; both are told of an object by
an S3 event, whose key may come URL-encoded (open_object).
"""

from __future__ import annotations

import gzip
import io
from typing import Any, BinaryIO
from urllib.parse import unquote_plus

GZIP_MAGIC = b"\x1f\x8b"
_READ_BYTES = 1 << 16


class _Prefixed(io.RawIOBase):
    """A stream with bytes already read from it put back in front."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            count = min(len(self._head), len(view))
            view[:count] = self._head[:count]
            self._head = self._head[count:]
            return count
        data = self._rest.read(len(view))
        view[: len(data)] = data
        return len(data)


def open_lines(body: BinaryIO) -> BinaryIO:
    """The object's bytes, inflated when it is gzip, as a buffered stream of lines."""
    head = body.read(len(GZIP_MAGIC))
    raw = io.BufferedReader(_Prefixed(head, body), _READ_BYTES)
    return gzip.GzipFile(fileobj=raw, mode="rb") if head == GZIP_MAGIC else raw  # type: ignore[return-value]


def open_object(client: Any, bucket: str, key: str) -> Any:
    """The body of the object an S3 event names; the event's key may be URL-encoded."""
    try:
        return client.get_object(Bucket=bucket, Key=key)["Body"]
    except client.exceptions.NoSuchKey:
        if "%" not in key and "+" not in key:
            raise
        return client.get_object(Bucket=bucket, Key=unquote_plus(key))["Body"]
