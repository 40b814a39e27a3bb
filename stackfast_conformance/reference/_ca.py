"""A local certificate authority for the reference edge.

The CA (EC P-256, cheap to make) is cached in the state directory so repeated
starts reuse it; the leaf is issued on every start because the topology faults
``cert-wrong-host``, ``cert-expired`` and ``cert-self-signed-leaf`` change it.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_COMMON_NAME = "Stackfast Reference CA"
LEAF_VALIDITY = dt.timedelta(days=90)


@dataclass(frozen=True)
class IssuedCertificate:
    ca_pem: Path          # the CA certificate (what a client trusts)
    leaf_chain_pem: Path  # leaf + CA, what the edge serves
    leaf_key_pem: Path
    issuer_cn: str        # issuer CN of the served leaf
    spki_sha256: str      # base64 SHA-256 of the leaf's SubjectPublicKeyInfo (Chromium's SPKI list format)
    not_after: str


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Stackfast Conformance Reference")])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _load_or_make_ca(directory: Path, ca_cn: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert_path, key_path = directory / "ca.pem", directory / "ca-key.pem"
    now = dt.datetime.now(dt.UTC)
    if cert_path.is_file() and key_path.is_file():
        try:
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
            if (isinstance(key, ec.EllipticCurvePrivateKey) and cn == ca_cn
                    and cert.not_valid_after_utc - now > dt.timedelta(days=30)):
                return cert, key
        except (ValueError, IndexError):
            pass
    key = ec.generate_private_key(ec.SECP256R1())
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(ca_cn)).issuer_name(_name(ca_cn))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(_pem_key(key))
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def issue(directory: Path, hosts: list[str], *, faults: frozenset[str] = frozenset(),
          ca_cn: str = CA_COMMON_NAME) -> IssuedCertificate:
    """Write ca.pem, leaf.pem (leaf + CA) and leaf-key.pem into ``directory``.

    Faults: ``cert-wrong-host`` drops api.stackfast.app from the SANs,
    ``cert-expired`` issues a leaf that expired 10 days ago,
    ``cert-self-signed-leaf`` signs the leaf with its own key instead of the CA.
    """
    directory.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key = _load_or_make_ca(directory, ca_cn)
    now = dt.datetime.now(dt.UTC)
    sans = [h for h in hosts if not ("cert-wrong-host" in faults and h == "api.stackfast.app")]
    if "cert-expired" in faults:
        not_before, not_after = now - dt.timedelta(days=100), now - dt.timedelta(days=10)
    else:
        not_before, not_after = now - dt.timedelta(hours=1), now + LEAF_VALIDITY
    key = ec.generate_private_key(ec.SECP256R1())
    self_signed = "cert-self-signed-leaf" in faults
    subject = _name(sans[0] if sans else "stackfast.app")
    issuer = subject if self_signed else ca_cert.subject
    signing_key = key if self_signed else ca_key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(issuer)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in sans]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if not self_signed:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    leaf = builder.sign(signing_key, hashes.SHA256())
    leaf_key_path, chain_path = directory / "leaf-key.pem", directory / "leaf.pem"
    leaf_key_path.write_bytes(_pem_key(key))
    leaf_key_path.chmod(0o600)
    chain = leaf.public_bytes(serialization.Encoding.PEM)
    if not self_signed:
        chain += ca_cert.public_bytes(serialization.Encoding.PEM)
    chain_path.write_bytes(chain)
    spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    issuer_cn = issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    return IssuedCertificate(
        ca_pem=directory / "ca.pem", leaf_chain_pem=chain_path, leaf_key_pem=leaf_key_path,
        issuer_cn=str(issuer_cn), spki_sha256=base64.b64encode(hashlib.sha256(spki).digest()).decode(),
        not_after=not_after.isoformat(),
    )
