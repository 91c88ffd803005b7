"""A development certificate authority and a certificate for localhost, made on first use.

Browsers speak HTTP/2 only over TLS, so to see the demo over HTTP/2 in a browser the server
needs a certificate for 127.0.0.1 and localhost. This makes, once, what ``mkcert`` or
``trustme`` would: a CA of its own and a server certificate it signs, kept OUTSIDE the
repository (``~/.cache/hypercorn-demo/`` by default) so no private key is ever committed.
Trust ``ca.pem`` (``curl --cacert``, or import it as an authority in a browser) or accept
the browser's warning once.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["DevCertificate", "default_folder", "ensure_certificate"]

#: Names the server certificate is good for.
HOSTNAMES = ("localhost",)
ADDRESSES = ("127.0.0.1", "::1")
#: 825 days is the longest server-certificate lifetime macOS and iOS accept; the CA lives
#: longer so that a renewed certificate does not need the CA trusted again.
CERT_DAYS = 825
CA_DAYS = 3650
#: Renew the server certificate this close to its expiry.
RENEW_BEFORE = datetime.timedelta(days=7)


@dataclass(frozen=True)
class DevCertificate:
    folder: Path
    #: The CA certificate to trust (``curl --cacert``, a browser's authorities).
    ca_path: Path
    #: The server certificate (then the CA) and its private key, for ``certfile``/``keyfile``.
    cert_path: Path
    key_path: Path


def default_folder() -> Path:
    """``$XDG_CACHE_HOME/hypercorn-demo``, else ``~/.cache/hypercorn-demo``."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "hypercorn-demo"


def ensure_certificate(folder: Path | None = None) -> DevCertificate:
    """The certificate in ``folder``, made (or renewed, keeping the CA) when needed."""
    folder = folder if folder is not None else default_folder()
    files = DevCertificate(folder, folder / "ca.pem", folder / "cert.pem", folder / "key.pem")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca_key_path = folder / "ca-key.pem"
    if files.ca_path.exists() and ca_key_path.exists():
        ca_cert = x509.load_pem_x509_certificate(files.ca_path.read_bytes())
        ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
        if not isinstance(ca_key, ec.EllipticCurvePrivateKey) or _expiring(ca_cert):
            ca_cert, ca_key = _make_ca(files.ca_path, ca_key_path)
    else:
        ca_cert, ca_key = _make_ca(files.ca_path, ca_key_path)
    if not _usable(files, ca_cert):
        _make_server_cert(files.cert_path, files.key_path, ca_cert, ca_key)
    return files


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _expiring(cert: x509.Certificate) -> bool:
    return cert.not_valid_after_utc - RENEW_BEFORE < _now()


def _usable(files: DevCertificate, ca_cert: x509.Certificate) -> bool:
    """Whether the server certificate is there, current, from this CA and for its key."""
    if not (files.cert_path.exists() and files.key_path.exists()):
        return False
    cert = x509.load_pem_x509_certificates(files.cert_path.read_bytes())[0]
    key = serialization.load_pem_private_key(files.key_path.read_bytes(), password=None)
    return (
        not _expiring(cert)
        and cert.issuer == ca_cert.subject
        and cert.public_key() == key.public_key()
    )


def _write_private(path: Path, data: bytes) -> None:
    """Write a private key readable by its owner only."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _make_ca(
    ca_path: Path, ca_key_path: Path
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())  # small and fast; every browser takes it
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Hypercorn demo"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Hypercorn demo development CA"),
        ]
    )
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(ca_key_path, _key_pem(key))
    ca_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _make_server_cert(
    cert_path: Path,
    key_path: Path,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    names: list[x509.GeneralName] = [x509.DNSName(host) for host in HOSTNAMES]
    names += [x509.IPAddress(ipaddress.ip_address(address)) for address in ADDRESSES]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOSTNAMES[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=CERT_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(key_path, _key_pem(key))
    cert_path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + ca_cert.public_bytes(serialization.Encoding.PEM)
    )
