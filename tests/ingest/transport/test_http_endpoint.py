"""HttpEndpoint: keep-alive POSTs on the event loop, and every way an answer can fail to come."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from runtime.ingest.transport.http_endpoint import EndpointError, HttpEndpoint

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
Answer = Callable[[bytes], Awaitable[bytes | None]]  # a request's bytes -> what to write back (None: close)


@dataclass
class Server:
    """A loopback server that reads one request at a time and answers as the test says."""

    answer: Answer
    close_after_answer: bool = False  # close each connection once it answered (an idle connection closed)
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))  # fmt: skip
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                reply = await self.answer(request)
                if reply is None:
                    break
                writer.write(reply)
                await writer.drain()
                if self.close_after_answer:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


def run(answer: Answer, scenario: Callable[[HttpEndpoint, Server], Awaitable[None]], read_timeout: float = 2) -> None:
    async def main() -> None:
        server = Server(answer)
        listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        port = listening.sockets[0].getsockname()[1]
        endpoint = HttpEndpoint(f"http://127.0.0.1:{port}", connect_timeout=1, read_timeout=read_timeout,
                                ca_bundle=None)  # fmt: skip
        try:
            await scenario(endpoint, server)
        finally:
            endpoint.close()
            listening.close()

    asyncio.run(main())


async def ok(_: bytes) -> bytes:
    return OK


def test_calls_reuse_one_connection_and_send_the_headers_and_body_given() -> None:
    async def scenario(endpoint: HttpEndpoint, server: Server) -> None:
        for n in range(3):
            assert await endpoint.post("/", {"Host": "kinesis", "X-Amz-Target": "T"}, b"body-%d" % n) == (200, b"{}")
        assert server.connections == 1
        assert server.requests[2].startswith(b"POST / HTTP/1.1\r\nHost: kinesis\r\nX-Amz-Target: T\r\n")
        assert server.requests[2].endswith(b"Content-Length: 6\r\n\r\nbody-2")

    run(ok, scenario)


def test_concurrent_calls_each_get_their_own_answer() -> None:
    async def echo(request: bytes) -> bytes:
        body = request.split(b"\r\n\r\n", 1)[1]
        await asyncio.sleep(0.01 * (int(body) % 3))
        return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)

    async def scenario(endpoint: HttpEndpoint, server: Server) -> None:
        answers = await asyncio.gather(*(endpoint.post("/", {}, b"%d" % n) for n in range(12)))
        assert answers == [(200, b"%d" % n) for n in range(12)]

    run(echo, scenario)


CHUNKED_ERROR = b'HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"a"\r\n3\r\n:1}\r\n0\r\n\r\n'
CLOSING = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"


@pytest.mark.parametrize(
    ("replies", "answers", "connections"),
    [
        pytest.param([CHUNKED_ERROR, OK], [(400, b'{"a":1}'), (200, b"{}")], 1, id="chunked-error-read-whole"),
        pytest.param([CLOSING, CLOSING], [(200, b"{}"), (200, b"{}")], 2, id="connection-close-not-reused"),
    ],
)
def test_two_calls_read_each_answer_whole_and_reuse_only_a_kept_alive_connection(
    replies: list[bytes], answers: list[tuple[int, bytes]], connections: int
) -> None:
    async def answer(_: bytes) -> bytes:
        return replies.pop(0)

    async def scenario(endpoint: HttpEndpoint, server: Server) -> None:
        assert [await endpoint.post("/", {}, body) for body in (b"x", b"y")] == answers
        assert server.connections == connections

    run(answer, scenario)


def test_an_idle_connection_the_server_closed_is_replaced() -> None:
    async def scenario(endpoint: HttpEndpoint, server: Server) -> None:
        server.close_after_answer = True
        assert await endpoint.post("/", {}, b"x") == (200, b"{}")
        await asyncio.sleep(0.05)  # the server's close reaches the idle connection
        server.close_after_answer = False
        assert await endpoint.post("/", {}, b"y") == (200, b"{}")
        assert await endpoint.post("/", {}, b"z") == (200, b"{}")
        assert server.connections == 2

    run(ok, scenario)


@pytest.mark.parametrize(
    ("reply", "message"),
    [(None, "closed the connection before answering"), (b"SSH-2.0-OpenSSH\r\n\r\n", "is not HTTP")],
)
def test_no_http_answer_is_an_endpoint_error(reply: bytes | None, message: str) -> None:
    async def answer(_: bytes) -> bytes | None:
        return reply

    async def scenario(endpoint: HttpEndpoint, server: Server) -> None:
        with pytest.raises(EndpointError, match=message):
            await endpoint.post("/", {}, b"x")
        server.answer = ok
        assert await endpoint.post("/", {}, b"y") == (200, b"{}")

    run(answer, scenario)


def test_no_answer_within_the_read_timeout_raises_and_drops_the_connection() -> None:
    async def slow(_: bytes) -> bytes:
        await asyncio.sleep(1)
        return OK

    async def scenario(endpoint: HttpEndpoint, server: Server) -> None:
        with pytest.raises(TimeoutError):
            await endpoint.post("/", {}, b"x")
        server.answer = ok
        assert await endpoint.post("/", {}, b"y") == (200, b"{}")
        assert server.connections == 2, "the late answer must not be taken for the next call's"

    run(slow, scenario, read_timeout=0.2)


def test_a_refused_connection_is_an_endpoint_error() -> None:
    async def main() -> None:
        endpoint = HttpEndpoint("http://127.0.0.1:9", connect_timeout=1, read_timeout=1, ca_bundle=None)
        with pytest.raises(EndpointError, match="could not connect"):
            await endpoint.post("/", {}, b"x")

    asyncio.run(main())


def test_only_http_urls_are_taken() -> None:
    with pytest.raises(ValueError, match="not an http or https URL"):
        HttpEndpoint("ftp://example.com", connect_timeout=1, read_timeout=1, ca_bundle=None)
