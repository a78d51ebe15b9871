"""The PyFlink sessionizer of a local run: the stack's job, with local timing and checkpoints."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from runtime.local.options import ROOT
from runtime.local.resources import RegionResources
from runtime.names import STREAM_KINDS
from runtime.sessionizer.config import SessionizerConfig, base_config

FLINK_PYTHON = ROOT / ".venv-sessionizer" / "bin" / "python"


def local_job(config: SessionizerConfig, kinesis_endpoint: str, checkpoint_dir: Path) -> SessionizerConfig:
    """A job on this machine: its streams from their start at the local stand-in, local timing
    (seconds-long sessions need a watermark and timeouts on that scale), and checkpoints
    retained in a directory of the run, so a restarted job resumes from the newest."""
    return dataclasses.replace(
        config,
        kinesis_endpoint=kinesis_endpoint,
        initial_position="TRIM_HORIZON",
        parallelism=1,
        heartbeat_interval_ms=1_000,
        out_of_orderness_ms=1_000,
        idle_advance_after_ms=1_000,
        allowed_lateness_ms=2_000,
        # Locally the job shares two cores with everything else: with two regions beside a
        # test run, events were read 13 s after they arrived (p95). Within 30 s of the newest
        # arrival the reader counts as live, not as working through a backlog.
        caught_up_lag_ms=30_000,
        inactivity_gap_ms=4_000,
        update_interval_ms=2_000,
        checkpoint_interval_ms=10_000,
        checkpoint_dir=str(checkpoint_dir),
    )


def local_sessionizer(
    environment: str, resources: RegionResources, kinesis_endpoint: str, checkpoint_dir: Path
) -> SessionizerConfig:
    """The job's config for a local run of a region: the stack's streams, run as local_job."""
    streams = (resources.streams[kind] for kind in STREAM_KINDS)
    return local_job(base_config(environment, resources.region.name, *streams), kinesis_endpoint, checkpoint_dir)
