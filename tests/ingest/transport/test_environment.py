"""The Kinesis transport honours the CA bundle botocore would use, and refuses a proxy it cannot use."""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from runtime.ingest import server
from runtime.ingest.transport.direct import ProxyNotSupported, PutRecordsClient, refuse_proxy
from runtime.ingest.transport.http_endpoint import EndpointError
from tests.certificates import certificate

CONFIG = Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=5)
ANSWER = b'{"FailedRecordCount":0,"Records":[{"SequenceNumber":"1","ShardId":"shardId-0"}]}'
RECORDS = [{"Data": b"\x00", "PartitionKey": "s-1", "ExplicitHashKey": "0"}]
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy")


@pytest.fixture(autouse=True)
def no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*PROXY_VARIABLES, "AWS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def private_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A CA of the test's own and a server certificate for localhost it signed: (CA, cert, key) files."""
    folder = tmp_path_factory.mktemp("ca")
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate("prism test CA", ca_key, None, ca_key, ca=True)
    leaf = certificate("localhost", server_key, ca.subject, ca_key, ca=False, names=("localhost",))
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))  # fmt: skip
    return paths


@contextmanager
def tls_kinesis(certificate: Path, key: Path) -> Iterator[str]:
    """A loopback HTTPS server that answers every POST with a successful PutRecords."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(ANSWER)))
            self.end_headers()
            self.wfile.write(ANSWER)

        def log_message(self, *_: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://localhost:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _put(url: str) -> dict[str, object]:
    session = boto3.session.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")
    kinesis = session.client("kinesis", region_name="us-east-1", endpoint_url=url, config=CONFIG)
    client = PutRecordsClient(session, kinesis, CONFIG)

    async def put() -> dict[str, object]:
        try:
            return await client.put_records(StreamName="raw", Records=RECORDS)
        finally:
            await client.close()

    return asyncio.run(put())


def test_a_private_ca_in_aws_ca_bundle_is_trusted(
    private_ca: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    ca, certificate, key = private_ca
    with tls_kinesis(certificate, key) as url:
        with pytest.raises((EndpointError, ssl.SSLError)):
            _put(url)  # botocore's bundled CAs do not know it
        monkeypatch.setenv("AWS_CA_BUNDLE", str(ca))
        assert _put(url)["FailedRecordCount"] == 0


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy"])
def test_a_proxy_for_the_endpoint_is_refused_naming_the_variable(
    variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, "http://proxy.internal:3128")
    with pytest.raises(ProxyNotSupported, match=rf"^{variable} is set, but PutRecords connects to "
                                                r"kinesis.us-east-1.amazonaws.com directly"):  # fmt: skip
        refuse_proxy("https://kinesis.us-east-1.amazonaws.com")


def test_a_proxy_the_endpoint_bypasses_or_another_scheme_is_fine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", ".amazonaws.com")
    refuse_proxy("https://kinesis.us-east-1.amazonaws.com")
    monkeypatch.delenv("NO_PROXY")
    refuse_proxy("http://127.0.0.1:4567")  # HTTPS_PROXY does not apply to a plain-HTTP stand-in


def test_the_service_stops_at_start_with_one_line_naming_the_proxy(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INGEST_STREAM_NAME", "prism-dev-use1-raw")
    monkeypatch.setenv("INGEST_REGION", "us-east-1")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert server.main() == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("ingest: HTTPS_PROXY is set, but PutRecords connects to kinesis.us-east-1.amazonaws.com")
