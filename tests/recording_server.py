"""A loopback HTTP server that records each POST and PUT and answers as the test says: a stand-in for an API."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    method: str = "POST"


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Recording:
    url: str  # http://127.0.0.1:<port>, no trailing slash
    requests: list[Request] = field(default_factory=list)


@contextmanager
def recording_server(answer: Callable[[Request], Answer]) -> Iterator[Recording]:
    """Serves until the block ends; every POST and PUT is recorded before it is answered."""
    recording = Recording(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            request = Request(self.path, {k.lower(): v for k, v in self.headers.items()},
                              self.rfile.read(int(self.headers.get("Content-Length", "0"))), self.command)  # fmt: skip
            recording.requests.append(request)
            reply = answer(request)
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        do_PUT = do_POST

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    recording.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield recording
    finally:
        server.shutdown()
        server.server_close()


def answering_in_turn(answers: list[Answer]) -> Callable[[Request], Answer]:
    """Each request gets the next answer; past the end, 200."""
    return lambda _: answers.pop(0) if answers else Answer()
