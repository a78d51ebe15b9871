"""What the in-process session writer prints goes to its own log, not between the status lines."""

from __future__ import annotations

import io
import logging
import sys
import threading
from pathlib import Path

from runtime.local.function_logs import FunctionLogs


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_thread_logging_to_a_file_prints_there_and_the_others_print_to_the_terminal(tmp_path: Path) -> None:
    terminal = Terminal()
    logs = FunctionLogs(terminal)
    log = tmp_path / "session-writer-use1.log"
    logs.install()
    try:

        def function() -> None:
            with logs.logging_to(log):
                print('{"_aws": {"CloudWatchMetrics": []}}')
            print("after the invocation")

        thread = threading.Thread(target=function)
        thread.start()
        thread.join()
        print("status line")
        assert sys.stdout.isatty()
    finally:
        logs.uninstall()
    assert sys.stdout is not logs
    assert log.read_text() == '{"_aws": {"CloudWatchMetrics": []}}\n'
    assert terminal.getvalue() == "after the invocation\nstatus line\n"


def test_a_loggers_stream_follows_while_installed_and_comes_back(tmp_path: Path) -> None:
    terminal = Terminal()
    original = io.StringIO()
    handler = logging.StreamHandler(original)
    logger = logging.getLogger("test-function-logs")
    logger.addHandler(handler)
    logger.propagate = False
    logs = FunctionLogs(terminal)
    logs.install(handler)
    try:
        with logs.logging_to(tmp_path / "writer.log"):
            logger.warning("session record not written")
        logger.warning("outside an invocation")
    finally:
        logs.uninstall()
        logger.removeHandler(handler)
    assert (tmp_path / "writer.log").read_text() == "session record not written\n"
    assert terminal.getvalue() == "outside an invocation\n"
    assert handler.stream is original


def test_the_session_writers_metric_flush_lands_in_its_log(tmp_path: Path) -> None:
    """Powertools prints a metric set once a metric holds 100 values: in a long local run, between status lines."""
    from aws_lambda_powertools.metrics import MetricUnit

    from runtime.session_writer.handler import logger, metrics

    terminal = Terminal()
    logs = FunctionLogs(terminal)
    log = tmp_path / "session-writer-use1.log"
    logs.install(logger.logger_handler)
    try:
        with logs.logging_to(log):
            for _ in range(100):
                metrics.add_metric(name="KinesisRecordsIn", unit=MetricUnit.Count, value=1)
    finally:
        logs.uninstall()
        metrics.clear_metrics()
    assert '"KinesisRecordsIn"' in log.read_text()
    assert terminal.getvalue() == ""
