"""Sessionizer settings: Managed Flink's application properties, or the same keys locally.

On Managed Service for Apache Flink the properties are the application's property
groups, read from /etc/flink/application_properties.json; the group ``sessionizer``
holds ours. Locally the same keys come from a JSON file of the same shape
(PRISM_SESSIONIZER_PROPERTIES) or from environment variables
(``PRISM_SESSIONIZER_RAW_STREAM`` for ``raw.stream``). Validated at start; a bad
value stops the job naming the key.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.sessionizer.session import SessionSettings
from runtime.text_settings import InvalidSetting, TextSettings

MANAGED_FLINK_PROPERTIES = Path("/etc/flink/application_properties.json")
PROPERTY_GROUP = "sessionizer"
ENV_PREFIX = "PRISM_SESSIONIZER_"
PROPERTIES_VARIABLE = f"{ENV_PREFIX}PROPERTIES"  # a local JSON file of the property groups
JAR_VARIABLE = f"{ENV_PREFIX}JAR"  # where a local run finds the connector jar
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
    kinesis_endpoint: str | None  # a local stand-in (kinesis-mock); None on AWS
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
    bundle_time_ms: int  # python.fn-execution.bundle.time: a bundle ends after this long at the latest
    sink_max_buffer_ms: int  # a session or late record waits at most this long in its Kinesis sink's buffer
    checkpoint_interval_ms: int
    # Outside Managed Flink: checkpoints are retained here and a restart resumes from the newest.
    checkpoint_dir: str | None = None
    # Outside Managed Flink: the local mini-cluster's REST API and web UI on this loopback port.
    rest_port: int | None = None


def _from_environment(environ: Mapping[str, str]) -> dict[str, str]:
    return {
        key[len(ENV_PREFIX) :].lower().replace("_", "."): value
        for key, value in environ.items()
        if key.startswith(ENV_PREFIX) and key not in (PROPERTIES_VARIABLE, JAR_VARIABLE)
    }


def _group(document: Any) -> dict[str, str]:
    for group in document:
        if group.get("PropertyGroupId") == PROPERTY_GROUP:
            return {str(k): str(v) for k, v in group.get("PropertyMap", {}).items()}
    return {}


def load_config(environ: Mapping[str, str] | None = None, properties_file: Path | None = None) -> SessionizerConfig:
    environ = os.environ if environ is None else environ
    path = properties_file or Path(environ.get(PROPERTIES_VARIABLE, MANAGED_FLINK_PROPERTIES))
    values: dict[str, str] = _group(json.loads(path.read_text())) if path.exists() else {}
    values.update(_from_environment(environ))
    return parse_config(values)


# Property key of each SessionizerConfig field: the one place a key is spelled.
KEYS: Mapping[str, str] = {
    "environment": "environment",
    "region": "region",
    "raw_stream": "raw.stream",
    "session_stream": "session.stream",
    "late_stream": "late.stream",
    "kinesis_endpoint": "kinesis.endpoint",
    "initial_position": "source.initial.position",
    "out_of_orderness_ms": "watermark.out.of.orderness.ms",
    "idle_advance_after_ms": "watermark.idle.advance.after.ms",
    "caught_up_lag_ms": "watermark.caught.up.lag.ms",
    "allowed_lateness_ms": "allowed.lateness.ms",
    "heartbeat_interval_ms": "heartbeat.interval.ms",
    "inactivity_gap_ms": "inactivity.gap.ms",
    "update_interval_ms": "update.interval.ms",
    "parallelism": "parallelism",
    "execution_mode": "python.execution.mode",
    "bundle_size": "python.bundle.size",
    "state_cache_size": "python.state.cache.size",
    "bundle_time_ms": "python.bundle.time.ms",
    "sink_max_buffer_ms": "sink.max.buffer.ms",
    "checkpoint_interval_ms": "checkpoint.interval.ms",
    "checkpoint_dir": "checkpoint.dir",
    "rest_port": "local.rest.port",
}


DEFAULT_ALLOWED_LATENESS_MS = 30_000


def default_inactivity_gap_ms(heartbeat_interval_ms: int) -> int:
    """ "A small multiple of the heartbeat interval": three missed heartbeats end a session."""
    return 3 * heartbeat_interval_ms


def default_idle_advance_after_ms(out_of_orderness_ms: int) -> int:
    return max(1_000, out_of_orderness_ms)


def default_caught_up_lag_ms(out_of_orderness_ms: int, allowed_lateness_ms: int) -> int:
    """A reader further behind than the delay the watermark tolerates anyway is reading a backlog."""
    return out_of_orderness_ms + allowed_lateness_ms


def parse_config(values: Mapping[str, str]) -> SessionizerConfig:
    read = TextSettings(values, ConfigError)
    out_of_orderness = read.integer(KEYS["out_of_orderness_ms"], 5_000, 0)
    heartbeat = read.integer(KEYS["heartbeat_interval_ms"], 5_000, 1_000)
    gap = read.integer(KEYS["inactivity_gap_ms"], default_inactivity_gap_ms(heartbeat), heartbeat)
    lateness = read.integer(KEYS["allowed_lateness_ms"], DEFAULT_ALLOWED_LATENESS_MS, 0)
    return SessionizerConfig(
        environment=read.text(KEYS["environment"]),
        region=read.text(KEYS["region"]),
        raw_stream=read.text(KEYS["raw_stream"]),
        session_stream=read.text(KEYS["session_stream"]),
        late_stream=read.text(KEYS["late_stream"]),
        kinesis_endpoint=read.url(KEYS["kinesis_endpoint"]),
        initial_position=read.choice(KEYS["initial_position"], INITIAL_POSITIONS, "LATEST"),
        out_of_orderness_ms=out_of_orderness,
        idle_advance_after_ms=read.integer(
            KEYS["idle_advance_after_ms"], default_idle_advance_after_ms(out_of_orderness), 0
        ),
        caught_up_lag_ms=read.integer(
            KEYS["caught_up_lag_ms"], default_caught_up_lag_ms(out_of_orderness, lateness), 0
        ),
        allowed_lateness_ms=lateness,
        heartbeat_interval_ms=heartbeat,
        inactivity_gap_ms=gap,
        update_interval_ms=read.integer(KEYS["update_interval_ms"], 10_000, 100),
        parallelism=read.integer(KEYS["parallelism"], 1, 1) if read.optional(KEYS["parallelism"]) else None,
        execution_mode=read.choice(KEYS["execution_mode"], EXECUTION_MODES, "process"),
        # Measured (bench/sessionizer.py): in process mode PyFlink's default of 1,000
        # elements per bundle leaves the worker waiting on round trips (docs/performance.md).
        bundle_size=read.integer(KEYS["bundle_size"], 100_000, 1),
        state_cache_size=read.integer(KEYS["state_cache_size"], 100_000, 1),
        bundle_time_ms=read.integer(KEYS["bundle_time_ms"], 1_000, 1),  # PyFlink's default
        # The connector defaults to 5 s: a live dashboard then lags by up to that. More, smaller
        # PutRecords calls at low traffic cost nothing extra (Kinesis charges by payload unit).
        sink_max_buffer_ms=read.integer(KEYS["sink_max_buffer_ms"], 1_000, 1),
        checkpoint_interval_ms=read.integer(KEYS["checkpoint_interval_ms"], 60_000, 1_000),
        checkpoint_dir=read.optional(KEYS["checkpoint_dir"]),
        rest_port=read.integer(KEYS["rest_port"], 0, 1, 65_535) if read.optional(KEYS["rest_port"]) else None,
    )


def base_config(environment: str, region: str, raw: str, session: str, late: str) -> SessionizerConfig:
    """The job's defaults for a region's streams; change fields with dataclasses.replace."""
    values = {KEYS["environment"]: environment, KEYS["region"]: region, KEYS["raw_stream"]: raw,
              KEYS["session_stream"]: session, KEYS["late_stream"]: late}  # fmt: skip
    return parse_config(values)


def properties(config: SessionizerConfig) -> dict[str, str]:
    """The property group that gives the job exactly this config: parse_config(properties(c)) == c."""
    written: dict[str, str] = {}
    for field in dataclasses.fields(SessionizerConfig):
        value = getattr(config, field.name)
        if value is not None:
            written[KEYS[field.name]] = str(value)
    return written


def environment(config: SessionizerConfig) -> dict[str, str]:
    """The same as PRISM_SESSIONIZER_* variables, for a job started locally (load_config reads them)."""
    return {ENV_PREFIX + key.upper().replace(".", "_"): value for key, value in properties(config).items()}


def session_settings(config: SessionizerConfig) -> SessionSettings:
    """What the session tracker needs of the config."""
    return SessionSettings(
        environment=config.environment,
        region=config.region,
        allowed_lateness_ms=config.allowed_lateness_ms,
        inactivity_gap_ms=config.inactivity_gap_ms,
        update_interval_ms=config.update_interval_ms,
    )
