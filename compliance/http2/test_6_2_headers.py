"""RFC 9113 §6.2: HEADERS frames."""

from __future__ import annotations

from .client import H2Client, Priority
from .frames import ErrorCode, Flag, FrameType, padded


def test_headers_then_priority_inside_block(conn: H2Client) -> None:
    """§6.2: after HEADERS without END_HEADERS, a PRIORITY frame is a PROTOCOL_ERROR."""
    block = conn.encode(conn.request_headers())
    conn.send_header_block(1, block[:5], end_headers=False)
    conn.send_priority(1, Priority(weight=16))
    conn.send_continuation(1, block[5:])
    conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)


def test_headers_for_another_stream_inside_block(conn: H2Client) -> None:
    """§6.2: HEADERS for another stream while a field block is open is a PROTOCOL_ERROR."""
    block = conn.encode(conn.request_headers())
    conn.send_header_block(1, block[:5], end_headers=False)
    conn.send_headers(3, conn.request_headers(), raw=True)
    conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)


def test_headers_on_stream_zero(conn: H2Client) -> None:
    """§6.2: HEADERS on stream 0 is a connection error PROTOCOL_ERROR."""
    conn.send_headers(0, conn.request_headers())
    conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)


def test_headers_with_invalid_pad_length(conn: H2Client) -> None:
    """§6.2: padding longer than what remains of the frame is a PROTOCOL_ERROR."""
    block = conn.encode(conn.request_headers())
    payload = padded(block, 0, pad_length_field=len(block) + 1)
    flags = Flag.PADDED | Flag.END_HEADERS | Flag.END_STREAM
    conn.send_frame(FrameType.HEADERS, payload, flags=flags, stream_id=1)
    conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)


def test_headers_with_invalid_pad_length_and_priority(conn: H2Client) -> None:
    """§6.2: the priority fields count toward the frame; padding past them is PROTOCOL_ERROR."""
    block = conn.encode(conn.request_headers())
    body = Priority(weight=16).encode() + block
    payload = padded(body, 0, pad_length_field=len(block) + 1)
    flags = Flag.PADDED | Flag.PRIORITY | Flag.END_HEADERS | Flag.END_STREAM
    conn.send_frame(FrameType.HEADERS, payload, flags=flags, stream_id=1)
    conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)


def test_headers_too_short_for_priority(conn: H2Client) -> None:
    """§4.2/§6.2: HEADERS with PRIORITY but under 5 octets is a connection FRAME_SIZE_ERROR."""
    flags = Flag.PRIORITY | Flag.END_HEADERS | Flag.END_STREAM
    conn.send_frame(FrameType.HEADERS, b"\x00\x00\x00", flags=flags, stream_id=1)
    conn.expect_connection_error(ErrorCode.FRAME_SIZE_ERROR)


def test_headers_with_padding(conn: H2Client) -> None:
    """§6.2: HEADERS with padding is answered normally."""
    conn.send_headers(1, conn.request_headers(), pad_length=16)
    assert conn.expect_response(1).status == 200


def test_headers_with_padding_and_priority(conn: H2Client) -> None:
    """§6.2: HEADERS with both padding and priority fields is answered normally."""
    conn.send_headers(1, conn.request_headers(), pad_length=7, priority=Priority(0, 100))
    assert conn.expect_response(1).status == 200


def test_headers_with_empty_block_fragment(conn: H2Client) -> None:
    """§6.2/§6.10: an empty fragment in HEADERS, the whole block in a CONTINUATION, is fine."""
    conn.send_header_block(1, b"", end_headers=False)
    conn.send_continuation(1, conn.encode(conn.request_headers()))
    assert conn.expect_response(1).status == 200
