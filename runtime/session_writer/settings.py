"""Session writer settings, from the Lambda's environment variables, validated at cold start."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal, cast, get_args

from runtime.text_settings import InvalidSetting, TextSettings

# Which store the writer fills (the stack's sessionStore.engine): Timestream for
# LiveAnalytics (timestream.py) or InfluxDB through its v1-compatible API (influxdb.py).
Engine = Literal["liveanalytics", "influxdb"]
ENGINES: Final[tuple[Engine, ...]] = get_args(Engine)
# Timestream for InfluxDB is what any account can create: LiveAnalytics is closed to new
# customers, so a stack keeps it only by naming it (its account already has it).
DEFAULT_ENGINE: Final[Engine] = "influxdb"


# The variables that name the store; the Pulumi program and the local pipeline set them by these names.
ENGINE_VARIABLE: Final = "SESSION_STORE_ENGINE"
ENDPOINT_VARIABLE: Final = "SESSION_STORE_ENDPOINT"
DATABASE_VARIABLE: Final = "SESSION_STORE_DATABASE"
TABLE_VARIABLE: Final = "SESSION_STORE_TABLE"
CREDENTIALS_VARIABLE: Final = "SESSION_STORE_CREDENTIALS_SECRET"


class SettingsError(InvalidSetting):
    """An environment variable is missing or wrong; the message names it."""


@dataclass(frozen=True)
class TimestreamTarget:
    database: str
    table: str
    endpoint: str | None  # a local stand-in (moto server); None on AWS


@dataclass(frozen=True)
class InfluxTarget:
    url: str
    database: str  # the InfluxDB database (a bucket of Timestream for InfluxDB)
    credentials_secret: str | None  # Secrets Manager secret of its credentials; None: none needed


@dataclass(frozen=True)
class WriterSettings:
    target: TimestreamTarget | InfluxTarget  # the store, as SESSION_STORE_ENGINE chose it
    region: str
    max_parallel_calls: int
    max_attempts: int


def load_settings(environ: Mapping[str, str] | None = None) -> WriterSettings:
    env = TextSettings(os.environ if environ is None else environ, SettingsError)
    engine = cast(Engine, env.choice(ENGINE_VARIABLE, ENGINES, "liveanalytics"))
    endpoint = env.url(ENDPOINT_VARIABLE)
    target: TimestreamTarget | InfluxTarget
    if engine == "influxdb":
        if endpoint is None:
            raise SettingsError(ENDPOINT_VARIABLE, "is needed with the influxdb engine (its URL)", None)
        database = env.text(DATABASE_VARIABLE)
        target = InfluxTarget(endpoint, database, env.optional(CREDENTIALS_VARIABLE))
    else:
        target = TimestreamTarget(env.text(DATABASE_VARIABLE), env.text(TABLE_VARIABLE), endpoint)
    return WriterSettings(
        target=target,
        region=env.text("AWS_REGION", "us-east-1"),
        max_parallel_calls=env.integer("SESSION_WRITER_MAX_PARALLEL_CALLS", 4, 1, 32),
        max_attempts=env.integer("SESSION_WRITER_MAX_ATTEMPTS", 5, 1, 20),
    )
