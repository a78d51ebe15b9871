"""The PyFlink sessionizer of a local run: the stack's job, with local timing and checkpoints."""

from __future__ import annotations

import dataclasses
import json
import urllib.request
from pathlib import Path

from runtime.local.options import ROOT
from runtime.local.processes import ProcessPart
from runtime.local.resources import RegionResources
from runtime.names import STREAM_KINDS
from runtime.sessionizer.config import JAR_VARIABLE, SessionizerConfig, base_config, environment
from runtime.sessionizer.package import CONNECTOR_JAR

FLINK_PYTHON = ROOT / ".venv-sessionizer" / "bin" / "python"
# The mini-cluster's start: a JVM, the job graph, then a Python worker per operator, on two busy cores.
JOB_START_SECONDS = 300.0


LOCAL_OUT_OF_ORDERNESS_MS = 1_000
LOCAL_ALLOWED_LATENESS_MS = 2_000
# How far the job's reading of one shard may trail another's: its one reader fetches every shard
# each round (200 ms apart), so a newer event on one shard is read within a round or two of it.
READING_MARGIN_MS = 2_000


def late_after_ms(allowed_lateness_ms: int) -> int:
    """For the ground truth: an event is surely too late once its region has acknowledged an event
    this much newer (the watermark is then past it by the lateness, whatever order shards are read in)."""
    return LOCAL_OUT_OF_ORDERNESS_MS + allowed_lateness_ms + READING_MARGIN_MS


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
        out_of_orderness_ms=LOCAL_OUT_OF_ORDERNESS_MS,
        idle_advance_after_ms=1_000,
        allowed_lateness_ms=LOCAL_ALLOWED_LATENESS_MS,
        # Locally the job shares two cores with everything else: with two regions beside a
        # test run, events were read 13 s after they arrived (p95). Within 30 s of the newest
        # arrival the reader counts as live, not as working through a backlog.
        caught_up_lag_ms=30_000,
        inactivity_gap_ms=4_000,
        update_interval_ms=2_000,
        checkpoint_interval_ms=10_000,
        # Freshness (make run, 120 s, 20 viewers): with the sink's and PyFlink's defaults (5 s
        # in the sink's buffer, a bundle per second in each of the two Python operators) a
        # row came 7.1 s (p50) after the event; locally the volume is small, so both are short.
        sink_max_buffer_ms=200,
        bundle_time_ms=100,
        checkpoint_dir=str(checkpoint_dir),
    )


def local_sessionizer(
    environment: str, resources: RegionResources, kinesis_endpoint: str, checkpoint_dir: Path
) -> SessionizerConfig:
    """The job's config for a local run of a region: the stack's streams, run as local_job."""
    streams = (resources.streams[kind] for kind in STREAM_KINDS)
    return local_job(base_config(environment, resources.region.name, *streams), kinesis_endpoint, checkpoint_dir)


def job_running(rest_port: int) -> bool:
    """Whether the local job runs with all its tasks (their Python workers started), by the mini-cluster's
    REST API: traffic sent before then waits for the job, and would be measured as the pipeline's delay."""
    with urllib.request.urlopen(f"http://127.0.0.1:{rest_port}/jobs/overview", timeout=2) as response:
        jobs = json.loads(response.read())["jobs"]
    return any(job["state"] == "RUNNING" and job["tasks"]["running"] == job["tasks"]["total"] for job in jobs)


def failure_line(line: str) -> bool:
    """A line of the job's log that starts a Python or Java failure."""
    return line.startswith(("Traceback", "py4j.protocol.Py4JJavaError"))


def sessionizer_part(name: str, job: SessionizerConfig, log_dir: Path) -> ProcessPart:
    """The region's job as a part: healthy once it runs with all its tasks; with the run's checkpoint
    directory a restart resumes from the newest checkpoint."""
    assert job.rest_port is not None, "a local job has a REST port of its own"
    rest_port = job.rest_port
    variables = {**environment(job), JAR_VARIABLE: str(CONNECTOR_JAR)}
    return ProcessPart(name, [str(FLINK_PYTHON), "-m", "runtime.sessionizer.job"], variables, ROOT, log_dir,
                       lambda: job_running(rest_port), JOB_START_SECONDS, failure_line)  # fmt: skip
