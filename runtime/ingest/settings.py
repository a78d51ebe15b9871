"""Ingest service settings, from environment variables, validated at start-up.

A wrong value stops the service before it listens, naming the variable:
``INGEST_LINGER_MS must be >= 0, got -5``.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from runtime.ingest.transport import DEFAULT_TRANSPORT, TRANSPORTS, Transport
from runtime.text_settings import InvalidSetting, TextSettings

PREFIX = "INGEST_"  # every variable is PREFIX + the IngestSettings field, upper-case
_ORIGIN = re.compile(r"^https?://[^/\s]+$")
CORS_ORIGIN_RULE = "must list origins such as https://player.example.com or *"


# A request's limits unless the environment says otherwise: what a client may send at once.
DEFAULT_MAX_BODY_BYTES = 1_048_576
DEFAULT_MAX_BATCH_EVENTS = 500


class SettingsError(InvalidSetting):
    """An environment variable is missing or wrong; the message names it."""


def is_cors_origin(origin: str) -> bool:
    """An origin a browser sends (scheme and host, no path), or * for any."""
    return origin == "*" or _ORIGIN.match(origin) is not None


@dataclass(frozen=True)
class IngestSettings:
    stream_name: str
    region: str
    kinesis_endpoint: str | None  # a local stand-in such as kinesis-mock; None for AWS
    kinesis_transport: Transport  # direct (this project's PutRecords) or botocore (through proxies)
    failed_events_stream: str | None  # Firehose (direct put) that lands rejected events under failed/
    firehose_endpoint: str | None
    host: str
    port: int
    workers: int
    max_body_bytes: int
    max_batch_events: int
    max_clock_skew_ms: int
    heartbeat_interval_ms: int
    cors_origins: tuple[str, ...]
    linger_ms: float
    aggregation_max_bytes: int  # KPL AggregationMaxSize
    put_records_max_count: int  # KPL CollectionMaxCount
    put_records_max_bytes: int  # KPL CollectionMaxSize
    max_in_flight_calls: int
    buffer_max_events: int  # back-pressure (503) beyond this many unacknowledged events
    ack_timeout_seconds: float  # after this a request still not durable gets 503
    unhealthy_after_seconds: float  # GET /ready fails once Kinesis refused everything this long
    retry_after_seconds: int
    shutdown_drain_seconds: float
    failed_event_max_bytes: int  # rejected bodies are kept up to this size
    metrics_emf_interval_seconds: float  # 0: no CloudWatch EMF lines
    gc_gen0_threshold: int  # 0: Python's default


def load_settings(environ: Mapping[str, str] | None = None) -> IngestSettings:
    env = TextSettings(os.environ if environ is None else environ, SettingsError)
    origins = tuple(o.strip() for o in (env.optional("INGEST_CORS_ORIGINS") or "").split(",") if o.strip())
    for origin in origins:
        if not is_cors_origin(origin):
            raise SettingsError("INGEST_CORS_ORIGINS", CORS_ORIGIN_RULE, origin)
    aggregation_max_bytes = env.integer("INGEST_AGGREGATION_MAX_BYTES", 51_200, 1_024, 1_048_576)
    put_records_max_bytes = env.integer("INGEST_PUT_RECORDS_MAX_BYTES", 5_242_880, 1_024, 10_485_760)
    if put_records_max_bytes < aggregation_max_bytes:
        raise SettingsError("INGEST_PUT_RECORDS_MAX_BYTES", "must be >= INGEST_AGGREGATION_MAX_BYTES",
                            put_records_max_bytes)  # fmt: skip
    return IngestSettings(
        stream_name=env.text("INGEST_STREAM_NAME"),
        region=env.text("INGEST_REGION", env.text("AWS_REGION", env.text("AWS_DEFAULT_REGION", "us-east-1"))),
        kinesis_endpoint=env.url("INGEST_KINESIS_ENDPOINT"),
        kinesis_transport=cast(Transport, env.choice("INGEST_KINESIS_TRANSPORT", TRANSPORTS, DEFAULT_TRANSPORT)),
        failed_events_stream=env.optional("INGEST_FAILED_EVENTS_STREAM"),
        firehose_endpoint=env.url("INGEST_FIREHOSE_ENDPOINT"),
        host=env.text("INGEST_HOST", "0.0.0.0"),
        port=env.integer("INGEST_PORT", 8080, 1, 65535),
        workers=env.integer("INGEST_WORKERS", 1, 1, 64),
        max_body_bytes=env.integer("INGEST_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, 1_024, 10_485_760),
        max_batch_events=env.integer("INGEST_MAX_BATCH_EVENTS", DEFAULT_MAX_BATCH_EVENTS, 1, 10_000),
        max_clock_skew_ms=env.integer("INGEST_MAX_CLOCK_SKEW_MS", 300_000, 0),
        heartbeat_interval_ms=env.integer("INGEST_HEARTBEAT_INTERVAL_MS", 5_000, 1_000, 600_000),
        cors_origins=origins,
        linger_ms=env.number("INGEST_LINGER_MS", 5.0, 0.0, 1_000.0),
        aggregation_max_bytes=aggregation_max_bytes,
        put_records_max_count=env.integer("INGEST_PUT_RECORDS_MAX_COUNT", 500, 1, 500),
        put_records_max_bytes=put_records_max_bytes,
        max_in_flight_calls=env.integer("INGEST_MAX_IN_FLIGHT_CALLS", 8, 1, 128),
        buffer_max_events=env.integer("INGEST_BUFFER_MAX_EVENTS", 200_000, 1),
        ack_timeout_seconds=env.number("INGEST_ACK_TIMEOUT_SECONDS", 10.0, 0.1, 120.0),
        unhealthy_after_seconds=env.number("INGEST_UNHEALTHY_AFTER_SECONDS", 3.0, 0.0, 600.0),
        retry_after_seconds=env.integer("INGEST_RETRY_AFTER_SECONDS", 5, 1, 3_600),
        shutdown_drain_seconds=env.number("INGEST_SHUTDOWN_DRAIN_SECONDS", 25.0, 0.0, 3_600.0),
        failed_event_max_bytes=env.integer("INGEST_FAILED_EVENT_MAX_BYTES", 65_536, 256, 1_000_000),
        gc_gen0_threshold=env.integer("INGEST_GC_GEN0_THRESHOLD", 50_000, 0),
        metrics_emf_interval_seconds=env.number("INGEST_METRICS_EMF_INTERVAL_SECONDS", 0.0, 0.0, 3_600.0),
    )


def base_settings(stream_name: str, region: str) -> IngestSettings:
    """The service's defaults for a stream; change fields with dataclasses.replace."""
    return load_settings({f"{PREFIX}STREAM_NAME": stream_name, f"{PREFIX}REGION": region})


def environment(settings: IngestSettings) -> dict[str, str]:
    """The environment that gives the service exactly these settings: the stream and region,
    and every field that differs from its default. load_settings(environment(s)) == s."""
    defaults = base_settings(settings.stream_name, settings.region)
    variables: dict[str, str] = {}
    for field in dataclasses.fields(IngestSettings):
        value = getattr(settings, field.name)
        if field.name in ("stream_name", "region") or value != getattr(defaults, field.name):
            variables[PREFIX + field.name.upper()] = _text(value)
    return variables


def _text(value: object) -> str:
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)
