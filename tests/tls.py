"""Throwaway certificates for TLS tests on 127.0.0.1: a self-signed one (its own CA), or a test CA
with a server certificate it signed (for code that is given a separate ``rootCA``)."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


class CertPair(NamedTuple):
    """PEM paths of a certificate and its private key (unpacks as ``cert, key``)."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class CAFiles:
    """PEM files: the CA certificate (what ``rootCA`` points at) and the server's key pair."""

    ca_pem: Path
    cert_pem: Path
    key_pem: Path
    client: CertPair | None = None  # with ``make_test_ca(..., client=True)``


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    """A certificate builder valid from five minutes ago for a day."""
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
    )


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def self_signed_cert(
    directory: Path,
    *,
    host: str = "127.0.0.1",
    common_name: str | None = None,
    stem: str = "tls",
) -> CertPair:
    """Write ``<stem>.crt`` and ``<stem>.key`` (PEM, P-256) valid for ``host`` (an IP) for a
    day; return their paths. The certificate is a CA, so it can be passed as a trust root."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name or host)])
    cert = (
        _builder(name, name, key.public_key())
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pair = CertPair(directory / f"{stem}.crt", directory / f"{stem}.key")
    _write_cert(pair.cert, cert)
    _write_key(pair.key, key)
    return pair


def make_test_ca(directory: Path, host: str = "127.0.0.1", *, client: bool = False) -> CAFiles:
    """A throwaway CA and a server certificate for ``host`` (an IP, plus ``localhost``). With
    ``client``, also a client certificate from the same CA, and the server certificate valid for
    client authentication too (etcd's JSON gateway connects to etcd itself with it)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dex-py test CA")])
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    usages = [ExtendedKeyUsageOID.SERVER_AUTH] + (
        [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-github")])
    cert = (
        _builder(server_name, ca_name, key.public_key())
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(host)), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    files = CAFiles(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
    _write_cert(files.ca_pem, ca_cert)
    _write_cert(files.cert_pem, cert)
    _write_key(files.key_pem, key)
    if not client:
        return files
    client_key = ec.generate_private_key(ec.SECP256R1())
    client_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dex-py test client")])
    client_cert = (
        _builder(client_name, ca_name, client_key.public_key())
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pair = CertPair(directory / "client.pem", directory / "client-key.pem")
    _write_cert(pair.cert, client_cert)
    _write_key(pair.key, client_key)
    return CAFiles(files.ca_pem, files.cert_pem, files.key_pem, pair)
