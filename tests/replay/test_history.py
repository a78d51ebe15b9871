"""Historical replay over a prefix of several objects: time order, totals, dry runs, refused options."""

from __future__ import annotations

import itertools
from collections import defaultdict

import pytest

from runtime.local.kinesis_mock import KinesisMock
from runtime.local.moto_server import MotoServer
from runtime.replay.__main__ import arguments, main
from tests.kinesis import stream_events
from tests.replay.objects import T0, object_bytes, recorded_events

pytestmark = pytest.mark.integration
REGION = "us-east-1"
BUCKET = "prism-slowprod-use1-raw-123456789012"
_numbers = itertools.count()


@pytest.fixture
def prefix(moto_server: MotoServer) -> str:
    """Three hourly objects (the middle one split in two) of one hour apart, and one outside the window."""
    s3 = moto_server.client("s3", REGION)
    if BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=BUCKET)
    run = f"history-{next(_numbers)}"
    for hour in range(4):
        events = recorded_events(10, T0 + hour * 3_600_000, session_prefix=f"h{hour}-")
        halves = [events[:30], events[30:]] if hour == 1 else [events]
        for part, chunk in enumerate(halves):
            key = f"{run}/year=2026/month=11/day=30/hour={8 + hour:02d}/raw-to-s3-{part}.gz"
            s3.put_object(Bucket=BUCKET, Key=key, Body=object_bytes(chunk))
    return run


@pytest.fixture(autouse=True)
def local_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")


def history(prefix: str, moto: MotoServer, kinesis: KinesisMock, *extra: str) -> list[str]:
    return ["--source", f"s3://{BUCKET}/{prefix}/", "--from", "2026-11-30T08:00", "--to", "2026-11-30T11:00",
            "--target", "datamart", "--target-region", REGION, "--speed", "max", "--salt", "h",
            "--s3-endpoint", moto.endpoint, "--kinesis-endpoint", kinesis.endpoint, *extra]  # fmt: skip


def test_a_prefix_is_replayed_in_time_order_with_every_event(
    prefix: str, moto_server: MotoServer, kinesis_mock: KinesisMock, capsys: pytest.CaptureFixture[str]
) -> None:
    stream = "prism-datamart-use1-raw"
    if stream not in kinesis_mock.client(REGION).list_streams()["StreamNames"]:
        kinesis_mock.create_streams(REGION, {stream: 2})
    before = len(stream_events(kinesis_mock.client(REGION), stream))
    main(history(prefix, moto_server, kinesis_mock, "--multiplier", "2"))
    summary = capsys.readouterr().out
    assert "objects            4" in summary and "events             180" in summary, summary
    replayed = stream_events(kinesis_mock.client(REGION), stream)[before:]
    assert len(replayed) == 3 * 60 * 2, "three hours in the window, ten sessions of six events, twice"
    by_session = defaultdict(list)
    for event in replayed:
        by_session[event["sessionId"]].append(event["timestamp"])
    assert len(by_session) == 3 * 10 * 2
    assert all(times == sorted(times) for times in by_session.values()), "order per session kept"


def test_a_dry_run_reads_everything_and_sends_nothing(
    prefix: str, moto_server: MotoServer, kinesis_mock: KinesisMock, capsys: pytest.CaptureFixture[str]
) -> None:
    main(history(prefix, moto_server, kinesis_mock, "--dry-run", "--target", "nowhere"))
    summary = capsys.readouterr().out
    assert "events             180" in summary and "sent               0" in summary, summary


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("--source", "bucket/prefix"), "--source must be s3://bucket/prefix"),
        (("--to", "2026-11-30T07:00"), "--to must be after --from"),
        (("--from", "yesterday"), "not an ISO 8601 time"),
        (("--speed", "fast"), "a speed is a multiple such as 1x or 10x, or max"),
        (("--multiplier", "0"), "--multiplier must be >= 1"),
        (("--sample", "0"), "--sample must be > 0 and <= 1"),
        (("--target", "slowprod"), "--target slowprod is the source bucket's environment"),
    ],
)
def test_bad_options_are_refused_naming_the_option(
    change: tuple[str, str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--source", f"s3://{BUCKET}/x/", "--from", "2026-11-30T08:00", "--to", "2026-11-30T09:00",
            "--target", "datamart", "--speed", "1x", "--multiplier", "1", "--sample", "1"]  # fmt: skip
    argv[argv.index(change[0]) + 1] = change[1]
    with pytest.raises(SystemExit) as exit_info:
        arguments(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
