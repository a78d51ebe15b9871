"""AWS Signature Version 4 for the sink's one request shape: a POST of a JSON body to "/".

botocore's ``SigV4Auth`` is general (any URL, query, header set, streaming body), and
that generality cost the ingest service a measurable share of its CPU per event
(docs/performance.md, "Ingest service"). This signer does the same computation for the
one shape the sink sends, and keeps the derived signing key for the day, as the algorithm
allows. It is tested equal to botocore's signature for the same request and clock
(tests/ingest/test_sigv4.py); the credentials are still botocore's, refreshed as they rotate.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import NamedTuple

ALGORITHM = "AWS4-HMAC-SHA256"


class Credentials(NamedTuple):
    """What botocore's ``get_frozen_credentials()`` returns, by field."""

    access_key: str
    secret_key: str
    token: str | None


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.digest(key, text.encode(), "sha256")


class SigV4Signer:
    """Signs POSTs to one host for one region and service."""

    def __init__(self, host: str, region: str, service: str) -> None:
        self.host = host  # as the Host header says it: lowercase, the port only when not the scheme's default
        self.region = region
        self.service = service
        self._key_for: tuple[str, str] = ("", "")  # (date, secret key) of the cached signing key
        self._key = b""

    def _signing_key(self, date: str, secret_key: str) -> bytes:
        if self._key_for != (date, secret_key):
            key = _hmac(f"AWS4{secret_key}".encode(), date)
            for part in (self.region, self.service, "aws4_request"):
                key = _hmac(key, part)
            self._key, self._key_for = key, (date, secret_key)
        return self._key

    def headers(
        self, credentials: Credentials, headers: dict[str, str], body: bytes, now: datetime | None = None
    ) -> dict[str, str]:
        """`headers` plus Host, X-Amz-Date, the session token (when there is one) and Authorization.

        Every header given is signed: give only those the request sends as they are
        (no Connection, User-Agent or Content-Length, which proxies may change).
        """
        timestamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        date = timestamp[:8]
        signed = {"host": self.host, "x-amz-date": timestamp}
        for name, value in headers.items():
            signed[name.lower()] = " ".join(value.split())
        if credentials.token:
            signed["x-amz-security-token"] = credentials.token
        names = sorted(signed)
        canonical_headers = "".join(f"{name}:{signed[name]}\n" for name in names)
        signed_headers = ";".join(names)
        canonical_request = "\n".join(
            ("POST", "/", "", canonical_headers, signed_headers, hashlib.sha256(body).hexdigest())
        )
        scope = f"{date}/{self.region}/{self.service}/aws4_request"
        string_to_sign = "\n".join(
            (ALGORITHM, timestamp, scope, hashlib.sha256(canonical_request.encode()).hexdigest())
        )
        signature = hmac.new(self._signing_key(date, credentials.secret_key), string_to_sign.encode(), "sha256")
        result = {**headers, "Host": self.host, "X-Amz-Date": timestamp}
        if credentials.token:
            result["X-Amz-Security-Token"] = credentials.token
        result["Authorization"] = (
            f"{ALGORITHM} Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={signed_headers}, Signature={signature.hexdigest()}"
        )
        return result
