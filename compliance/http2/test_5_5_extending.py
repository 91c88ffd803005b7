"""RFC 9113 §5.5: extending HTTP/2 (unknown frame types and settings)."""

from __future__ import annotations

import struct

import pytest

from .client import H2Client
from .frames import ErrorCode, Setting

# 0x0b is unassigned, 0x20 and 0xff are far past every registered type.
UNKNOWN_TYPES = [0x0B, 0x20, 0xFF]


@pytest.mark.parametrize("frame_type", UNKNOWN_TYPES, ids=lambda t: f"type-0x{t:02x}")
def test_unknown_frame_type_on_stream_zero(conn: H2Client, frame_type: int) -> None:
    """§5.5: an unknown frame type is discarded, whatever its flags and payload."""
    conn.send_frame(frame_type, b"\x00\x01\x02extension", flags=0xFF)
    conn.expect_alive()


def test_unknown_frame_type_on_idle_stream(conn: H2Client) -> None:
    """§5.5/§5.1: an unknown frame on an idle stream changes nothing; the stream opens later."""
    conn.send_frame(0xFE, b"extension", stream_id=1)
    conn.expect_alive()
    assert conn.expect_response(conn.request("GET", stream_id=1)).status == 200


def test_unknown_frame_type_on_open_stream(conn: H2Client) -> None:
    """§5.5: an unknown frame on an open stream is discarded; the request completes."""
    stream_id = conn.open_stream()
    conn.send_frame(0xFE, b"extension", stream_id=stream_id)
    conn.send_data(stream_id, b"body", end_stream=True)
    assert conn.expect_response(stream_id).status == 200


def test_unknown_frame_inside_field_block(conn: H2Client) -> None:
    """§5.5: an extension frame in the middle of a field block is a PROTOCOL_ERROR."""
    block = conn.encode(conn.request_headers())
    conn.send_header_block(1, block[:5], end_headers=False)
    conn.send_frame(0xFE, b"extension", stream_id=1)
    conn.send_continuation(1, block[5:])
    conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)


def test_altsvc_from_client_is_ignored(conn: H2Client) -> None:
    """§5.5 (RFC 7838 §4): an ALTSVC frame sent by a client is ignored by the server."""
    origin = b"http://example.com"
    payload = struct.pack(">H", len(origin)) + origin + b'h2=":443"'
    conn.send_frame(0x0A, payload)
    conn.expect_alive()


def test_unknown_setting_is_ignored(conn: H2Client) -> None:
    """§5.5/§6.5.2: an unknown setting identifier is ignored and the SETTINGS acknowledged."""
    conn.send_settings((0x00FF, 1), (0xABCD, 0xFFFF_FFFF))
    conn.expect_settings_ack()
    conn.expect_alive()


def test_unknown_settings_among_known(conn: H2Client) -> None:
    """§6.5.2: unknown settings around a known one are skipped; the known one applies."""
    conn.send_settings((0x00FF, 7), (Setting.INITIAL_WINDOW_SIZE, 1), (0x00FE, 7))
    conn.expect_settings_ack()
    data = conn.expect_data(conn.request("GET"))
    assert data.flow_controlled_length == 1
