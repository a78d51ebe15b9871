"""Entry point: ``python -m runtime.ingest`` runs the service under uvicorn.

Settings come from the environment (settings.py); a bad value stops the start with
the variable named, and so does a proxy variable the Kinesis client cannot honour. On
SIGTERM uvicorn stops accepting, answers in-flight requests (they wait for Kinesis),
then the app sends what is queued within the drain time.
"""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette

from runtime.ingest import logs
from runtime.ingest.app import create_app
from runtime.ingest.clients import firehose_client, kinesis_client
from runtime.ingest.settings import SettingsError, load_settings
from runtime.ingest.transport.direct import ProxyNotSupported


def app_from_environment() -> Starlette:
    """uvicorn factory: one app (and one set of clients) per worker process."""
    settings = load_settings()
    logs.configure(service="ingest", region=settings.region)
    return create_app(settings, kinesis_client(settings), firehose_client(settings))


def main() -> int:
    try:
        settings = load_settings()
        kinesis_client(settings)  # a proxy it cannot use stops the start here, in one line
    except (SettingsError, ProxyNotSupported) as error:
        print(f"ingest: {error}", file=sys.stderr)
        return 2
    uvicorn.run(
        "runtime.ingest.server:app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        timeout_graceful_shutdown=int(settings.shutdown_drain_seconds) or None,
        access_log=False,
        server_header=False,
        log_config=None,
    )
    return 0
