"""One log schema across the pipeline's runtimes: a line of each parses to the same keys and formats.

Powertools' Logger writes the Lambdas' lines (session writer, replayer, InfluxDB provisioner);
the ingest service's own formatter writes the same keys, so one Logs Insights query reads all.
"""

from __future__ import annotations

import importlib
import io
import json
import logging
import re
from collections.abc import Callable
from typing import Any

import pytest

from runtime.ingest import logs as ingest_logs

SCHEMA = ("level", "location", "message", "timestamp", "service")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}[+-]\d{4}$")
LOCATION = re.compile(r"^\w+:\d+$")


def _ingest() -> tuple[logging.Logger, logging.StreamHandler[Any]]:
    ingest_logs.configure(service="ingest", region="us-east-1")
    root = logging.getLogger()
    return logging.getLogger("prism.ingest"), root.handlers[0]  # type: ignore[return-value]


def _powertools(module: str) -> Callable[[], tuple[Any, logging.StreamHandler[Any]]]:
    def logger() -> tuple[Any, logging.StreamHandler[Any]]:
        powertools: Any = importlib.import_module(module).logger
        return powertools, powertools.registered_handler

    return logger


RUNTIMES = {
    "ingest": _ingest,
    "session-writer": _powertools("runtime.session_writer.handler"),
    "replayer": _powertools("runtime.replay.handler"),
    "influxdb-provisioner": _powertools("runtime.session_writer.provision"),
}


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Any:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


@pytest.mark.parametrize("service", sorted(RUNTIMES))
def test_a_line_of_each_runtime_has_the_one_schema(service: str) -> None:
    logger, handler = RUNTIMES[service]()
    written = io.StringIO()
    earlier = handler.setStream(written)  # the runtime's own handler and formatter, into a buffer
    try:
        logger.warning("put_records_failed", extra={"error": "Throttled", "records": 3})
    finally:
        handler.setStream(earlier)
    document = json.loads(written.getvalue().splitlines()[-1])
    assert list(document)[:4] == ["level", "location", "message", "timestamp"], document
    assert set(SCHEMA) <= set(document)
    assert (document["level"], document["message"], document["service"]) == ("WARNING", "put_records_failed", service)
    assert TIMESTAMP.match(document["timestamp"]) and LOCATION.match(document["location"]), document
    assert (document["error"], document["records"]) == ("Throttled", 3), "the event's own fields, beside the schema"
