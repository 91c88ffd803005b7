"""RFC 9113 §6.6 and §8.4: PUSH_PROMISE, which only servers may send."""

from __future__ import annotations

import struct

from .client import H2Client
from .frames import ErrorCode, Flag, FrameType


def test_push_promise_from_client(conn: H2Client) -> None:
    """§8.4/§6.6: a PUSH_PROMISE from a client is a connection error PROTOCOL_ERROR."""
    stream_id = conn.open_stream()
    block = conn.encode(conn.request_headers())
    payload = struct.pack(">I", 2) + block
    conn.send_frame(FrameType.PUSH_PROMISE, payload, flags=Flag.END_HEADERS, stream_id=stream_id)
    conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)


def test_push_promise_on_stream_zero(conn: H2Client) -> None:
    """§6.6: a PUSH_PROMISE on stream 0 is a connection error PROTOCOL_ERROR."""
    payload = struct.pack(">I", 2) + conn.encode(conn.request_headers())
    conn.send_frame(FrameType.PUSH_PROMISE, payload, flags=Flag.END_HEADERS, stream_id=0)
    conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)


def test_no_push_when_disabled(conn: H2Client) -> None:
    """§6.5.2/§8.4: with SETTINGS_ENABLE_PUSH=0 the server sends no PUSH_PROMISE."""
    # The client disabled push in its preface and fails on any PUSH_PROMISE it reads.
    assert conn.get().status == 200
    conn.expect_alive()
