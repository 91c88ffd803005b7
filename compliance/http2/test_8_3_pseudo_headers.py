"""RFC 9113 §8.3: HTTP control data (pseudo-header fields of requests)."""

from __future__ import annotations

import pytest

from .client import H2Client

REQUIRED = [b":method", b":scheme", b":path"]
PSEUDO = [b":method", b":scheme", b":path", b":authority"]


def _send(conn: H2Client, headers: list[tuple[bytes, bytes]], *, end_stream: bool = True) -> int:
    stream_id = conn.next_stream_id()
    conn.send_headers(stream_id, headers, raw=True, end_stream=end_stream)
    return stream_id


def test_unknown_pseudo_header(conn: H2Client) -> None:
    """§8.3: an unknown pseudo-header field makes the request malformed."""
    conn.expect_malformed(_send(conn, [*conn.request_headers(), (b":unknown", b"x")]))


def test_response_pseudo_header_in_request(conn: H2Client) -> None:
    """§8.3: a response pseudo-header (:status) in a request is malformed."""
    conn.expect_malformed(_send(conn, [*conn.request_headers(), (b":status", b"200")]))


def test_pseudo_header_after_regular_field(conn: H2Client) -> None:
    """§8.3: a pseudo-header field after a regular field is malformed."""
    headers = conn.request_headers()
    reordered = [*headers[:3], (b"x-regular", b"1"), headers[3]]
    conn.expect_malformed(_send(conn, reordered))


def test_pseudo_header_in_trailers(conn: H2Client) -> None:
    """§8.3: pseudo-header fields in trailers make the request malformed."""
    stream_id = _send(conn, conn.request_headers("POST"), end_stream=False)
    conn.send_data(stream_id, b"body")
    conn.send_headers(stream_id, [(b":method", b"POST"), (b"x-trailer", b"1")], raw=True)
    conn.expect_malformed(stream_id)


def test_empty_path(conn: H2Client) -> None:
    """§8.3.1: an empty :path (http/https) makes the request malformed."""
    headers = [(k, b"" if k == b":path" else v) for k, v in conn.request_headers()]
    conn.expect_malformed(_send(conn, headers))


@pytest.mark.parametrize("missing", REQUIRED, ids=lambda n: n.decode())
def test_missing_pseudo_header(conn: H2Client, missing: bytes) -> None:
    """§8.3.1: a request without :method, :scheme or :path is malformed."""
    headers = [(k, v) for k, v in conn.request_headers() if k != missing]
    conn.expect_malformed(_send(conn, headers))


@pytest.mark.parametrize("repeated", PSEUDO, ids=lambda n: n.decode())
def test_duplicated_pseudo_header(conn: H2Client, repeated: bytes) -> None:
    """§8.3: a pseudo-header field that appears twice makes the request malformed."""
    headers = conn.request_headers()
    value = dict(headers)[repeated]
    duplicated = [*headers[:4], (repeated, value), *headers[4:]]
    duplicated.sort(key=lambda field: not field[0].startswith(b":"))
    conn.expect_malformed(_send(conn, duplicated))


def test_host_instead_of_authority(conn: H2Client) -> None:
    """§8.3.1: a request may carry Host instead of :authority."""
    headers = [(k, v) for k, v in conn.request_headers() if k != b":authority"]
    headers.append((b"host", conn.target.authority.encode()))
    assert conn.expect_response(_send(conn, headers)).status == 200


def test_authority_and_matching_host(conn: H2Client) -> None:
    """§8.3.1: :authority with an identical Host field is fine."""
    headers = [*conn.request_headers(), (b"host", conn.target.authority.encode())]
    assert conn.expect_response(_send(conn, headers)).status == 200
