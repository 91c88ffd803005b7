"""RFC 9113 §9.2 (and §3.2): HTTP/2 over TLS."""

from __future__ import annotations

import ssl

import pytest

from .client import H2Client


def _tls(conn: H2Client) -> ssl.SSLSocket:
    if not isinstance(conn.sock, ssl.SSLSocket):
        pytest.skip("the target is cleartext (h2c)")
    return conn.sock


def test_alpn_h2(conn: H2Client) -> None:
    """§3.2: over TLS the protocol is chosen by ALPN, and the server picks "h2"."""
    assert _tls(conn).selected_alpn_protocol() == "h2"


def test_tls_version(conn: H2Client) -> None:
    """§9.2: HTTP/2 over TLS uses TLS 1.2 or later."""
    assert _tls(conn).version() in ("TLSv1.2", "TLSv1.3")


def test_no_tls_compression(conn: H2Client) -> None:
    """§9.2.1: TLS compression must be disabled."""
    assert _tls(conn).compression() is None


def test_tls_1_2_cipher_is_allowed(conn: H2Client) -> None:
    """§9.2.2: under TLS 1.2 the cipher is an AEAD one, not on the Appendix A block list."""
    sock = _tls(conn)
    if sock.version() != "TLSv1.2":
        pytest.skip("TLS 1.3 was negotiated; its cipher suites are all allowed")
    cipher = sock.cipher()
    assert cipher is not None
    assert "GCM" in cipher[0] or "CHACHA20" in cipher[0] or "CCM" in cipher[0]
