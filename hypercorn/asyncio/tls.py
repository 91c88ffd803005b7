"""The ASGI ``tls`` scope extension, read off an established TLS connection.

See https://asgi.readthedocs.io/en/latest/specs/tls.html: the TLS version and cipher suite as
their IANA numbers, the server's certificate and the client's chain as PEM, and the client
certificate's subject as an RFC 4514 string.
"""

from __future__ import annotations

import contextlib
import ssl
import weakref
from typing import Any

__all__ = ["tls_extension"]

_VERSIONS = {"TLSv1": 0x0301, "TLSv1.1": 0x0302, "TLSv1.2": 0x0303, "TLSv1.3": 0x0304}

# RFC 4514 §3: the attribute type short names a DN string uses.
_SHORT_NAMES = {
    "commonName": "CN",
    "localityName": "L",
    "stateOrProvinceName": "ST",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "streetAddress": "STREET",
    "domainComponent": "DC",
    "userId": "UID",
}

# OpenSSL's cipher names -> IANA cipher suite numbers, per SSLContext (a server has one).
_suites: weakref.WeakKeyDictionary[ssl.SSLContext, dict[str, int]] = weakref.WeakKeyDictionary()


def _cipher_suite(context: ssl.SSLContext, name: str) -> int | None:
    table = _suites.get(context)
    if table is None:
        # OpenSSL's cipher id carries the two IANA bytes in its low 16 bits.
        table = {cipher["name"]: cipher["id"] & 0xFFFF for cipher in context.get_ciphers()}
        _suites[context] = table
    return table.get(name)


def _escape(value: str) -> str:
    escaped = "".join("\\" + char if char in ',+"\\<>;=' else char for char in value)
    if escaped[:1] in ("#", " "):
        escaped = "\\" + escaped
    if escaped.endswith(" "):
        escaped = escaped[:-1] + "\\ "
    return escaped


def _distinguished_name(subject: Any) -> str:
    # RFC 4514 §2.1: RDNs in reverse order of the certificate's sequence.
    rdns = [
        "+".join(f"{_SHORT_NAMES.get(key, key)}={_escape(value)}" for key, value in rdn)
        for rdn in reversed(subject)
    ]
    return ",".join(rdns)


def tls_extension(ssl_object: ssl.SSLObject, server_cert: str | None) -> dict[str, Any]:
    """The ``tls`` extension dict for one connection."""
    cipher = ssl_object.cipher()
    chain: list[str] = []
    name: str | None = None
    leaf = ssl_object.getpeercert(binary_form=True)
    if leaf:
        chain = [ssl.DER_cert_to_PEM_cert(leaf)]
        unverified = getattr(ssl_object, "get_unverified_chain", None)  # Python 3.13+
        if unverified is not None:
            # 3.13.0 can fail inside the call; the leaf alone is still right then.
            with contextlib.suppress(AttributeError, TypeError, ValueError):
                chain = [ssl.DER_cert_to_PEM_cert(bytes(der)) for der in unverified() or ()]
    if chain:
        # Only a verified certificate is parsed by the ssl module.
        parsed = ssl_object.getpeercert()
        if parsed and "subject" in parsed:
            name = _distinguished_name(parsed["subject"])
    return {
        "server_cert": server_cert,
        "client_cert_chain": chain,
        "client_cert_name": name,
        "client_cert_error": None,
        "tls_version": _VERSIONS.get(ssl_object.version() or ""),
        "cipher_suite": _cipher_suite(ssl_object.context, cipher[0]) if cipher else None,
    }
