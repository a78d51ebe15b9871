"""Which retained checkpoint a restarted local job resumes from, and the options that retain them."""

from __future__ import annotations

import os
from pathlib import Path

from runtime.sessionizer.checkpoints import RETAINED, checkpoint_options, newest_checkpoint


def checkpoint(root: Path, job: str, number: int, mtime: int, completed: bool = True) -> Path:
    path = root / job / f"chk-{number}"
    path.mkdir(parents=True)
    if completed:
        (path / "_metadata").write_bytes(b"metadata")
        os.utime(path / "_metadata", (mtime, mtime))
    return path


def test_the_newest_completed_checkpoint_of_any_job_is_resumed_from(tmp_path: Path) -> None:
    checkpoint(tmp_path, "job-a", 7, mtime=1_000)
    newest = checkpoint(tmp_path, "job-b", 2, mtime=2_000)  # the job restarted: a new job id, lower numbers
    checkpoint(tmp_path, "job-b", 3, mtime=3_000, completed=False)  # cut short by the kill
    (tmp_path / "job-b" / "shared").mkdir()
    assert newest_checkpoint(tmp_path) == newest


def test_no_checkpoint_yet_means_a_fresh_start(tmp_path: Path) -> None:
    assert newest_checkpoint(tmp_path / "missing") is None
    options = checkpoint_options(tmp_path)
    assert "execution.savepoint.path" not in options
    assert options == {
        "state.checkpoints.dir": tmp_path.resolve().as_uri(),
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "state.checkpoints.num-retained": str(RETAINED),
    }


def test_a_restart_resumes_from_the_newest(tmp_path: Path) -> None:
    newest = checkpoint(tmp_path, "job-a", 4, mtime=5_000)
    assert checkpoint_options(tmp_path)["execution.savepoint.path"] == newest.resolve().as_uri()
