"""Probes of the public edge (R9): the TLS certificate a host serves, and its DNS answers.

``probe_tls`` connects like curl's ``--connect-to`` (SNI and the name check stay on the public
host; only the TCP connection is redirected), verifies the chain against the system trust store
or ``--ca-bundle``, and reads the served leaf for the name, issuer and expiry. A host that cannot
be reached raises ``CouldNotDecide`` (an ERROR); a certificate that does not verify is reported
in the result, for the check to FAIL.

``resolve_dns`` asks a resolver (``STACKFAST_DNS_RESOLVER=IP[,IP]`` or the system's) for the
host's CNAME/A/AAAA answers. The project's own tests never call it: against the reference every
host is mapped by ``--connect-to`` and DNS is bypassed (the checks record that).
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography import x509
from cryptography.x509.oid import ExtensionOID, NameOID

from stackfast_conformance.failures import CouldNotDecide

__all__ = ["DnsAnswer", "PUBLIC_ISSUERS", "REFERENCE_ISSUER", "TlsReport", "expected_issuers", "is_mapped",
           "probe_tls", "resolve_dns", "resolve_address"]

REFERENCE_ISSUER = "Stackfast Reference CA"
# Who issues Railway's custom-domain certificates (ACME): matched against the issuer's O or CN.
PUBLIC_ISSUERS = ("Let's Encrypt", "Google Trust Services")
EXPIRY_WARNING_DAYS = 14


def resolve_address(connect_to: Iterable[str], host: str, port: int) -> tuple[str, int]:
    """Where a TCP connection to ``host:port`` goes under ``--connect-to`` (itself when unmapped)."""
    try:
        from stackfast_conformance._connect import resolve
    except ImportError:  # pragma: no cover - _connect ships with the harness
        for item in connect_to:
            h1, p1, h2, p2 = item.split(":")
            if h1.lower() in ("", host.lower()) and p1 in ("", str(port)):
                return h2 or host, int(p2 or port)
        return host, port
    return resolve(list(connect_to), host, port)


def is_mapped(connect_to: Iterable[str], host: str, port: int) -> bool:
    return resolve_address(connect_to, host, port) != (host.lower(), port)


def expected_issuers(expected: Any, profile: str) -> tuple[str, ...]:
    """The issuer names a profile accepts: ``expected.tls_issuer`` (comma-separated), else the default."""
    configured = (expected or {}).get("tls_issuer")
    if configured:
        items = configured if isinstance(configured, (list, tuple)) else str(configured).split(",")
        return tuple(i.strip() for i in items if str(i).strip())
    return (REFERENCE_ISSUER,) if profile == "reference" else PUBLIC_ISSUERS


@dataclass
class TlsReport:
    host: str
    port: int
    connected_to: str
    trust: str                      # "system trust store" | "--ca-bundle <path>"
    chain_ok: bool
    chain_error: str | None
    name_ok: bool
    names: list[str] = field(default_factory=list)
    subject: str = ""
    issuer_cn: str | None = None
    issuer_org: str | None = None
    self_issued: bool = False
    not_before: str | None = None
    not_after: str | None = None
    days_left: float | None = None
    protocol: str | None = None

    def issuer_matches(self, accepted: Sequence[str]) -> bool:
        fields = [f for f in (self.issuer_cn, self.issuer_org) if f]
        return any(a.lower() in f.lower() for a in accepted for f in fields)

    def issuer(self) -> str:
        return ", ".join(p for p in (f"CN={self.issuer_cn}" if self.issuer_cn else "",
                                     f"O={self.issuer_org}" if self.issuer_org else "") if p) or "(none)"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _handshake(address: tuple[str, int], host: str, context: ssl.SSLContext, timeout: float) -> ssl.SSLSocket:
    sock = socket.create_connection(address, timeout=timeout)
    try:
        return context.wrap_socket(sock, server_hostname=host)
    except BaseException:
        sock.close()
        raise


def _attr(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None


def _name_matches(host: str, names: list[str]) -> bool:
    host = host.lower().rstrip(".")
    for name in names:
        name = name.lower().rstrip(".")
        if name == host:
            return True
        if name.startswith("*.") and host.count(".") == name.count(".") and host.endswith(name[1:]):
            return True
    return False


def probe_tls(host: str, port: int = 443, *, connect_to: Iterable[str] = (), ca_bundle: str | None = None,
              timeout: float = 10.0, now: dt.datetime | None = None) -> TlsReport:
    """Handshake with ``host:port`` and report chain validity, name match, issuer and expiry."""
    address = resolve_address(connect_to, host, port)
    trust = f"--ca-bundle {ca_bundle}" if ca_bundle else "system trust store"
    verifying = ssl.create_default_context(cafile=str(ca_bundle)) if ca_bundle else ssl.create_default_context()
    verifying.check_hostname = False  # the name is judged separately (SANs), so each fault has one cause
    chain_error: str | None = None
    protocol = None
    try:
        with _handshake(address, host, verifying, timeout) as tls:
            protocol = tls.version()
    except ssl.SSLCertVerificationError as exc:
        chain_error = exc.verify_message or str(exc)
    except ssl.SSLError as exc:
        chain_error = f"TLS handshake failed: {exc.reason or exc}"
    except OSError as exc:
        raise CouldNotDecide(f"could not reach {host}:{port} (via {address[0]}:{address[1]}): "
                             f"{type(exc).__name__}: {exc}") from None
    inspecting = ssl.create_default_context()
    inspecting.check_hostname = False
    inspecting.verify_mode = ssl.CERT_NONE
    try:
        with _handshake(address, host, inspecting, timeout) as tls:
            der = tls.getpeercert(binary_form=True)
            protocol = protocol or tls.version()
    except (OSError, ssl.SSLError) as exc:
        raise CouldNotDecide(f"could not read the certificate of {host}:{port}: {type(exc).__name__}: {exc}") from None
    if not der:
        raise CouldNotDecide(f"{host}:{port} presented no certificate")
    cert = x509.load_der_x509_certificate(der)
    try:
        names = list(cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
                     .value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = []
    now = now or dt.datetime.now(dt.UTC)
    not_after = cert.not_valid_after_utc
    return TlsReport(
        host=host, port=port, connected_to=f"{address[0]}:{address[1]}", trust=trust,
        chain_ok=chain_error is None, chain_error=chain_error,
        name_ok=_name_matches(host, names), names=names,
        subject=cert.subject.rfc4514_string(),
        issuer_cn=_attr(cert.issuer, NameOID.COMMON_NAME), issuer_org=_attr(cert.issuer, NameOID.ORGANIZATION_NAME),
        self_issued=cert.issuer == cert.subject,
        not_before=cert.not_valid_before_utc.isoformat(), not_after=not_after.isoformat(),
        days_left=round((not_after - now).total_seconds() / 86400, 1), protocol=protocol,
    )


@dataclass
class DnsAnswer:
    host: str
    resolver: str
    cname: list[str]
    addresses: list[str]
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_dns(host: str, nameservers: Sequence[str] | None = None, timeout: float = 5.0) -> DnsAnswer:
    """CNAME chain and A/AAAA answers for ``host``; NXDOMAIN / no answer is in ``error``."""
    import dns.exception
    import dns.resolver

    servers = list(nameservers or [s.strip() for s in os.environ.get("STACKFAST_DNS_RESOLVER", "").split(",") if s.strip()])
    resolver = dns.resolver.Resolver(configure=not servers)
    if servers:
        resolver.nameservers = servers
    resolver.lifetime = timeout
    label = ",".join(resolver.nameservers) if servers else "system resolver (" + ",".join(resolver.nameservers) + ")"
    cname: list[str] = []
    addresses: list[str] = []
    error = None
    try:
        for rdtype in ("A", "AAAA"):
            try:
                answer = resolver.resolve(host, rdtype)
            except dns.resolver.NoAnswer:
                continue
            if answer.canonical_name.to_text().rstrip(".") != host and not cname:
                cname.append(answer.canonical_name.to_text().rstrip("."))
            addresses += [r.to_text() for r in answer]
    except dns.resolver.NXDOMAIN:
        error = "NXDOMAIN: the name does not exist"
    except (dns.resolver.NoNameservers, dns.exception.Timeout) as exc:
        raise CouldNotDecide(f"DNS lookup of {host} via {label} failed: {type(exc).__name__}: {exc}") from None
    if not addresses and error is None:
        error = "no A or AAAA answer"
    return DnsAnswer(host=host, resolver=label, cname=cname, addresses=addresses, error=error)
