"""The connector jar's parse step (ParsedEvents), called through PyFlink's gateway as plain code."""

from __future__ import annotations

from functools import cache
from typing import Any

from runtime.sessionizer.config import parse_config
from runtime.sessionizer.job import environment
from runtime.sessionizer.package import CONNECTOR_JAR

# ParsedEvents' record: (sessionId, event time, arrival time, shard watermark, raw).
ParsedEvent = tuple[str, int, int, int, str]


@cache
def connector() -> Any:
    """The jar's package, on the gateway's class path."""
    config = {"environment": "dev", "region": "us-east-1", "raw.stream": "-", "session.stream": "-",
              "late.stream": "-"}  # fmt: skip
    environment(parse_config(config), jar=CONNECTOR_JAR)
    from pyflink.java_gateway import get_gateway

    return get_gateway().jvm.prism.sessionizer


class JavaParser:
    """ParsedEvents of one reader: the records it gives, which SessionBatches batches."""

    def __init__(self, out_of_orderness_ms: int) -> None:
        self._java = connector().ParsedEvents(out_of_orderness_ms)

    def map(self, value: str) -> ParsedEvent:
        record = self._java.map(value)
        return (record.getField(0), record.getField(1), record.getField(2), record.getField(3), record.getField(4))
