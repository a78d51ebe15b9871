"""Each runtime package writes its own configuration: what it writes, it reads back unchanged."""

from __future__ import annotations

import dataclasses

from runtime.ingest.settings import base_settings, environment, load_settings
from runtime.sessionizer import config as sessionizer


def test_the_ingest_environment_round_trips() -> None:
    changed = dataclasses.replace(
        base_settings("prism-dev-use1-raw", "us-east-1"),
        failed_events_stream="prism-dev-use1-failed-to-s3",
        kinesis_endpoint="http://127.0.0.1:4567",
        port=9090,
        workers=2,
        cors_origins=("https://a.example", "https://b.example"),
        linger_ms=2.5,
        ack_timeout_seconds=12.0,
    )
    written = environment(changed)
    assert load_settings(written) == changed
    # Only what differs from the defaults (and the stream and region) is written.
    assert sorted(written) == sorted(
        f"INGEST_{name}" for name in ("STREAM_NAME", "REGION", "FAILED_EVENTS_STREAM", "KINESIS_ENDPOINT", "PORT",
                                      "WORKERS", "CORS_ORIGINS", "LINGER_MS", "ACK_TIMEOUT_SECONDS")
    )  # fmt: skip
    assert written["INGEST_ACK_TIMEOUT_SECONDS"] == "12" and written["INGEST_LINGER_MS"] == "2.5"


def test_the_sessionizer_properties_and_variables_round_trip() -> None:
    changed = dataclasses.replace(
        sessionizer.base_config("dev", "us-west-2", "raw", "session", "late"),
        kinesis_endpoint="http://127.0.0.1:4567",
        out_of_orderness_ms=1_000,
        caught_up_lag_ms=10_000,
        parallelism=1,
        execution_mode="thread",
    )
    assert sessionizer.parse_config(sessionizer.properties(changed)) == changed
    assert sessionizer.load_config(sessionizer.environment(changed), properties_file=None) == changed


def test_derived_defaults_are_computed_by_the_owner() -> None:
    config = sessionizer.parse_config(
        {"environment": "dev", "region": "us-east-1", "raw.stream": "r", "session.stream": "s", "late.stream": "l",
         "heartbeat.interval.ms": "2000", "watermark.out.of.orderness.ms": "500", "allowed.lateness.ms": "1500"}
    )  # fmt: skip
    assert config.inactivity_gap_ms == sessionizer.default_inactivity_gap_ms(2_000) == 6_000
    assert config.idle_advance_after_ms == sessionizer.default_idle_advance_after_ms(500) == 1_000
    assert config.caught_up_lag_ms == sessionizer.default_caught_up_lag_ms(500, 1_500) == 2_000
