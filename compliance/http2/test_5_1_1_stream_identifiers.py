"""RFC 9113 §5.1.1: stream identifiers."""

from __future__ import annotations

from .client import H2Client
from .frames import MAX_STREAM_ID, ErrorCode


def test_even_stream_identifier(conn: H2Client) -> None:
    """§5.1.1: a client stream with an even identifier is a connection error PROTOCOL_ERROR."""
    conn.send_headers(2, conn.request_headers())
    conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)


def test_smaller_stream_identifier(conn: H2Client) -> None:
    """§5.1.1: a new stream numbered below an earlier one is a connection error PROTOCOL_ERROR."""
    conn.send_headers(5, conn.request_headers())
    conn.send_headers(3, conn.request_headers())
    conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)


def test_skipped_identifiers_are_implicitly_closed(conn: H2Client) -> None:
    """§5.1.1: opening stream 7 closes idle streams 1-5; using stream 3 then is an error."""
    conn.send_headers(7, conn.request_headers(), end_stream=False)
    conn.send_headers(3, conn.request_headers())
    conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)


def test_gaps_in_identifiers_are_allowed(conn: H2Client) -> None:
    """§5.1.1: identifiers must increase but need not be consecutive."""
    for stream_id in (1, 11, 101):
        assert conn.expect_response(conn.request("GET", stream_id=stream_id)).status == 200


def test_largest_stream_identifier(conn: H2Client) -> None:
    """§5.1.1: the largest identifier, 2^31-1, is a valid stream."""
    stream_id = conn.request("GET", stream_id=MAX_STREAM_ID)
    assert conn.expect_response(stream_id).status == 200
