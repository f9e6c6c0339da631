"""Why a connection failed, as each client the tools use reports it (urllib for doctor's HTTP checks,
requests under hvac for adopt, botocore for doctor's signed S3 HEAD), against real sockets on loopback."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
import urllib.request

import pytest
import requests

from clients.net_errors import DNS, REFUSED, TIMEOUT, UNTRUSTED, why_unreachable


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: nothing listens


@pytest.fixture
def silent_server():
    """Accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()


@pytest.fixture
def self_signed_server(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            try:
                context.wrap_socket(conn, server_side=True).close()
            except (ssl.SSLError, OSError):
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    yield f"https://localhost:{server.getsockname()[1]}"
    server.close()


def urllib_error(url: str) -> BaseException:
    try:
        urllib.request.urlopen(url, timeout=1)
    except Exception as err:
        return err
    raise AssertionError("expected no connection")


def requests_error(url: str) -> BaseException:
    try:
        requests.get(url, timeout=1)
    except Exception as err:
        return err
    raise AssertionError("expected no connection")


def boto_error(url: str) -> BaseException:
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="generated",
        aws_secret_access_key="generated",
        config=Config(connect_timeout=1, read_timeout=1, retries={"max_attempts": 1}),
    )
    try:
        client.head_bucket(Bucket="finance-report-staging")
    except Exception as err:
        return err
    raise AssertionError("expected no connection")


CLIENTS = [urllib_error, requests_error, boto_error]


@pytest.mark.parametrize("client", CLIENTS)
def test_a_closed_port_is_refused(client):
    assert why_unreachable(client(f"http://127.0.0.1:{closed_port()}")) == REFUSED


@pytest.mark.parametrize("client", CLIENTS)
def test_a_name_that_does_not_resolve_is_a_dns_problem(client):
    assert why_unreachable(client("http://vault.finance-report.invalid")) == DNS  # RFC 2606: never resolves


@pytest.mark.parametrize("client", CLIENTS)
def test_a_server_that_never_answers_times_out(client, silent_server):
    assert why_unreachable(client(silent_server)) == TIMEOUT


@pytest.mark.parametrize("client", CLIENTS)
def test_an_untrusted_certificate_is_named(client, self_signed_server):
    assert why_unreachable(client(self_signed_server)).startswith(UNTRUSTED + " (self-signed certificate")
