"""RFC 9113 §6.10: CONTINUATION frames."""

from __future__ import annotations

from .client import H2Client
from .frames import ErrorCode, Flag, FrameType


def _split(block: bytes, parts: int) -> list[bytes]:
    size = -(-len(block) // parts)
    return [block[i : i + size] for i in range(0, len(block), size)]


def test_one_continuation(conn: H2Client) -> None:
    """§6.10: HEADERS plus one CONTINUATION carrying END_HEADERS is a complete block."""
    block = conn.encode(conn.request_headers())
    conn.send_header_block(1, block[:7], end_headers=False)
    conn.send_continuation(1, block[7:])
    assert conn.expect_response(1).status == 200


def test_many_continuations(conn: H2Client) -> None:
    """§6.10: any number of CONTINUATION frames may follow HEADERS."""
    block = conn.encode(conn.request_headers(extra=[("x-filler", "f" * 200)]))
    first, *rest = _split(block, 8)
    conn.send_header_block(1, first, end_headers=False)
    for i, part in enumerate(rest):
        conn.send_continuation(1, part, end_headers=i == len(rest) - 1)
    assert conn.expect_response(1).status == 200


def test_empty_continuation(conn: H2Client) -> None:
    """§6.10: a CONTINUATION with an empty fragment is allowed."""
    block = conn.encode(conn.request_headers())
    conn.send_header_block(1, block, end_headers=False)
    conn.send_continuation(1, b"", end_headers=False)
    conn.send_continuation(1, b"")
    assert conn.expect_response(1).status == 200


def test_continuation_followed_by_data(conn: H2Client) -> None:
    """§6.10: a CONTINUATION without END_HEADERS followed by DATA is a PROTOCOL_ERROR."""
    block = conn.encode(conn.request_headers("POST"))
    conn.send_header_block(1, block[:5], end_stream=False, end_headers=False)
    conn.send_continuation(1, block[5:10], end_headers=False)
    conn.send_data(1, b"data", end_stream=True)
    conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)


def test_continuation_on_stream_zero(conn: H2Client) -> None:
    """§6.10: a CONTINUATION on stream 0 is a connection error PROTOCOL_ERROR."""
    block = conn.encode(conn.request_headers())
    conn.send_header_block(1, block[:5], end_headers=False)
    conn.send_frame(FrameType.CONTINUATION, block[5:], flags=Flag.END_HEADERS, stream_id=0)
    conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)


def test_continuation_after_end_headers(conn: H2Client) -> None:
    """§6.10: a CONTINUATION after HEADERS with END_HEADERS is a PROTOCOL_ERROR."""
    conn.send_headers(1, conn.request_headers(), end_stream=False)
    conn.send_continuation(1, conn.encode([("x-extra", "late")]))
    conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)


def test_continuation_after_continuation_with_end_headers(conn: H2Client) -> None:
    """§6.10: a CONTINUATION after one that carried END_HEADERS is a PROTOCOL_ERROR."""
    block = conn.encode(conn.request_headers())
    conn.send_header_block(1, block[:5], end_stream=False, end_headers=False)
    conn.send_continuation(1, block[5:])
    conn.send_continuation(1, conn.encode([("x-extra", "late")]))
    conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)


def test_continuation_after_data(conn: H2Client) -> None:
    """§6.10: a CONTINUATION following a DATA frame is a PROTOCOL_ERROR."""
    stream_id = conn.open_stream()
    conn.send_data(stream_id, b"body")
    conn.send_continuation(stream_id, conn.encode([("x-extra", "late")]))
    conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)
