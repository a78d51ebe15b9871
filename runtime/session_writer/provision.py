"""Sets up a Timestream for InfluxDB instance for the session store, once per deployment.

The Pulumi program invokes this Lambda (in the instance's VPC) after creating the
instance. InfluxDB 2's v1 `/write` and `/query` take no admin password, only tokens, so
this signs in as the admin (the program's generated secret) and:
  - sets the sessions bucket's retention (the stack's sessionStore.influxdb.retentionDays);
  - maps the v1 database of the same name to the bucket (DBRP), for `/write?db=` and InfluxQL;
  - gives the session writer a write token and Grafana a read token, each in its own secret
    as {"token": ...}: a token the secret already holds is kept while the instance still
    has it with the same access (a running writer keeps working); else a new one is
    created and stored, and then the tokens it replaces are deleted.

Invoking it again (a new instance, a new retention) leaves one token per role.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import urllib3
from aws_lambda_powertools import Logger

from runtime.retries import PROVISIONER_CALLS, RetryLater, is_retry_later, retry_after_seconds, retrying
from runtime.session_writer.influxdb import InfluxCredentials

Access = Literal["write", "read"]
# Whose token, with what access to the sessions bucket; the description marks the tokens this manages.
TOKENS: dict[str, Access] = {"writer": "write", "reader": "read"}
TOKEN_DESCRIPTION = "prism session store {who}"
RETENTION_POLICY = "autogen"
UNAVAILABLE_STATUSES = frozenset({502, 503, 504})  # a gateway in front of an instance still starting
SERVICE = "influxdb-provisioner"  # its logs' and metrics' service
logger = Logger(service=SERVICE)  # the pipeline's one log schema (runtime/ingest/logs.py)


class ProvisionError(RuntimeError):
    """The instance refused a step; the message names the step and its answer."""


class SecretStore(Protocol):
    def get_secret_value(self, *, SecretId: str) -> dict[str, Any]: ...
    def put_secret_value(self, *, SecretId: str, SecretString: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ProvisionRequest:
    url: str  # https://<instance endpoint>:8086
    organization: str
    bucket: str
    retention_seconds: int  # 0: forever
    admin_secret: str
    token_secrets: dict[str, str]  # who -> secret ARN, for every key of TOKENS

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> ProvisionRequest:
        try:
            request = cls(
                url=str(event["url"]).rstrip("/"),
                organization=str(event["organization"]),
                bucket=str(event["bucket"]),
                retention_seconds=int(event["retentionSeconds"]),
                admin_secret=str(event["adminSecret"]),
                token_secrets={who: str(arn) for who, arn in dict(event["tokenSecrets"]).items()},
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ProvisionError(f"the invocation input lacks or mistypes {error}") from None
        if set(request.token_secrets) != set(TOKENS):
            raise ProvisionError(f"tokenSecrets must name exactly {sorted(TOKENS)}")
        return request


class InfluxAdmin:
    """The InfluxDB 2 HTTP API, signed in as the admin user (a session cookie)."""

    def __init__(self, url: str, http: urllib3.PoolManager, sleep: Callable[[float], None] = time.sleep) -> None:
        self._url = url
        self._http = http
        self._sleep = sleep
        self._cookie = ""

    def _request(self, method: str, url: str, **kwargs: Any) -> urllib3.BaseHTTPResponse:
        """One API call, tried again (PROVISIONER_CALLS) while the instance is unreachable or
        its gateway answers 502-504, as it does while it starts."""
        try:
            for attempt in retrying(PROVISIONER_CALLS, is_retry_later, self._sleep):
                with attempt:
                    try:
                        response = self._http.request(method, url, **kwargs)
                    except urllib3.exceptions.HTTPError as error:
                        raise RetryLater(f"InfluxDB unreachable: {error}") from None
                    if response.status in UNAVAILABLE_STATUSES:
                        raise RetryLater(f"InfluxDB answered {response.status}",
                                         retry_after_seconds(response.headers.get("Retry-After")))  # fmt: skip
                    return response
        except RetryLater as error:
            raise ProvisionError(f"{method} {url}: {error}, {PROVISIONER_CALLS.attempts} times") from None
        raise AssertionError("not reached: the last attempt returns or raises")

    def sign_in(self, username: str, password: str) -> None:
        pair = base64.b64encode(f"{username}:{password}".encode()).decode()
        response = self._request("POST", f"{self._url}/api/v2/signin", headers={"Authorization": f"Basic {pair}"})
        self._check("sign in", response, 204)
        cookie = response.headers.get("Set-Cookie", "")
        self._cookie = cookie.split(";", 1)[0]

    def call(self, step: str, method: str, path: str, body: Any = None, expected: int = 200) -> Any:
        headers = {"Cookie": self._cookie, "Content-Type": "application/json"}
        data = None if body is None else json.dumps(body).encode()
        response = self._request(method, f"{self._url}{path}", body=data, headers=headers)
        self._check(step, response, expected)
        return json.loads(response.data) if response.data else None

    @staticmethod
    def _check(step: str, response: urllib3.BaseHTTPResponse, expected: int) -> None:
        if response.status != expected:
            text = response.data[:300].decode(errors="replace")
            raise ProvisionError(f"{step}: InfluxDB answered {response.status} (expected {expected}): {text}")


def provision(request: ProvisionRequest, secrets: SecretStore, http: urllib3.PoolManager) -> dict[str, str]:
    """Sets the instance up as the module says; returns the organization and bucket ids."""
    admin_text = secrets.get_secret_value(SecretId=request.admin_secret)["SecretString"]
    admin = InfluxCredentials.from_secret(admin_text)
    if not admin.username or not admin.password:
        raise ProvisionError("the admin secret needs username and password")
    api = InfluxAdmin(request.url, http)
    api.sign_in(admin.username, admin.password)

    orgs = api.call("find the organization", "GET", f"/api/v2/orgs?org={request.organization}")["orgs"]
    if not orgs:
        raise ProvisionError(f"no organization {request.organization!r} on the instance")
    org_id = orgs[0]["id"]
    found = api.call("find the bucket", "GET", f"/api/v2/buckets?orgID={org_id}&name={request.bucket}")["buckets"]
    if not found:
        raise ProvisionError(f"no bucket {request.bucket!r} in organization {request.organization!r}")
    bucket_id = found[0]["id"]
    rules = [{"type": "expire", "everySeconds": request.retention_seconds}] if request.retention_seconds else []
    api.call("set the bucket's retention", "PATCH", f"/api/v2/buckets/{bucket_id}", {"retentionRules": rules})

    mappings = api.call("find the v1 mapping", "GET", f"/api/v2/dbrps?orgID={org_id}&bucketID={bucket_id}")
    if not any(m.get("database") == request.bucket and not m.get("virtual") for m in mappings.get("content") or []):
        mapping = {"orgID": org_id, "bucketID": bucket_id, "database": request.bucket,
                   "retention_policy": RETENTION_POLICY, "default": True}  # fmt: skip
        api.call("map the v1 database", "POST", "/api/v2/dbrps", mapping, expected=201)

    existing = api.call("list the tokens", "GET", f"/api/v2/authorizations?orgID={org_id}")["authorizations"]
    for who, access in TOKENS.items():
        description = TOKEN_DESCRIPTION.format(who=who)
        permissions = [{"action": access, "resource": {"type": "buckets", "id": bucket_id, "orgID": org_id}}]
        held = _held_token(secrets, request.token_secrets[who])
        ours = [a for a in existing if a.get("description") == description]
        kept = next((a for a in ours if held and a.get("token") == held and _grants(a, permissions)), None)
        if kept is None:
            kept = api.call(f"create the {who} token", "POST", "/api/v2/authorizations",
                            {"orgID": org_id, "description": description, "permissions": permissions},
                            expected=201)  # fmt: skip
            token = json.dumps({"token": kept["token"]})
            secrets.put_secret_value(SecretId=request.token_secrets[who], SecretString=token)
        # Only once the secret holds the token: a writer may use the old one until then.
        for old in ours:
            if old["id"] != kept["id"]:
                api.call(f"delete an old {who} token", "DELETE", f"/api/v2/authorizations/{old['id']}", expected=204)
    return {"organizationId": org_id, "bucketId": bucket_id}


def _held_token(secrets: SecretStore, secret: str) -> str | None:
    """The token a secret holds; None before its first value (or when it holds none)."""
    try:
        text = secrets.get_secret_value(SecretId=secret)["SecretString"]
    except Exception as error:  # boto3's ResourceNotFoundException: no value yet
        if type(error).__name__ != "ResourceNotFoundException":
            raise
        return None
    try:
        token = InfluxCredentials.from_secret(text).token
    except ValueError:  # not the credentials JSON the writer reads
        return None
    return token if isinstance(token, str) and token else None


def _grants(authorization: dict[str, Any], permissions: list[dict[str, Any]]) -> bool:
    """Whether an authorization is active with exactly these permissions (the ids are what matter)."""
    keys = ("type", "id", "orgID")
    granted = [{"action": p.get("action"), "resource": {k: p.get("resource", {}).get(k) for k in keys}}
               for p in authorization.get("permissions", [])]  # fmt: skip
    return authorization.get("status", "active") == "active" and granted == permissions


def handler(event: dict[str, Any], context: object) -> dict[str, str]:
    import boto3  # the Lambda runtime's; imported here so tests need no AWS client

    request = ProvisionRequest.from_event(event)
    timeout = urllib3.Timeout(connect=5.0, read=30.0)
    http = urllib3.PoolManager(timeout=timeout, retries=False)  # InfluxAdmin retries (PROVISIONER_CALLS)
    try:
        ids = provision(request, boto3.client("secretsmanager"), http)
    except ProvisionError as error:
        logger.error("provision_failed", extra={"url": request.url, "error": str(error)})
        raise
    logger.info("provisioned", extra={"url": request.url, **ids})
    return ids
