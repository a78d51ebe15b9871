"""The InfluxDB provisioner against an InfluxDB 2 API stand-in (the endpoints it calls, with their answers
as InfluxDB 2 documents them) and Secrets Manager in moto: retention, the v1 mapping, the two tokens."""

from __future__ import annotations

import base64
import itertools
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import urllib3

from runtime.local.moto_server import MotoServer
from runtime.session_writer.provision import InfluxAdmin, ProvisionError, ProvisionRequest, provision
from tests.recording_server import Answer, answering_in_turn, recording_server

REGION = "us-east-1"
BUCKET = "prism-dev-use1-sessions"
ADMIN = {"username": "prism-admin", "password": "Secret0Password"}
SESSION_COOKIE = "influxdb-oss-session=s3ss10n"


@dataclass
class InfluxState:
    orgs: list[dict[str, Any]] = field(default_factory=lambda: [{"id": "org1", "name": "prism"}])
    buckets: list[dict[str, Any]] = field(
        default_factory=lambda: [{"id": "bkt1", "orgID": "org1", "name": BUCKET, "retentionRules": []}]
    )
    dbrps: list[dict[str, Any]] = field(default_factory=list)
    # The operator token AWS's setup leaves: not the provisioner's to touch.
    authorizations: list[dict[str, Any]] = field(
        default_factory=lambda: [{"id": "op", "token": "operator", "description": "operator", "permissions": []}]
    )
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))


def _answer(state: InfluxState, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
    if method == "GET" and path == "/api/v2/orgs":
        return 200, {"orgs": [o for o in state.orgs if o["name"] == query.get("org")]}
    if method == "GET" and path == "/api/v2/buckets":
        found = [b for b in state.buckets if b["orgID"] == query["orgID"] and b["name"] == query.get("name")]
        return 200, {"buckets": found}
    if method == "PATCH" and path.startswith("/api/v2/buckets/"):
        bucket = next(b for b in state.buckets if b["id"] == path.rsplit("/", 1)[1])
        bucket["retentionRules"] = body["retentionRules"]
        return 200, bucket
    if method == "GET" and path == "/api/v2/dbrps":
        return 200, {"content": [d for d in state.dbrps if d["bucketID"] == query["bucketID"]]}
    if method == "POST" and path == "/api/v2/dbrps":
        mapping = {**body, "id": f"dbrp{next(state.ids)}", "virtual": False}
        state.dbrps.append(mapping)
        return 201, mapping
    if method == "GET" and path == "/api/v2/authorizations":
        return 200, {"authorizations": state.authorizations}
    if method == "POST" and path == "/api/v2/authorizations":
        number = next(state.ids)
        created = {**body, "id": f"auth{number}", "token": f"token-{number}", "status": "active"}
        state.authorizations.append(created)
        return 201, created
    if method == "DELETE" and path.startswith("/api/v2/authorizations/"):
        state.authorizations = [a for a in state.authorizations if a["id"] != path.rsplit("/", 1)[1]]
        return 204, None
    return 404, {"code": "not found", "message": f"{method} {path}"}


@pytest.fixture
def influx() -> Iterator[tuple[str, InfluxState]]:
    state = InfluxState()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length)) if length else None
            if url.path == "/api/v2/signin":
                pair = base64.b64encode(f"{ADMIN['username']}:{ADMIN['password']}".encode()).decode()
                signed_in = self.headers.get("Authorization") == f"Basic {pair}"
                status, answer, headers = (204, None, {"Set-Cookie": f"{SESSION_COOKIE}; Path=/"}) if signed_in else (
                    401, {"code": "unauthorized", "message": "unauthorized access"}, {})  # fmt: skip
            elif self.headers.get("Cookie") != SESSION_COOKIE:
                status, answer, headers = 401, {"code": "unauthorized"}, {}
            else:
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                status, answer = _answer(state, self.command, url.path, query, body)
                headers = {}
            data = b"" if answer is None else json.dumps(answer).encode()
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(data))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def secrets(moto_server: MotoServer, request: pytest.FixtureRequest) -> tuple[Any, dict[str, str]]:
    client = moto_server.client("secretsmanager", REGION)
    prefix = f"provision-{request.node.name}"
    arns = {
        who: client.create_secret(Name=f"{prefix}-{who}", **({"SecretString": json.dumps(ADMIN)} if who == "admin"
                                                             else {}))["ARN"]
        for who in ("admin", "writer", "reader")
    }  # fmt: skip
    return client, arns


def _request(url: str, arns: dict[str, str], retention_days: int = 30) -> ProvisionRequest:
    return ProvisionRequest.from_event(
        {"url": url, "organization": "prism", "bucket": BUCKET, "retentionSeconds": retention_days * 86_400,
         "adminSecret": arns["admin"], "tokenSecrets": {"writer": arns["writer"], "reader": arns["reader"]}}
    )  # fmt: skip


def _token(client: Any, arn: str) -> str:
    return str(json.loads(client.get_secret_value(SecretId=arn)["SecretString"])["token"])


def test_the_bucket_gets_its_retention_a_v1_mapping_and_one_token_per_role(
    influx: tuple[str, InfluxState], secrets: tuple[Any, dict[str, str]]
) -> None:
    url, state = influx
    client, arns = secrets

    ids = provision(_request(url, arns), client, urllib3.PoolManager())

    assert ids == {"organizationId": "org1", "bucketId": "bkt1"}
    assert state.buckets[0]["retentionRules"] == [{"type": "expire", "everySeconds": 30 * 86_400}]
    assert [(d["database"], d["retention_policy"], d["bucketID"], d["default"]) for d in state.dbrps] == [
        (BUCKET, "autogen", "bkt1", True)
    ]
    by_token = {a["token"]: a for a in state.authorizations}
    for who, action in (("writer", "write"), ("reader", "read")):
        authorization = by_token[_token(client, arns[who])]
        assert authorization["description"] == f"prism session store {who}"
        assert authorization["permissions"] == [
            {"action": action, "resource": {"type": "buckets", "id": "bkt1", "orgID": "org1"}}
        ]


@dataclass(frozen=True)
class Provisioned:
    url: str
    state: InfluxState
    client: Any
    arns: dict[str, str]

    def again(self, retention_days: int = 30) -> dict[str, str]:
        """Provisions once more; the tokens the secrets then hold."""
        provision(_request(self.url, self.arns, retention_days), self.client, urllib3.PoolManager())
        return {who: _token(self.client, self.arns[who]) for who in ("writer", "reader")}


@pytest.fixture
def provisioned(influx: tuple[str, InfluxState], secrets: tuple[Any, dict[str, str]]) -> Provisioned:
    """An instance provisioned once."""
    done = Provisioned(influx[0], influx[1], *secrets)
    done.again()
    return done


def test_running_again_keeps_tokens_that_still_work_and_replaces_the_rest(provisioned: Provisioned) -> None:
    state = provisioned.state
    first = provisioned.again()

    # A retention change: the running writer's token stays good.
    assert provisioned.again(retention_days=0) == first
    assert state.buckets[0]["retentionRules"] == []  # 0 days: kept forever

    # The writer's token is gone from the instance (revoked by hand): a new one, the old reader's kept.
    state.authorizations = [a for a in state.authorizations if a["token"] != first["writer"]]
    second = provisioned.again()
    assert second["writer"] != first["writer"] and second["reader"] == first["reader"]
    assert sorted(a["token"] for a in state.authorizations) == sorted(["operator", *second.values()])
    assert len(state.dbrps) == 1


def test_a_token_with_other_access_is_replaced_and_deleted(provisioned: Provisioned) -> None:
    state = provisioned.state
    token = _token(provisioned.client, provisioned.arns["reader"])
    reader = next(a for a in state.authorizations if a["token"] == token)
    reader["permissions"] = [{"action": "write", "resource": reader["permissions"][0]["resource"]}]

    tokens = provisioned.again()

    assert reader not in state.authorizations
    replacement = next(a for a in state.authorizations if a["token"] == tokens["reader"])
    assert replacement["permissions"][0]["action"] == "read"


def test_a_refused_sign_in_fails_naming_the_step(
    influx: tuple[str, InfluxState], secrets: tuple[Any, dict[str, str]]
) -> None:
    url, _ = influx
    client, arns = secrets
    client.put_secret_value(SecretId=arns["admin"], SecretString=json.dumps({**ADMIN, "password": "wrong"}))
    with pytest.raises(ProvisionError, match="sign in: InfluxDB answered 401"):
        provision(_request(url, arns), client, urllib3.PoolManager())


def test_an_incomplete_invocation_input_is_refused() -> None:
    with pytest.raises(ProvisionError, match="lacks or mistypes 'bucket'"):
        ProvisionRequest.from_event({"url": "https://x:8086", "organization": "prism"})
    with pytest.raises(ProvisionError, match="tokenSecrets must name exactly"):
        ProvisionRequest.from_event({"url": "u", "organization": "o", "bucket": "b", "retentionSeconds": 0,
                                     "adminSecret": "a", "tokenSecrets": {"writer": "w"}})  # fmt: skip


def test_the_admin_api_is_tried_again_while_the_instances_gateway_answers_503() -> None:
    signed_in = Answer(204, b"", {"Set-Cookie": "s=1; Path=/"})
    answers = [Answer(503, b"", {"Retry-After": "2"}), Answer(502, b""), signed_in]
    sleeps: list[float] = []
    with recording_server(answering_in_turn(answers)) as server:
        InfluxAdmin(server.url, urllib3.PoolManager(retries=False), sleeps.append).sign_in("admin", "secret")
        assert len(server.requests) == 3
    assert len(sleeps) == 2 and sleeps[0] >= 2.0, "the gateway's Retry-After is waited at least"


def test_an_instance_that_never_answers_fails_the_provisioning_naming_the_call() -> None:
    with recording_server(lambda _: Answer(503, b"")) as server:
        admin = InfluxAdmin(server.url, urllib3.PoolManager(retries=False), lambda _: None)
        with pytest.raises(ProvisionError, match=r"^POST .*/api/v2/signin: InfluxDB answered 503, 9 times$"):
            admin.sign_in("admin", "secret")
