"""RFC 9113 §6.4: RST_STREAM frames."""

from __future__ import annotations

import pytest

from .client import H2Client
from .frames import ErrorCode, FrameType, rst_stream_payload


def test_rst_stream_on_stream_zero(conn: H2Client) -> None:
    """§6.4: RST_STREAM on stream 0 is a connection error PROTOCOL_ERROR."""
    conn.send_rst_stream(0, ErrorCode.CANCEL)
    conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)


def test_rst_stream_on_idle_stream(conn: H2Client) -> None:
    """§6.4: RST_STREAM on an idle stream (past every opened one) is a PROTOCOL_ERROR."""
    assert conn.get().status == 200  # stream 1
    conn.send_rst_stream(5, ErrorCode.CANCEL)
    conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)


@pytest.mark.parametrize("length", [3, 5])
def test_rst_stream_with_wrong_length(conn: H2Client, length: int) -> None:
    """§6.4: a RST_STREAM that is not 4 octets is a connection error FRAME_SIZE_ERROR."""
    stream_id = conn.open_stream()
    payload = (rst_stream_payload(ErrorCode.CANCEL) + b"\x00")[:length]
    conn.send_frame(FrameType.RST_STREAM, payload, stream_id=stream_id)
    conn.expect_connection_error(ErrorCode.FRAME_SIZE_ERROR)


def test_rst_stream_on_open_stream(conn: H2Client) -> None:
    """§6.4: after RST_STREAM the server sends nothing more on that stream but carries on."""
    stream_id = conn.open_stream()
    conn.send_rst_stream(stream_id, ErrorCode.CANCEL)
    leftovers = conn.expect_alive(streams=[stream_id])
    assert not [e for e in leftovers if getattr(e, "stream_id", None) == stream_id]
    assert conn.get().status == 200
