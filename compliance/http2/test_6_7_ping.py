"""RFC 9113 §6.7: PING frames."""

from __future__ import annotations

import pytest

from .client import H2Client
from .frames import ErrorCode, Flag, FrameType


def test_ping_is_answered_with_same_payload(conn: H2Client) -> None:
    """§6.7: a PING is answered by a PING ACK with an identical payload."""
    conn.send_ping(b"\x01\x02\x03\x04\x05\x06\x07\x08")
    conn.expect_ping_ack(b"\x01\x02\x03\x04\x05\x06\x07\x08")


def test_ping_ack_is_not_answered(conn: H2Client) -> None:
    """§6.7: a PING with ACK set must not be answered."""
    conn.send_ping(b"unasked!", ack=True)
    conn.send_ping(b"asked!!!")
    conn.expect_ping_ack(b"asked!!!")


def test_pings_are_answered_in_order(conn: H2Client) -> None:
    """§6.7: every PING gets its own ACK."""
    payloads = [f"ping{n:04d}".encode() for n in range(5)]
    for payload in payloads:
        conn.send_ping(payload)
    for payload in payloads:
        conn.expect_ping_ack(payload)


def test_ping_on_a_stream(conn: H2Client) -> None:
    """§6.7: a PING on a stream other than 0 is a connection error PROTOCOL_ERROR."""
    conn.send_frame(FrameType.PING, b"stream 1", stream_id=1)
    conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)


@pytest.mark.parametrize("length", [0, 7, 9])
def test_ping_with_wrong_length(conn: H2Client, length: int) -> None:
    """§6.7: a PING whose length is not 8 is a connection error FRAME_SIZE_ERROR."""
    conn.send_frame(FrameType.PING, b"x" * length)
    conn.expect_connection_error(ErrorCode.FRAME_SIZE_ERROR)


def test_ping_ack_with_wrong_length(conn: H2Client) -> None:
    """§6.7: the length rule holds for PING ACKs too: FRAME_SIZE_ERROR."""
    conn.send_frame(FrameType.PING, b"x" * 6, flags=Flag.ACK)
    conn.expect_connection_error(ErrorCode.FRAME_SIZE_ERROR)
