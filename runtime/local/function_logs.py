"""What a function the local run calls in-process prints, in a log file of its own.

On AWS a Lambda function's standard output (its JSON log lines, its EMF metric objects)
goes to its log group. Locally the session writer's handler runs in a thread of the run's
own process, so what it printed landed in the terminal between the status lines.
FunctionLogs stands in for sys.stdout during a run: a thread inside ``logging_to(path)``
writes to that file, every other thread to the terminal as before.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


class FunctionLogs(io.TextIOBase):
    def __init__(self, terminal: TextIO) -> None:
        self.terminal = terminal
        self._current = threading.local()
        self._files: dict[Path, TextIO] = {}
        self._lock = threading.Lock()
        self._streams: list[tuple[logging.StreamHandler[TextIO], TextIO]] = []

    def _target(self) -> TextIO:
        return getattr(self._current, "file", None) or self.terminal

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def isatty(self) -> bool:
        return self.terminal.isatty()

    def fileno(self) -> int:
        return self.terminal.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.terminal.encoding

    @contextmanager
    def logging_to(self, path: Path) -> Iterator[None]:
        """What this thread prints meanwhile is appended to ``path``."""
        with self._lock:
            if path not in self._files:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._files[path] = path.open("a", encoding="utf-8", buffering=1)  # a line at a time, for tail -f
        previous = getattr(self._current, "file", None)
        self._current.file = self._files[path]
        try:
            yield
        finally:
            self._current.file = previous

    def install(self, *handlers: logging.Handler) -> None:
        """Stand in for sys.stdout, and for the stream of each handler that was bound to it at import."""
        sys.stdout = self
        for handler in handlers:
            if isinstance(handler, logging.StreamHandler):
                self._streams.append((handler, handler.stream))
                handler.setStream(self)

    def uninstall(self) -> None:
        if sys.stdout is self:
            sys.stdout = self.terminal
        for handler, stream in self._streams:
            handler.setStream(stream)
        self._streams.clear()
        with self._lock:
            for file in self._files.values():
                file.close()
            self._files.clear()
