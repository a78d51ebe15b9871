"""The replayer Lambda's settings, from its environment: read here, and written here for the component.

A wrong value stops the function before it replays anything, naming the variable:
``REPLAY_TARGETS must be a JSON list of targets, got '...'``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from runtime.text_settings import InvalidSetting, TextSettings

PREFIX = "REPLAY_"
_STREAM_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


class SettingsError(InvalidSetting):
    """An environment variable is missing or wrong; the message names it."""


@dataclass(frozen=True)
class TargetSpec:
    """One environment a replay fires into: its raw stream (``stream``) or its ingest URL (``url``)."""

    environment: str
    region: str
    stream: str | None = None
    url: str | None = None
    multiplier: int = 1
    sample: float = 1.0

    @property
    def name(self) -> str:
        return f"{self.environment}/{self.region}"


@dataclass(frozen=True)
class ReplaySettings:
    targets: tuple[TargetSpec, ...]
    salt: str  # session ids are rewritten with it: one salt, one mapping
    region: str
    chunk_events: int  # events read before they are transformed and sent together
    kinesis_endpoint: str | None = None  # local stand-ins
    s3_endpoint: str | None = None


def parse_targets(text: str, variable: str = f"{PREFIX}TARGETS") -> tuple[TargetSpec, ...]:
    try:
        items = json.loads(text)
    except ValueError:
        raise SettingsError(variable, "must be a JSON list of targets", text) from None
    if not isinstance(items, list) or not items:
        raise SettingsError(variable, "must be a non-empty JSON list of targets", text)
    targets = []
    for index, item in enumerate(items):
        where = f"{variable}[{index}]"
        if not isinstance(item, dict) or set(item) - set(TargetSpec.__dataclass_fields__):
            raise SettingsError(where, f"must be an object with {', '.join(TargetSpec.__dataclass_fields__)}", item)
        try:
            target = TargetSpec(**item)
        except TypeError:
            raise SettingsError(where, "needs environment and region", item) from None
        if (target.stream is None) == (target.url is None):
            raise SettingsError(where, "needs exactly one of stream and url", item)
        if target.stream is not None and not _STREAM_NAME.match(target.stream):
            raise SettingsError(where, "stream must be a Kinesis stream name", target.stream)
        if target.url is not None and not target.url.startswith(("http://", "https://")):
            raise SettingsError(where, "url must be an http:// or https:// URL", target.url)
        if not isinstance(target.multiplier, int) or isinstance(target.multiplier, bool) or target.multiplier < 1:
            raise SettingsError(where, "multiplier must be a whole number >= 1", target.multiplier)
        if not isinstance(target.sample, int | float) or not 0 < target.sample <= 1:
            raise SettingsError(where, "sample must be > 0 and <= 1", target.sample)
        targets.append(target)
    return tuple(targets)


def load_settings(environ: Mapping[str, str] | None = None) -> ReplaySettings:
    values = os.environ if environ is None else environ
    env = TextSettings(values, SettingsError)
    return ReplaySettings(
        targets=parse_targets(env.text(f"{PREFIX}TARGETS")),
        salt=env.text(f"{PREFIX}SALT"),
        region=env.text(f"{PREFIX}REGION", env.text("AWS_REGION", "us-east-1")),
        chunk_events=env.integer(f"{PREFIX}CHUNK_EVENTS", 5_000, 1, 1_000_000),
        kinesis_endpoint=env.url(f"{PREFIX}KINESIS_ENDPOINT"),
        s3_endpoint=env.url(f"{PREFIX}S3_ENDPOINT"),
    )


def environment(settings: ReplaySettings) -> dict[str, str]:
    """The environment that gives the function exactly these settings: load_settings(environment(s)) == s."""
    variables = {
        f"{PREFIX}TARGETS": json.dumps([_spec(target) for target in settings.targets], separators=(",", ":")),
        f"{PREFIX}SALT": settings.salt,
        f"{PREFIX}REGION": settings.region,
        f"{PREFIX}CHUNK_EVENTS": str(settings.chunk_events),
    }
    for name, value in (("KINESIS_ENDPOINT", settings.kinesis_endpoint), ("S3_ENDPOINT", settings.s3_endpoint)):
        if value is not None:
            variables[f"{PREFIX}{name}"] = value
    return variables


def _spec(target: TargetSpec) -> dict[str, Any]:
    return {key: value for key, value in asdict(target).items() if value is not None}
