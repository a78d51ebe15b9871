"""An HTTP proxy in front of kinesis-mock that can make it throttle or go down: fault tests and `--chaos` runs."""

from __future__ import annotations

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

THROTTLED = "ProvisionedThroughputExceededException"


class FaultProxy:
    """mode: "pass" forwards; "throttle" refuses every PutRecords record; "down" drops connections;
    "hold" keeps PutRecords calls waiting until release(). A part of a run: it starts, says whether
    it serves, stops, and restarts on the same address."""

    name = "kinesis-fault-proxy"

    def __init__(self, upstream: str) -> None:
        self.mode = "pass"
        self._released = threading.Event()
        self.upstream = urlparse(upstream)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                mode = proxy.mode
                target = self.headers.get("X-Amz-Target", "")
                if mode == "down":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if mode == "hold" and target.endswith(".PutRecords"):
                    proxy._released.wait(60)
                if mode == "throttle" and target.endswith(".PutRecords"):
                    count = len(json.loads(body)["Records"])
                    answer = {
                        "FailedRecordCount": count,
                        "Records": [{"ErrorCode": THROTTLED, "ErrorMessage": "Rate exceeded"}] * count,
                    }
                    self._answer(200, json.dumps(answer).encode(), "application/x-amz-json-1.1")
                    return
                upstream = http.client.HTTPConnection(proxy.upstream.netloc, timeout=10)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                upstream.request("POST", self.path, body=body, headers=headers)
                response = upstream.getresponse()
                self._answer(response.status, response.read(), response.getheader("Content-Type", ""))
                upstream.close()

            def _answer(self, status: int, payload: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._handler = Handler
        self._bind(0)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"

    def _bind(self, port: int) -> None:
        """A server on the loopback port (0: a free one) and the thread that will serve it."""
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def release(self) -> None:
        """Lets held calls through, and later ones pass."""
        self.mode = "pass"
        self._released.set()

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def healthy(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        if self._thread.is_alive():
            self.server.shutdown()
        self.server.server_close()

    def kill(self) -> None:
        self.stop()

    def restart(self) -> None:
        """Serves again on the same address (the ingest service keeps its endpoint)."""
        self.stop()
        self._bind(self.server.server_address[1])
        self._thread.start()

    def problems(self) -> list[str]:
        return []

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
