"""RFC 9113 §4.1: frame format (unknown types, undefined flags, the reserved bit)."""

from __future__ import annotations

from hyperframe.frame import PingFrame

from .client import H2Client
from .frames import Flag, FrameType


def test_unknown_frame_type_is_ignored(conn: H2Client) -> None:
    """§4.1: frames of an unknown type are ignored; the connection carries on."""
    conn.send_frame(0xFF, b"unknown extension payload")
    conn.expect_alive()


def test_undefined_ping_flags_are_ignored(conn: H2Client) -> None:
    """§4.1: undefined flags on a PING are ignored; the ACK sets no undefined flag."""
    conn.send_frame(FrameType.PING, b"flagtest", flags=0xFE & ~Flag.ACK)
    conn.expect_ping_ack(b"flagtest")


def test_undefined_headers_flags_are_ignored(conn: H2Client) -> None:
    """§4.1: undefined flags on HEADERS are ignored; the request is answered."""
    stream_id = conn.next_stream_id()
    conn.send_headers(stream_id, conn.request_headers(), extra_flags=0x02 | 0x10 | 0x40 | 0x80)
    assert conn.expect_response(stream_id).status == 200


def test_undefined_data_flags_are_ignored(conn: H2Client) -> None:
    """§4.1: undefined flags on DATA are ignored; the request is answered."""
    stream_id = conn.open_stream()
    conn.send_data(stream_id, b"body", end_stream=True, extra_flags=0x02 | 0x04 | 0x20 | 0x80)
    assert conn.expect_response(stream_id).status == 200


def test_reserved_bit_on_headers_is_ignored(conn: H2Client) -> None:
    """§4.1: the reserved bit of the stream identifier is ignored when receiving."""
    stream_id = conn.next_stream_id()
    conn.send_headers(stream_id, conn.request_headers(), reserved=True)
    assert conn.expect_response(stream_id).status == 200


def test_reserved_bit_on_ping_is_ignored(conn: H2Client) -> None:
    """§4.1: a PING with the reserved bit set is still a PING on stream 0, and is answered."""
    conn.send_frame(FrameType.PING, b"reserved", reserved=True)
    event = conn.wait_for(lambda e: isinstance(e, PingFrame), "PING ACK")
    assert isinstance(event, PingFrame)
    assert "ACK" in event.flags
    assert event.opaque_data == b"reserved"
