"""The ingest app served by uvicorn on a loopback port, in a thread: real sockets and HTTP parsing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from runtime.ingest.app import create_app
from runtime.ingest.settings import IngestSettings
from runtime.local.processes import free_port
from tests.ingest.fakes import FakeKinesis


@contextmanager
def serving(settings: IngestSettings, kinesis: FakeKinesis) -> Iterator[tuple[str, int]]:
    """(host, port) of the running service until the block ends."""
    port = free_port()
    config = uvicorn.Config(create_app(settings, kinesis), host="127.0.0.1", port=port, log_config=None,
                            access_log=False, lifespan="on")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="ingest-under-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the ingest service did not start")
        time.sleep(0.02)
    try:
        yield "127.0.0.1", port
    finally:
        server.should_exit = True
        thread.join(30)
