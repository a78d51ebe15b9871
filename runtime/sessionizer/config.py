"""Sessionizer settings: Managed Flink's application properties, or the same keys locally.

On Managed Service for Apache Flink the properties are the application's property
groups, read from /etc/flink/application_properties.json; the group ``sessionizer``
holds ours. Locally the same keys come from a JSON file of the same shape
(PRISM_SESSIONIZER_PROPERTIES) or from environment variables
(``PRISM_SESSIONIZER_RAW_STREAM`` for ``raw.stream``). Validated at start; a bad
value stops the job naming the key.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.text_settings import InvalidSetting, TextSettings

MANAGED_FLINK_PROPERTIES = Path("/etc/flink/application_properties.json")
PROPERTY_GROUP = "sessionizer"
ENV_PREFIX = "PRISM_SESSIONIZER_"
INITIAL_POSITIONS = ("LATEST", "TRIM_HORIZON")
EXECUTION_MODES = ("process", "thread")


class ConfigError(InvalidSetting):
    label = "sessionizer property "


@dataclass(frozen=True)
class SessionizerConfig:
    environment: str
    region: str
    raw_stream: str
    session_stream: str
    late_stream: str
    aws_endpoint: str | None  # a local stand-in (kinesis-mock); None on AWS
    initial_position: str
    out_of_orderness_ms: int  # watermark = newest event time minus this
    idle_advance_after_ms: int  # no event for this long: the watermark moves on with the clock
    caught_up_lag_ms: int  # ... if the newest arrival was read at most this long after it arrived
    allowed_lateness_ms: int  # how far behind the watermark an event still counts
    heartbeat_interval_ms: int
    inactivity_gap_ms: int  # no event for this long ends a session
    update_interval_ms: int  # an active session emits an update this often
    parallelism: int | None
    execution_mode: str  # PyFlink python.execution-mode
    bundle_size: int  # python.fn-execution.bundle.size: elements per Python bundle (process mode)
    state_cache_size: int  # python.state.cache-size: sessions' state cached in a Python worker
    checkpoint_interval_ms: int


def _from_environment(environ: Mapping[str, str]) -> dict[str, str]:
    return {
        key[len(ENV_PREFIX) :].lower().replace("_", "."): value
        for key, value in environ.items()
        if key.startswith(ENV_PREFIX) and key != f"{ENV_PREFIX}PROPERTIES"
    }


def _group(document: Any) -> dict[str, str]:
    for group in document:
        if group.get("PropertyGroupId") == PROPERTY_GROUP:
            return {str(k): str(v) for k, v in group.get("PropertyMap", {}).items()}
    return {}


def load_config(environ: Mapping[str, str] | None = None, properties_file: Path | None = None) -> SessionizerConfig:
    environ = os.environ if environ is None else environ
    path = properties_file or Path(environ.get(f"{ENV_PREFIX}PROPERTIES", MANAGED_FLINK_PROPERTIES))
    values: dict[str, str] = _group(json.loads(path.read_text())) if path.exists() else {}
    values.update(_from_environment(environ))
    return parse_config(values)


def parse_config(values: Mapping[str, str]) -> SessionizerConfig:
    read = TextSettings(values, ConfigError)
    out_of_orderness = read.integer("watermark.out.of.orderness.ms", 5_000, 0)
    heartbeat = read.integer("heartbeat.interval.ms", 5_000, 1_000)
    # "a small multiple of the heartbeat interval": three missed heartbeats end a session.
    gap = read.integer("inactivity.gap.ms", 3 * heartbeat, heartbeat)
    lateness = read.integer("allowed.lateness.ms", 30_000, 0)
    return SessionizerConfig(
        environment=read.text("environment"),
        region=read.text("region"),
        raw_stream=read.text("raw.stream"),
        session_stream=read.text("session.stream"),
        late_stream=read.text("late.stream"),
        aws_endpoint=read.url("aws.endpoint"),
        initial_position=read.choice("source.initial.position", INITIAL_POSITIONS, "LATEST"),
        out_of_orderness_ms=out_of_orderness,
        idle_advance_after_ms=read.integer("watermark.idle.advance.after.ms", max(1_000, out_of_orderness), 0),
        # A reader further behind than the delay the watermark tolerates anyway is reading a backlog.
        caught_up_lag_ms=read.integer("watermark.caught.up.lag.ms", out_of_orderness + lateness, 0),
        allowed_lateness_ms=lateness,
        heartbeat_interval_ms=heartbeat,
        inactivity_gap_ms=gap,
        update_interval_ms=read.integer("update.interval.ms", 10_000, 100),
        parallelism=read.integer("parallelism", 1, 1) if read.optional("parallelism") else None,
        execution_mode=read.choice("python.execution.mode", EXECUTION_MODES, "process"),
        # Measured (bench/sessionizer.py): in process mode PyFlink's default of 1,000
        # elements per bundle leaves the worker waiting on round trips, 3x slower.
        bundle_size=read.integer("python.bundle.size", 100_000, 1),
        state_cache_size=read.integer("python.state.cache.size", 100_000, 1),
        checkpoint_interval_ms=read.integer("checkpoint.interval.ms", 60_000, 1_000),
    )
