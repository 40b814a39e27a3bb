"""What to do about a certificate the harness did not trust (issue 17 item 3).

``untrusted_certificate_hint(exc, url, connect_to, ca_bundle)`` returns one sentence for an ERROR
reason when ``exc`` is a certificate verification failure, else None: what was wrong (the
verifier's own words), the issuer the peer presented — read with a second connection that does
not verify, so it can be named — and the fix (``--ca-bundle FILE`` / ``STACKFAST_CA_BUNDLE``).
A certificate that does not name the host, or has expired, gets its own advice: no CA bundle
would make it right.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterable
from urllib.parse import urlsplit

__all__ = ["peer_certificate", "untrusted_certificate_hint"]

_UNTRUSTED_CODES = {18, 19, 20, 21, 2}  # self-signed, self-signed in chain, unknown issuer, unverifiable leaf


def _verification_error(exc: BaseException | None) -> ssl.SSLCertVerificationError | None:
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, ssl.SSLCertVerificationError):
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def peer_certificate(host: str, port: int, connect_to: Iterable[str] = (), timeout: float = 5.0) -> dict | None:
    """The certificate ``host:port`` presents (issuer, subject, names, expiry), read without verifying it."""
    from stackfast_conformance._connect import resolve

    addr, to_port = resolve(tuple(connect_to), host, port)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((addr, to_port), timeout=timeout) as raw, \
                ctx.wrap_socket(raw, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
    except (OSError, ValueError):
        return None
    if not der:
        return None
    try:
        from cryptography import x509
        from cryptography.x509.oid import ExtensionOID
    except ImportError:  # pragma: no cover - cryptography is a dependency of the reference's CA
        return None
    cert = x509.load_der_x509_certificate(der)
    try:
        names = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
        dns = names.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        dns = []
    return {"issuer": cert.issuer.rfc4514_string(), "subject": cert.subject.rfc4514_string(), "names": dns,
            "not_after": cert.not_valid_after_utc.isoformat()}


def untrusted_certificate_hint(exc: BaseException, url: str, connect_to: Iterable[str] = (),
                               ca_bundle: str | None = None) -> str | None:
    error = _verification_error(exc)
    if error is None and "CERTIFICATE_VERIFY_FAILED" not in str(exc):
        return None
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 443
    code = getattr(error, "verify_code", None)
    why = getattr(error, "verify_message", None) or "certificate verify failed"
    cert = peer_certificate(host, port, connect_to)
    issuer = cert["issuer"] if cert else None
    seen = f"issuer seen: {issuer}" if issuer else "the issuer could not be read"
    trusted = f"the CA bundle {ca_bundle}" if ca_bundle else "the system's trust store"
    if code == 62 or "hostname mismatch" in why.lower():
        names = ", ".join(cert["names"]) if cert and cert["names"] else "none"
        return (f"TLS: the certificate of {host} does not name it ({why}; names on the certificate: {names}; "
                f"{seen}): check --api/--web or --connect-to; --ca-bundle cannot fix a wrong name")
    if code == 10 or "expired" in why.lower():
        until = cert["not_after"] if cert else "unknown"
        return f"TLS: the certificate of {host} has expired (not after {until}; {seen}): renew it on the target"
    if code is None or code in _UNTRUSTED_CODES or "issuer" in why.lower() or "self" in why.lower():
        return (f"TLS: {trusted} does not trust the certificate of {host} ({why}; {seen}). If that issuer is "
                f"yours (a private CA, a TLS-inspecting proxy), trust it with --ca-bundle FILE (the issuer's "
                f"PEM; env STACKFAST_CA_BUNDLE), as curl --cacert does")
    return f"TLS: the certificate of {host} was rejected ({why}; {seen})"
