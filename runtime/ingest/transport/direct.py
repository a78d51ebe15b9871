"""PutRecords on the event loop, without botocore's request path: the one call the sink makes per batch.

botocore builds a PutRecords body by base64-encoding each record into a dict and running
``json.dumps`` over the whole call, then scanning megabytes of base64 for characters to
escape, a large share of a replay's CPU per event. Base64 never needs JSON escaping, so
this client writes the body itself. It signs with its own SigV4 (sigv4.py, tested equal
to botocore's) and sends over http_endpoint.py on the event loop instead of botocore from
a thread (what each cost: docs/performance.md, "Ingest service"). What still comes from boto3: the endpoint
the client resolved for its region, the credentials (refreshed as they rotate, read in
a thread) and the CA bundle. Failures look like botocore's: a ``ClientError`` whose
``response["Error"]["Code"]`` is the service's error code, so the sink's retry rules read
them the same way. ListShards, rare, goes through the boto3 client in a thread.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, NoCredentialsError
from botocore.httpsession import get_cert_path

from runtime.ingest.transport.http_endpoint import HttpEndpoint, host_header
from runtime.ingest.transport.sigv4 import Credentials, SigV4Signer

_HEADERS = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Kinesis_20131202.PutRecords"}
MAX_RECORDS_PER_CALL = 500
# botocore refreshes temporary credentials 15 minutes before they expire (10 at the
# latest); asking it this often keeps the signing credentials well within that.
CREDENTIALS_MAX_AGE_SECONDS = 60.0


def put_records_body(stream_name: str, records: Sequence[dict[str, Any]]) -> bytes:
    """The JSON body of PutRecords, as botocore would serialize it (tested equal)."""
    entries = []
    for record in records:
        entry = b'{"Data":"' + base64.b64encode(record["Data"]) + b'","PartitionKey":'
        entry += json.dumps(record["PartitionKey"]).encode()
        if "ExplicitHashKey" in record:
            entry += b',"ExplicitHashKey":' + json.dumps(record["ExplicitHashKey"]).encode()
        entries.append(entry + b"}")
    return b'{"StreamName":' + json.dumps(stream_name).encode() + b',"Records":[' + b",".join(entries) + b"]}"


def _without_nulls(members: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in members.items() if value is not None}


def _error_code(status: int, body: bytes) -> tuple[str, str]:
    """(code, message) of an error answer; the HTTP status when the body names no code, as botocore does."""
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        return str(status), body[:200].decode("utf-8", "replace")
    code = str(document.get("__type") or document.get("code") or status).rsplit("#", 1)[-1]
    return code, str(document.get("message") or document.get("Message") or "")


class ProxyNotSupported(ValueError):
    """A proxy variable applies to the Kinesis endpoint, and this client connects directly."""


def refuse_proxy(url: str) -> None:
    """botocore would send through HTTPS_PROXY (or HTTP_PROXY); this client cannot tunnel, so it
    refuses to start rather than fail every call with a connect error in a network that needs one."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in urllib.request.getproxies_environment():
        return
    if urllib.request.proxy_bypass(parts.hostname or ""):  # NO_PROXY
        return
    variable = next(name for name in (f"{parts.scheme}_proxy", f"{parts.scheme.upper()}_PROXY") if os.environ.get(name))
    raise ProxyNotSupported(
        f"{variable} is set, but PutRecords connects to {parts.hostname} directly: unset {variable}, "
        f"add {parts.hostname} to NO_PROXY (the VPC's Kinesis endpoint needs no proxy), or send through the "
        "proxy with the botocore transport (the stack's ingest.kinesisTransport)"
    )


class PutRecordsClient:
    """A boto3 Kinesis client's PutRecords, asynchronous; one instance per stream region and event loop."""

    def __init__(
        self, session: boto3.session.Session, client: Any, config: Config, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """`client` is `session`'s Kinesis client made with `config`: its endpoint, credentials and
        timeouts are used."""
        self._client = client
        self._clock = clock
        self._credentials = session.get_credentials()  # refreshable; frozen anew every CREDENTIALS_MAX_AGE_SECONDS
        self._frozen: Credentials | None = None
        self._frozen_at = 0.0  # on the clock
        url = client.meta.endpoint_url
        refuse_proxy(url)
        self._signer = SigV4Signer(host_header(url), client.meta.region_name, "kinesis")
        self._endpoint = HttpEndpoint(
            url,
            connect_timeout=float(config.connect_timeout),
            read_timeout=float(config.read_timeout),
            # botocore's own choice: AWS_CA_BUNDLE, the profile's ca_bundle, else its bundled CAs.
            ca_bundle=get_cert_path(session._session.get_config_variable("ca_bundle") or True),
        )

    async def list_shards(self, **kwargs: Any) -> dict[str, Any]:
        result: dict[str, Any] = await asyncio.to_thread(self._client.list_shards, **kwargs)
        return result

    async def put_records(self, *, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
        if not 1 <= len(Records) <= MAX_RECORDS_PER_CALL:
            raise ValueError(f"PutRecords takes 1 to {MAX_RECORDS_PER_CALL} records, got {len(Records)}")
        body = put_records_body(StreamName, Records)
        headers = self._signer.headers(await self._current_credentials(), _HEADERS, body)
        status, answer = await self._endpoint.post("/", headers, body)
        if status != 200:
            code, message = _error_code(status, answer)
            error = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
            raise ClientError(error, "PutRecords")
        # botocore leaves out members that are null ("ErrorCode": null on a stored record): so does this.
        result: dict[str, Any] = json.loads(answer, object_hook=_without_nulls)
        return result

    async def close(self) -> None:
        self._endpoint.close()

    async def _current_credentials(self) -> Credentials:
        """botocore's credentials, frozen at most CREDENTIALS_MAX_AGE_SECONDS ago. Freezing may
        fetch new ones (from the container's credential endpoint), so it runs in a thread."""
        now = self._clock()
        if self._frozen is None or now - self._frozen_at >= CREDENTIALS_MAX_AGE_SECONDS:
            if self._credentials is None:
                raise NoCredentialsError()
            frozen = await asyncio.to_thread(self._credentials.get_frozen_credentials)
            self._frozen, self._frozen_at = Credentials(frozen.access_key, frozen.secret_key, frozen.token), now
        return self._frozen
