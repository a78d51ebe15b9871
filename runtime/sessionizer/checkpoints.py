"""Retained checkpoints of a job run outside Managed Flink, and where a restarted job resumes.

Managed Flink keeps the application's snapshots itself and restores the newest one on
restart. A job run locally has only its checkpoint directory: checkpoints are retained
there (also when the job is cancelled or killed), and a job started with the same
directory resumes from the newest completed one: the Kinesis consumer's shard positions
and every session's state come back, so nothing read before the checkpoint is lost and
nothing after it is skipped.

Flink writes ``<dir>/<job id>/chk-<n>/_metadata``; a checkpoint without ``_metadata`` was
not completed and is never resumed from.
"""

from __future__ import annotations

from pathlib import Path

METADATA = "_metadata"
RETAINED = 3  # completed checkpoints kept: the newest may be cut short by a kill, the one before not


def newest_checkpoint(directory: Path) -> Path | None:
    """The newest completed checkpoint under the directory, by its completion time (any job id)."""
    completed = [metadata.parent for metadata in directory.glob(f"*/chk-*/{METADATA}") if metadata.is_file()]
    return max(completed, key=lambda checkpoint: (checkpoint / METADATA).stat().st_mtime_ns, default=None)


def checkpoint_options(directory: Path) -> dict[str, str]:
    """Flink options that retain checkpoints in the directory and resume from its newest one."""
    options = {
        "state.checkpoints.dir": directory.resolve().as_uri(),
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "state.checkpoints.num-retained": str(RETAINED),
    }
    newest = newest_checkpoint(directory)
    if newest is not None:
        options["execution.savepoint.path"] = newest.resolve().as_uri()
    return options
