"""Session writer settings, from the Lambda's environment variables, validated at cold start."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from runtime.text_settings import InvalidSetting, TextSettings


class SettingsError(InvalidSetting):
    """An environment variable is missing or wrong; the message names it."""


@dataclass(frozen=True)
class WriterSettings:
    database: str
    table: str
    region: str
    timestream_endpoint: str | None  # a local stand-in (moto server); None on AWS
    max_parallel_calls: int
    max_attempts: int


def load_settings(environ: Mapping[str, str] | None = None) -> WriterSettings:
    env = TextSettings(os.environ if environ is None else environ, SettingsError)
    return WriterSettings(
        database=env.text("SESSION_STORE_DATABASE"),
        table=env.text("SESSION_STORE_TABLE"),
        region=env.text("AWS_REGION", "us-east-1"),
        timestream_endpoint=env.url("SESSION_STORE_ENDPOINT"),
        max_parallel_calls=env.integer("SESSION_WRITER_MAX_PARALLEL_CALLS", 4, 1, 32),
        max_attempts=env.integer("SESSION_WRITER_MAX_ATTEMPTS", 5, 1, 20),
    )
