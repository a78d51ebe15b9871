"""Reading a request body: media type, content encoding, size, and the bytes left unread.

Every refusal is a ``BodyRefused`` carrying the HTTP answer and what is kept of the body
for the failed-events location. The body of a refused request is still read (and
discarded past what is kept), up to a bound: a server that answers and closes while
the client is still sending makes the client's TCP stack see a reset instead of the
answer. Past the bound the answer asks to close the connection.

Mobile SDKs send ``Content-Encoding: gzip``: such a body is inflated here with the same
size limit on what it inflates to, so a small bomb stops at the limit.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from starlette.requests import ClientDisconnect
from starlette.types import Message, Receive

ACCEPTED_CONTENT_TYPES: Final = ("application/json", "text/plain")  # text/plain: navigator.sendBeacon
ACCEPTED_ENCODINGS: Final = ("identity", "gzip", "x-gzip")
# How much of a refused body is read and thrown away before the connection is closed instead
# (16 MiB, or twice the body limit): reading is cheap, a reset answer is lost to the client.
DRAIN_MIN_BYTES: Final = 16 * 1024 * 1024
_GZIP_WINDOW: Final = 16 + zlib.MAX_WBITS


class BodyRefused(Exception):
    def __init__(self, status: int, code: str, message: str, kept: bytes, size: int, close: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.kept = kept  # what the failed event keeps of the body
        self.size = size  # of the whole body, as far as it is known
        self.close = close  # the body was not read to its end: the connection cannot be reused


@dataclass(frozen=True)
class BodyLimits:
    max_bytes: int  # of the body as the application sees it (inflated)
    kept_bytes: int  # of a refused body, for the failed event

    @property
    def drain_bytes(self) -> int:
        return max(DRAIN_MIN_BYTES, 2 * self.max_bytes)


@dataclass
class _Received:
    kept: bytes
    size: int
    complete: bool


def request_headers(raw: list[tuple[bytes, bytes]]) -> dict[bytes, bytes]:
    """An ASGI scope's headers by (lowercase) name; the first of repeated ones, as Starlette's Headers.get.
    One pass over the list, where each Headers.get scans it again (measurable at every request)."""
    return dict(reversed(raw))


async def read_body(receive: Receive, headers: Mapping[bytes, bytes], limits: BodyLimits) -> bytes:
    """The request's body, inflated; BodyRefused when it cannot be an EPAS body.
    `headers` are the request's, as request_headers gives them."""
    content_type = headers.get(b"content-type", b"").decode("latin-1").split(";", 1)[0].strip().lower()
    encoding = headers.get(b"content-encoding", b"identity").decode("latin-1").strip().lower() or "identity"
    length = headers.get(b"content-length", b"")
    declared = int(length) if length.isdigit() else 0
    if content_type not in ACCEPTED_CONTENT_TYPES:
        refusal = (
            "unsupported_media_type",
            f"send events as {' or '.join(ACCEPTED_CONTENT_TYPES)}, not {content_type or 'no content type'}",
        )
        raise _refused(await _receive(receive, declared, limits.kept_bytes, limits), 415, *refusal, limits)
    if encoding not in ACCEPTED_ENCODINGS:
        refusal = "unsupported_encoding", f"send the body plain or with Content-Encoding gzip, not {encoding}"
        raise _refused(await _receive(receive, declared, limits.kept_bytes, limits), 415, *refusal, limits)
    message = await receive()
    body = message.get("body", b"")
    if message["type"] == "http.request" and not message.get("more_body", False) and len(body) <= limits.max_bytes:
        # The whole body in one message, within the limit: what almost every request is.
        return body if encoding == "identity" else gunzip(body, limits)
    received = await _receive(receive, declared, limits.max_bytes, limits, first=message)
    if received.size > limits.max_bytes:
        raise _refused(received, 413, "body_too_large", f"the body exceeds {limits.max_bytes} bytes", limits)
    if encoding == "identity":
        return received.kept
    return gunzip(received.kept, limits)


def _refused(received: _Received, status: int, code: str, message: str, limits: BodyLimits) -> BodyRefused:
    kept = received.kept[: limits.kept_bytes]
    return BodyRefused(status, code, message, kept, received.size, close=not received.complete)


async def _receive(
    receive: Receive, declared: int, keep: int, limits: BodyLimits, first: Message | None = None
) -> _Received:
    """Reads the body (from `first`, when its first message was received already), keeping its
    first `keep` bytes; stops after `limits.drain_bytes`, or once it kept what it keeps when the
    `declared` length is past that already."""
    stop_after = keep + 1 if declared > limits.drain_bytes else limits.drain_bytes
    chunks: list[bytes] = []
    kept = size = 0
    more = True
    while more:
        # The ASGI messages themselves rather than Request.stream(): the same reading
        # without an async generator per request.
        message, first = first or await receive(), None
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        more = message.get("more_body", False)
        size += len(chunk)
        if kept < keep + 1:  # one byte more than kept tells "larger than the limit"
            part = chunk[: keep + 1 - kept]
            chunks.append(part)
            kept += len(part)
        if size > stop_after:
            return _Received(b"".join(chunks), max(size, declared), complete=False)
    return _Received(b"".join(chunks), size, complete=True)


def gunzip(data: bytes, limits: BodyLimits) -> bytes:
    """Inflates one or more gzip members, refusing past the size limit or on a bad stream."""
    inflated = bytearray()
    rest = data
    while True:
        inflater = zlib.decompressobj(_GZIP_WINDOW)
        try:
            inflated += inflater.decompress(rest, limits.max_bytes + 1 - len(inflated))
        except zlib.error as error:
            raise BodyRefused(
                400, "invalid_encoding", f"the body is not valid gzip: {error}", data, len(data)
            ) from None
        if len(inflated) > limits.max_bytes:
            raise BodyRefused(
                413, "body_too_large", f"the body inflates past {limits.max_bytes} bytes", data, len(data)
            )
        if not inflater.eof:
            raise BodyRefused(400, "invalid_encoding", "the gzip body ends before its stream does", data, len(data))
        rest = inflater.unused_data
        if not rest:
            return bytes(inflated)
