"""RFC 9113 §5.4: error handling."""

from __future__ import annotations

import pytest
from hyperframe.frame import GoAwayFrame

from .client import H2Client, Priority
from .frames import ErrorCode, FrameType


def test_connection_error_closes_connection(conn: H2Client) -> None:
    """§5.4.1: after a connection error (a 6-octet PING) the server closes the connection."""
    conn.send_frame(FrameType.PING, b"\x00" * 6)
    conn.expect_connection_error(ErrorCode.FRAME_SIZE_ERROR)
    conn.expect_closed()


def test_goaway_names_last_processed_stream(conn: H2Client) -> None:
    """§5.4.1/§6.8: the GOAWAY for a connection error names the last stream processed."""
    assert conn.get().status == 200  # stream 1
    conn.send_frame(FrameType.PING, b"\x00" * 6)
    conn.expect_connection_error(ErrorCode.FRAME_SIZE_ERROR)
    goaway = conn.goaway
    if goaway is None:
        pytest.skip("the server closed without a GOAWAY (allowed; it SHOULD send one)")
    assert isinstance(goaway, GoAwayFrame)
    assert goaway.last_stream_id == 1


def test_stream_error_leaves_connection_usable(conn: H2Client) -> None:
    """§5.4.2: a stream error ends the stream only; other streams carry on."""
    conn.send_headers(1, conn.request_headers(), priority=Priority(depends_on=1))
    conn.expect_stream_error(1, ErrorCode.PROTOCOL_ERROR)
    if conn.goaway is not None or conn.closed:
        pytest.skip("the server treated the stream error as a connection error (§5.4.1)")
    assert conn.expect_response(conn.request("GET", stream_id=3)).status == 200


def test_no_rst_stream_in_reply_to_rst_stream(conn: H2Client) -> None:
    """§5.4.2: an endpoint must not answer a RST_STREAM with a RST_STREAM."""
    stream_id = conn.open_stream()
    conn.send_rst_stream(stream_id, ErrorCode.CANCEL)
    conn.expect_alive(streams=[stream_id])
