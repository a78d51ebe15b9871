"""JSON logs: one object per line, with the event name and the numbers, not prose.

The keys and their formats are the ones Powertools' Logger writes in the Lambdas (the
session writer, the replayer, the InfluxDB provisioner): ``level`` (INFO, ERROR),
``location`` (function:line), ``message``, ``timestamp`` (``2026-12-04 21:27:48,896+0000``,
UTC) and ``service``, then the event's own fields. So one CloudWatch Logs Insights query
reads every runtime of the pipeline (docs/operations.md); tests/test_log_schema.py holds a
line of each to the same keys.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

# Attributes every LogRecord has; anything else came from `extra=` and is logged as a field.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message", "asctime", "taskName", "color_message",  # uvicorn's terminal copy of the message
}  # fmt: skip


class JsonFormatter(logging.Formatter):
    def __init__(self, static: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.static = static or {}

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "level": record.levelname,
            "location": f"{record.funcName}:{record.lineno}",
            "message": record.getMessage(),
            "timestamp": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(record.created))
            + f",{int(record.msecs):03d}+0000",
            **self.static,
            "logger": record.name,
        }
        document.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str, separators=(",", ":"))


def configure(level: str = "INFO", **static: Any) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(static))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
