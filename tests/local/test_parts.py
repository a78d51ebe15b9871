"""A process as a part: it starts, says whether it serves, is killed and restarted, and says what went wrong."""

from __future__ import annotations

import sys
from pathlib import Path

from runtime.local.processes import ProcessPart, answering, free_port


def http_server(tmp_path: Path, port: int) -> ProcessPart:
    command = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)]
    return ProcessPart("web", command, {}, tmp_path, tmp_path / "logs", answering(f"http://127.0.0.1:{port}/", 200))


def test_a_killed_part_is_down_without_a_problem_and_a_restart_serves_again_with_a_log_of_its_own(
    tmp_path: Path,
) -> None:
    part = http_server(tmp_path, free_port()).start()
    try:
        assert part.healthy()
        first = part.pid
        part.kill()
        assert not part.healthy()
        assert part.problems() == [], "a kill asked for is not a problem"
        part.restart()
        part.wait_ready()
        assert part.healthy() and part.pid != first
        assert sorted(path.name for path in (tmp_path / "logs").iterdir()) == ["web-restart-1.log", "web.log"]
    finally:
        part.stop()
    assert not part.healthy() and part.problems() == []


def test_an_exit_nobody_asked_for_and_the_logs_error_lines_are_problems(tmp_path: Path) -> None:
    script = "import sys, time; print('starting'); print('ERROR: the disk is full', flush=True); sys.exit(3)"
    part = ProcessPart("crashing", [sys.executable, "-c", script], {}, tmp_path, tmp_path, lambda: False,
                       log_problem=lambda line: line.startswith("ERROR"))  # fmt: skip
    part.launch()
    assert part.current is not None
    part.current.process.wait(30)
    problems = part.problems()
    assert problems[0] == "crashing: ERROR: the disk is full"
    assert problems[1].startswith("crashing exited with 3: starting")
    assert not part.healthy()
