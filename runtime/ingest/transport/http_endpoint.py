"""Keep-alive HTTP/1.1 POSTs to one endpoint, on the event loop: the transport of the sink's PutRecords.

The sink used to call botocore from a thread, whose urllib3 and thread hand-offs contend
with the event loop for the GIL and cost many times the CPU of this transport per call
(docs/performance.md, "Ingest service"): here a request is one ``transport.write`` and
the answer is parsed by httptools (llhttp, the parser uvicorn already runs the service
on), so chunked and keep-alive answers are handled by a real HTTP parser. TLS is
asyncio's, verified against botocore's CA bundle.

Errors: a connection that cannot be made, closes before answering or sends what is not
HTTP raises ``EndpointError``; no answer within the read timeout raises ``TimeoutError``.
The caller retries; nothing here does, since a POST that may have been handled is
not ours to repeat.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from typing import cast
from urllib.parse import urlsplit

import httptools

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Idle connections kept for the next calls; more are opened when more calls run at once.
MAX_IDLE_CONNECTIONS = 16


class EndpointError(ConnectionError):
    """No HTTP answer came: the connection failed, closed, or spoke something else."""


def host_header(url: str) -> str:
    """The Host header for `url`: lowercase, with the port only when it is not the scheme's default."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


class _Connection(asyncio.Protocol):
    """One connection; one request at a time on it."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._parser = httptools.HttpResponseParser(self)
        self._answer: asyncio.Future[tuple[int, bytes, bool]] | None = None
        self._status = 0
        self._body: list[bytes] = []

    # -- asyncio ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio's classes

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(EndpointError(f"the endpoint's answer is not HTTP: {error}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        reason = f": {exc}" if exc else ""
        self._fail(EndpointError(f"the endpoint closed the connection before answering{reason}"))

    # -- httptools -------------------------------------------------------------

    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        answer, self._answer = self._answer, None
        body, self._body = b"".join(self._body), []
        if answer is not None and not answer.done():
            answer.set_result((self._status, body, self._parser.should_keep_alive()))
        elif answer is None:  # an answer nobody asked for: the connection is out of step
            self.close()

    # -- use -------------------------------------------------------------------

    def send(self, request: bytes) -> asyncio.Future[tuple[int, bytes, bool]]:
        """Writes one request; the future is (status, body, whether the connection can be reused)."""
        assert self.transport is not None and self._answer is None
        self._answer = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self._answer

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, error: EndpointError) -> None:
        answer, self._answer = self._answer, None
        if answer is not None and not answer.done():
            answer.set_exception(error)
        self.close()


class HttpEndpoint:
    """POSTs to one http(s) URL over reused connections, one call per connection at a time."""

    def __init__(self, url: str, *, connect_timeout: float, read_timeout: float, ca_bundle: str | None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ValueError(f"not an http or https URL: {url!r}")
        self.url = url
        self._host = parts.hostname
        self._port = parts.port or _DEFAULT_PORTS[parts.scheme]
        self._ssl = ssl.create_default_context(cafile=ca_bundle) if parts.scheme == "https" else None
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._idle: deque[_Connection] = deque()

    async def post(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        """(status, body) of the answer; `headers` go as they are, with Content-Length added."""
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = f"POST {path} HTTP/1.1\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode("latin-1") + body
        connection = await self._connection()
        try:
            async with asyncio.timeout(self._read_timeout):
                status, answer, keep_alive = await connection.send(request)
        except BaseException:
            connection.close()
            raise
        if keep_alive and not connection.closed and len(self._idle) < MAX_IDLE_CONNECTIONS:
            self._idle.append(connection)
        else:
            connection.close()
        return status, answer

    async def _connection(self) -> _Connection:
        while self._idle:
            connection = self._idle.pop()  # the most recently used: the least likely to have timed out
            if not connection.closed:
                return connection
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._connect_timeout):
                _, connection = await loop.create_connection(
                    _Connection, self._host, self._port, ssl=self._ssl,
                    server_hostname=self._host if self._ssl else None,
                )  # fmt: skip
        except OSError as error:
            raise EndpointError(f"could not connect to {self.url}: {error}") from error
        return connection

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()
