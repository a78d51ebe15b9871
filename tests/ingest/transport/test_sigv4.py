"""The sink's SigV4 signer gives botocore's signature for the same request, credentials and clock."""

from __future__ import annotations

from datetime import UTC, datetime
from unittest import mock

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.ingest.transport.http_endpoint import host_header
from runtime.ingest.transport.sigv4 import Credentials, SigV4Signer

HEADERS = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Kinesis_20131202.PutRecords"}


def botocore_headers(url: str, region: str, credentials: Credentials, body: bytes, now: datetime) -> dict[str, str]:
    request = AWSRequest(method="POST", url=url, data=body, headers=dict(HEADERS))
    signer = SigV4Auth(BotocoreCredentials(*credentials), "kinesis", region)
    with mock.patch("botocore.auth.get_current_datetime", return_value=now.replace(tzinfo=None)):
        signer.add_auth(request)
    return dict(request.headers.items())


URLS = (
    "https://kinesis.us-east-1.amazonaws.com/",
    "http://127.0.0.1:4567/",
    "https://Kinesis.EU-West-1.amazonaws.com:443/",
)
PRINTABLE = st.characters(codec="ascii", exclude_categories=["Cc"])
# A session token as STS issues it: no surrounding or doubled spaces (a header value's are folded).
TOKENS = st.text(PRINTABLE, min_size=1, max_size=60).filter(lambda t: t.strip() == t and "  " not in t)
SECONDS = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1))


@settings(max_examples=100, deadline=None)
@given(
    url=st.sampled_from(URLS),
    region=st.sampled_from(["us-east-1", "us-west-2", "eu-west-1"]),
    secret=st.text(PRINTABLE, min_size=1, max_size=40),
    token=st.one_of(st.none(), TOKENS),
    body=st.binary(max_size=2_000),
    now=SECONDS.map(lambda d: d.replace(microsecond=0, tzinfo=UTC)),
)
def test_the_signature_is_botocores(
    url: str, region: str, secret: str, token: str | None, body: bytes, now: datetime
) -> None:
    credentials = Credentials("AKIDEXAMPLE", secret, token)
    mine = SigV4Signer(host_header(url), region, "kinesis").headers(credentials, HEADERS, body, now)
    theirs = botocore_headers(url, region, credentials, body, now)
    assert mine["Authorization"] == theirs["Authorization"]
    assert mine["X-Amz-Date"] == theirs["X-Amz-Date"]
    assert mine.get("X-Amz-Security-Token") == theirs.get("X-Amz-Security-Token")


def test_the_signing_key_is_derived_again_for_a_new_day_or_secret() -> None:
    signer = SigV4Signer("kinesis.us-east-1.amazonaws.com", "us-east-1", "kinesis")
    url, body = "https://kinesis.us-east-1.amazonaws.com/", b"{}"
    for now, secret in [
        (datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC), "first"),
        (datetime(2026, 12, 1, 0, 0, 0, tzinfo=UTC), "first"),
        (datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC), "rotated"),
    ]:
        credentials = Credentials("AKIDEXAMPLE", secret, None)
        signed = signer.headers(credentials, HEADERS, body, now)
        assert signed["Authorization"] == botocore_headers(url, "us-east-1", credentials, body, now)["Authorization"]


def test_the_host_header_leaves_out_the_schemes_default_port() -> None:
    assert host_header("https://Kinesis.us-east-1.amazonaws.com:443/") == "kinesis.us-east-1.amazonaws.com"
    assert host_header("http://127.0.0.1:80") == "127.0.0.1"
    assert host_header("http://127.0.0.1:4567/") == "127.0.0.1:4567"
    assert host_header("https://[::1]:8443/") == "[::1]:8443"
