"""A certificate the harness does not trust: the ERROR says what to do (issue 17 item 3)."""

from __future__ import annotations

import socket
import ssl
import threading

import httpx
import pytest

from stackfast_conformance._connect import make_transport
from stackfast_conformance._tlshint import untrusted_certificate_hint
from stackfast_conformance.reference._ca import issue


@pytest.fixture
def tls_server(tmp_path):
    """A TLS server on 127.0.0.1 presenting a leaf for api.stackfast.app from the reference's local CA."""
    cert = issue(tmp_path, ["api.stackfast.app"])
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert.leaf_chain_pem), str(cert.leaf_key_pem))
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            try:
                with ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1024)
                    tls.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nOK")
            except (OSError, ssl.SSLError):
                pass  # the client rejected the certificate

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield cert, listener.getsockname()[1]
    stop.set()
    thread.join(2)
    listener.close()


def _error(url: str, connect_to: list[str], ca_bundle: str | None = None) -> Exception:
    with httpx.Client(transport=make_transport(connect_to, ca_bundle), timeout=5) as client:
        with pytest.raises(httpx.TransportError) as excinfo:
            client.get(url)
    return excinfo.value


def test_an_untrusted_certificate_names_its_issuer_and_the_ca_bundle_fix(tls_server):
    cert, port = tls_server
    connect_to = [f"api.stackfast.app:443:127.0.0.1:{port}"]
    exc = _error("https://api.stackfast.app/health", connect_to)
    hint = untrusted_certificate_hint(exc, "https://api.stackfast.app/health", connect_to)
    assert hint is not None, exc
    assert "--ca-bundle FILE" in hint and "STACKFAST_CA_BUNDLE" in hint
    assert f"CN={cert.issuer_cn}" in hint, hint  # the issuer that was seen, read without verification
    assert "system's trust store" in hint
    # with the issuer's PEM the same request succeeds: the advice is the fix
    with httpx.Client(transport=make_transport(connect_to, str(cert.ca_pem)), timeout=5) as client:
        assert client.get("https://api.stackfast.app/health").text == "OK"


def test_a_certificate_for_another_name_is_not_told_to_use_a_ca_bundle(tls_server):
    cert, port = tls_server
    connect_to = [f"www.example.test:443:127.0.0.1:{port}"]
    exc = _error("https://www.example.test/", connect_to, str(cert.ca_pem))
    hint = untrusted_certificate_hint(exc, "https://www.example.test/", connect_to, str(cert.ca_pem))
    assert hint is not None and "does not name it" in hint and "api.stackfast.app" in hint, hint


def test_a_refused_connection_gets_no_tls_hint():
    exc = _error("https://127.0.0.1:9/", [])
    assert untrusted_certificate_hint(exc, "https://127.0.0.1:9/") is None
