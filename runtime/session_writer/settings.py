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


class SettingsError(InvalidSetting):
    """An environment variable is missing or wrong; the message names it."""


@dataclass(frozen=True)
class WriterSettings:
    engine: Engine
    database: str  # the Timestream database, or the InfluxDB database (bucket)
    table: str | None  # the Timestream table; None for InfluxDB (the measurement is records.py's)
    region: str
    endpoint: str | None  # Timestream: a local stand-in (None on AWS); InfluxDB: its URL
    credentials_secret: str | None  # InfluxDB: Secrets Manager secret of its credentials; None: none needed
    max_parallel_calls: int
    max_attempts: int


def load_settings(environ: Mapping[str, str] | None = None) -> WriterSettings:
    env = TextSettings(os.environ if environ is None else environ, SettingsError)
    engine = cast(Engine, env.choice("SESSION_STORE_ENGINE", ENGINES, "liveanalytics"))
    endpoint = env.url("SESSION_STORE_ENDPOINT")
    if engine == "influxdb" and endpoint is None:
        raise SettingsError("SESSION_STORE_ENDPOINT", "is needed with the influxdb engine (the InfluxDB URL)", None)
    return WriterSettings(
        engine=engine,
        database=env.text("SESSION_STORE_DATABASE"),
        table=env.text("SESSION_STORE_TABLE") if engine == "liveanalytics" else None,
        region=env.text("AWS_REGION", "us-east-1"),
        endpoint=endpoint,
        credentials_secret=env.optional("SESSION_STORE_CREDENTIALS_SECRET") if engine == "influxdb" else None,
        max_parallel_calls=env.integer("SESSION_WRITER_MAX_PARALLEL_CALLS", 4, 1, 32),
        max_attempts=env.integer("SESSION_WRITER_MAX_ATTEMPTS", 5, 1, 20),
    )
