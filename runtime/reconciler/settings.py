"""The reconciler Lambda's settings, from its environment: read here, and written here for the component.

A wrong value stops the function before it reads anything, naming the variable:
``RECONCILER_SEARCH_MARGIN_MINUTES must be a whole number >= 0, got 'x'``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from runtime.sessionizer.session import SessionSettings
from runtime.text_settings import InvalidSetting, TextSettings

PREFIX = "RECONCILER_"


class SettingsError(InvalidSetting):
    """An environment variable is missing or wrong; the message names it."""


@dataclass(frozen=True)
class ReconcilerSettings:
    environment: str
    region: str  # the region it writes for: its own session stream
    session_stream: str
    parts_table: str  # DynamoDB: each region's newest final or moved record per session
    workgroup: str  # Athena, over the archive database
    archive_database: str  # Glue: the raw and late buckets as tables
    search_margin_minutes: int
    parts_retention_days: int
    # What the sessionizers run with (the stack's sessionizer settings, the same in both regions).
    allowed_lateness_ms: int
    inactivity_gap_ms: int
    update_interval_ms: int
    aws_endpoint: str | None = None  # local stand-ins (moto server) in tests

    def session_settings(self, region: str) -> SessionSettings:
        """What a region's sessionizer runs with: the whole session is made as its owner's job would."""
        return SessionSettings(
            environment=self.environment,
            region=region,
            allowed_lateness_ms=self.allowed_lateness_ms,
            inactivity_gap_ms=self.inactivity_gap_ms,
            update_interval_ms=self.update_interval_ms,
        )


def load_settings(environ: Mapping[str, str] | None = None) -> ReconcilerSettings:
    env = TextSettings(os.environ if environ is None else environ, SettingsError)
    return ReconcilerSettings(
        environment=env.text(f"{PREFIX}ENVIRONMENT"),
        region=env.text(f"{PREFIX}REGION", env.text("AWS_REGION", "us-east-1")),
        session_stream=env.text(f"{PREFIX}SESSION_STREAM"),
        parts_table=env.text(f"{PREFIX}PARTS_TABLE"),
        workgroup=env.text(f"{PREFIX}WORKGROUP"),
        archive_database=env.text(f"{PREFIX}ARCHIVE_DATABASE"),
        search_margin_minutes=env.integer(f"{PREFIX}SEARCH_MARGIN_MINUTES", 60, 0, 1_440),
        parts_retention_days=env.integer(f"{PREFIX}PARTS_RETENTION_DAYS", 2, 1, 35),
        allowed_lateness_ms=_required_whole(env, f"{PREFIX}ALLOWED_LATENESS_MS", 0),
        inactivity_gap_ms=_required_whole(env, f"{PREFIX}INACTIVITY_GAP_MS", 1),
        update_interval_ms=_required_whole(env, f"{PREFIX}UPDATE_INTERVAL_MS", 1),
        aws_endpoint=env.url(f"{PREFIX}AWS_ENDPOINT"),
    )


def _required_whole(env: TextSettings, name: str, minimum: int) -> int:
    env.text(name)  # no default: the sessionizer's value, or nothing
    return env.integer(name, minimum, minimum)


def environment(settings: ReconcilerSettings) -> dict[str, str]:
    """The environment that gives the function exactly these settings: load_settings(environment(s)) == s."""
    variables = {
        f"{PREFIX}ENVIRONMENT": settings.environment,
        f"{PREFIX}REGION": settings.region,
        f"{PREFIX}SESSION_STREAM": settings.session_stream,
        f"{PREFIX}PARTS_TABLE": settings.parts_table,
        f"{PREFIX}WORKGROUP": settings.workgroup,
        f"{PREFIX}ARCHIVE_DATABASE": settings.archive_database,
        f"{PREFIX}SEARCH_MARGIN_MINUTES": str(settings.search_margin_minutes),
        f"{PREFIX}PARTS_RETENTION_DAYS": str(settings.parts_retention_days),
        f"{PREFIX}ALLOWED_LATENESS_MS": str(settings.allowed_lateness_ms),
        f"{PREFIX}INACTIVITY_GAP_MS": str(settings.inactivity_gap_ms),
        f"{PREFIX}UPDATE_INTERVAL_MS": str(settings.update_interval_ms),
    }
    if settings.aws_endpoint is not None:
        variables[f"{PREFIX}AWS_ENDPOINT"] = settings.aws_endpoint
    return variables
