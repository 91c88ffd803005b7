"""RFC 9113 §8.2: HTTP fields (validity, connection-specific fields, cookies)."""

from __future__ import annotations

import pytest

from .client import H2Client

INVALID_NAMES = {
    "uppercase": b"X-Uppercase",
    "space": b"x name",
    "tab": b"x\tname",
    "nul": b"x\x00name",
    "cr": b"x\rname",
    "lf": b"x\nname",
    "del": b"x\x7fname",
    "non-ascii": b"x\xe9name",
    "colon": b"x:name",
}

INVALID_VALUES = {
    "nul": b"a\x00b",
    "cr": b"a\rb",
    "lf": b"a\nb",
    "crlf-injection": b"a\r\nx-injected: 1",
    "leading-space": b" value",
    "trailing-space": b"value ",
    "leading-tab": b"\tvalue",
    "trailing-tab": b"value\t",
}

CONNECTION_SPECIFIC = {
    "connection": (b"connection", b"keep-alive"),
    "keep-alive": (b"keep-alive", b"timeout=5"),
    "proxy-connection": (b"proxy-connection", b"keep-alive"),
    "transfer-encoding": (b"transfer-encoding", b"chunked"),
    "upgrade": (b"upgrade", b"websocket"),
}


@pytest.mark.parametrize("name", INVALID_NAMES.values(), ids=INVALID_NAMES.keys())
def test_invalid_field_name(conn: H2Client, name: bytes) -> None:
    """§8.2.1: a field name with uppercase, controls, SP, DEL, non-ASCII or ':' is malformed."""
    stream_id = conn.next_stream_id()
    conn.send_headers(stream_id, [*conn.request_headers(), (name, b"value")], raw=True)
    conn.expect_malformed(stream_id)


@pytest.mark.parametrize("value", INVALID_VALUES.values(), ids=INVALID_VALUES.keys())
def test_invalid_field_value(conn: H2Client, value: bytes) -> None:
    """§8.2.1: a value with NUL/CR/LF, or starting or ending with SP/HTAB, is malformed."""
    stream_id = conn.next_stream_id()
    conn.send_headers(stream_id, [*conn.request_headers(), (b"x-value", value)], raw=True)
    conn.expect_malformed(stream_id)


@pytest.mark.parametrize("field", CONNECTION_SPECIFIC.values(), ids=CONNECTION_SPECIFIC.keys())
def test_connection_specific_field(conn: H2Client, field: tuple[bytes, bytes]) -> None:
    """§8.2.2: a request with a connection-specific field is malformed."""
    stream_id = conn.next_stream_id()
    conn.send_headers(stream_id, [*conn.request_headers(), field], raw=True)
    conn.expect_malformed(stream_id)


@pytest.mark.parametrize("value", [b"gzip", b"trailers, deflate"])
def test_te_other_than_trailers(conn: H2Client, value: bytes) -> None:
    """§8.2.2: a TE field with any value other than "trailers" is malformed."""
    stream_id = conn.next_stream_id()
    conn.send_headers(stream_id, [*conn.request_headers(), (b"te", value)], raw=True)
    conn.expect_malformed(stream_id)


def test_te_trailers(conn: H2Client) -> None:
    """§8.2.2: TE: trailers is the one TE value allowed."""
    stream_id = conn.request("GET", extra=[("te", "trailers")])
    assert conn.expect_response(stream_id).status == 200


def test_empty_field_value(conn: H2Client) -> None:
    """§8.2.1: an empty field value is valid."""
    stream_id = conn.request("GET", extra=[("x-empty", "")])
    assert conn.expect_response(stream_id).status == 200


def test_inner_whitespace_and_visible_octets(conn: H2Client) -> None:
    """§8.2.1: SP and HTAB inside a value, and obs-text octets, are valid."""
    stream_id = conn.next_stream_id()
    headers = [*conn.request_headers(), (b"x-spaced", b"a b\tc \xe9")]
    conn.send_headers(stream_id, headers, raw=True)
    assert conn.expect_response(stream_id).status == 200


def test_split_cookie_fields(conn: H2Client) -> None:
    """§8.2.3: a cookie split into several fields is valid."""
    stream_id = conn.request("GET", extra=[("cookie", "a=1"), ("cookie", "b=2")])
    assert conn.expect_response(stream_id).status == 200


def test_response_fields_are_valid(conn: H2Client) -> None:
    """§8.2/§8.3.2: the server's response fields are lowercase, valid, not hop-by-hop."""
    # expect_response checks names, values, pseudo-header order and connection fields.
    response = conn.get()
    assert response.status == 200
    assert all(name == name.lower() for name, _ in response.headers)
