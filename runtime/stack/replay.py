"""Parser of the live replayer's section: the source bucket, the target environments, the function."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from runtime.names import ENVIRONMENT_OF_BUCKET, REGION_NAME
from runtime.stack.data_path import parse_zip_path
from runtime.stack.limits import ENVIRONMENT_NAME
from runtime.stack.model import RegionSettings, ReplaySettings, ReplaySource, ReplayTarget
from runtime.stack.reader import Section, SettingsError

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_KMS_KEY_ARN = re.compile(r"^arn:aws(?:-[a-z]+)*:kms:(?P<region>[a-z0-9-]+):\d{12}:key/[0-9a-f-]{36}$")
_HTTPS_URL = re.compile(r"^https://[A-Za-z0-9.-]+(?::\d{1,5})?(?:/\S*)?$")
_SALT = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def parse_replay(section: Section, environment: str, regions: tuple[RegionSettings, RegionSettings]) -> ReplaySettings:
    enabled = section.boolean("enabled", environment == "loadtest")
    allow_same = section.boolean("allowSameEnvironment", False)
    source = _source(section.section("source"), regions) if enabled else None
    entries = section.entries("targets")
    if not enabled:
        if section.present("source") or entries:
            raise SettingsError(section.key("enabled"), "must be true for source and targets to be used", False)
        targets: tuple[ReplayTarget, ...] = ()
    else:
        if not entries:
            raise SettingsError(section.key("targets"), "must list at least one target environment", entries)
        targets = tuple(_target(section, index, item) for index, item in enumerate(entries))
        assert source is not None
        source_environment = ENVIRONMENT_OF_BUCKET.match(source.bucket)
        if source_environment and source_environment["kind"] == "session":
            # A bucket has one notification configuration: the source stack's reconciler holds that one.
            raise SettingsError(section.key("source.bucket"), "must not be a session bucket: its stack's "
                                "reconciler owns its notifications (replay a raw bucket)", source.bucket)  # fmt: skip
        for index, target in enumerate(targets):
            if source_environment and target.environment == source_environment["environment"] and not allow_same:
                raise SettingsError(section.key(f"targets[{index}].environment"), "must differ from the source "
                                    "bucket's environment (its replayed events would be replayed again; "
                                    "allowSameEnvironment: true to do it anyway)", target.environment)  # fmt: skip
    settings = ReplaySettings(
        enabled=enabled,
        artifact=parse_zip_path(section, "build/replay/prism-replayer.zip"),
        source=source,
        targets=targets,
        salt=section.string("salt", f"{environment}-replay", _SALT, "1-64 of A-Z a-z 0-9 _ . -"),
        allow_same_environment=allow_same,
        memory_mb=section.integer("memoryMb", 1_024, 128, 10_240),
        timeout_seconds=section.integer("timeoutSeconds", 900, 1, 900),
        reserved_concurrency=section.integer("reservedConcurrency", 10, 1),
        # Lambda retries an asynchronous invocation at most twice, and keeps it up to 6 hours.
        maximum_retry_attempts=section.integer("maximumRetryAttempts", 2, 0, 2),
        maximum_event_age_seconds=section.integer("maximumEventAgeSeconds", 21_600, 60, 21_600),
        failed_object_retention_days=section.integer("failedObjectRetentionDays", 14, 1, 14),
    )
    section.finish()
    return settings


def _source(section: Section, regions: tuple[RegionSettings, RegionSettings]) -> ReplaySource:
    names = [region.name for region in regions]
    region = section.string("region", regions[0].name, REGION_NAME, "an AWS region name such as us-east-1")
    if region not in names:
        raise SettingsError(section.key("region"), f"must be one of the stack's regions ({', '.join(names)}): the "
                            "replayer runs beside the bucket", region)  # fmt: skip
    key_arn = section.string("keyArn", None, _KMS_KEY_ARN, "a KMS key ARN")
    key_match = _KMS_KEY_ARN.match(key_arn)
    if key_match is not None and key_match["region"] != region:
        raise SettingsError(section.key("keyArn"), f"must be a key in {region}, the bucket's region", key_arn)
    source = ReplaySource(
        bucket=section.string("bucket", None, _BUCKET, "an S3 bucket name"),
        region=region,
        key_arn=key_arn,
        prefix=section.string("prefix", "raw/"),
    )
    section.finish()
    return source


def _target(section: Section, index: int, item: Mapping[str, Any]) -> ReplayTarget:
    target = section.item("targets", index, item)
    parsed = ReplayTarget(
        environment=target.string("environment", None, ENVIRONMENT_NAME, "an environment name such as datamart"),
        region=target.string("region", None, REGION_NAME, "an AWS region name such as us-east-1"),
        url=target.optional_string("url", _HTTPS_URL, "an https:// URL of an ingest service"),
        multiplier=target.integer("multiplier", 1, 1, 100),
        sample=target.number("sample", 1.0, 0.0, 1.0),
    )
    target.finish()
    return parsed
