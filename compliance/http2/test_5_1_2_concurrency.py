"""RFC 9113 §5.1.2: stream concurrency and SETTINGS_MAX_CONCURRENT_STREAMS."""

from __future__ import annotations

import pytest

from . import streams
from .client import Connector, H2Client
from .frames import ErrorCode, Setting

# Opening more streams than this would make a slow test; a server that allows more is skipped.
LARGEST_LIMIT_TESTED = 1000
REFUSED = (ErrorCode.REFUSED_STREAM, ErrorCode.PROTOCOL_ERROR)


def _limit(conn: H2Client) -> int:
    if Setting.MAX_CONCURRENT_STREAMS not in conn.server_settings:
        pytest.skip("the server sets no SETTINGS_MAX_CONCURRENT_STREAMS")
    limit = conn.server_settings[Setting.MAX_CONCURRENT_STREAMS]
    if limit > LARGEST_LIMIT_TESTED:
        pytest.skip(f"SETTINGS_MAX_CONCURRENT_STREAMS is {limit}; too many to open quickly")
    return limit


def _fill(conn: H2Client, limit: int) -> list[int]:
    """``limit`` open streams (POST without END_STREAM), checked to be still open."""
    opened = [conn.open_stream() for _ in range(limit)]
    conn.expect_alive(streams=opened)
    return opened


def test_stream_above_limit_is_refused(conn: H2Client) -> None:
    """§5.1.2: a stream above the limit gets RST_STREAM REFUSED_STREAM or PROTOCOL_ERROR."""
    _fill(conn, _limit(conn))
    extra = conn.open_stream()
    conn.expect_stream_error(extra, *REFUSED)


def test_half_closed_streams_count_toward_limit(connect: Connector) -> None:
    """§5.1.2: half-closed streams count toward the limit too."""
    conn = connect(streams.ZERO_WINDOW)
    limit = _limit(conn)
    # Whole requests whose responses wait for window: each stream is half-closed (remote).
    held = [conn.request("GET") for _ in range(limit)]
    for stream_id in held:
        conn.expect_headers(stream_id)
    extra = conn.request("GET")
    conn.expect_stream_error(extra, *REFUSED)


def test_closing_a_stream_frees_a_slot(conn: H2Client) -> None:
    """§5.1.2: once a stream at the limit is reset, a new stream is accepted."""
    opened = _fill(conn, _limit(conn))
    conn.send_rst_stream(opened[0], ErrorCode.CANCEL)
    stream_id = conn.request("GET")
    assert conn.expect_response(stream_id).status == 200


def test_connection_usable_after_refusal(conn: H2Client) -> None:
    """§5.1.2/§5.4.2: after a refused stream, finishing another lets a new one through."""
    opened = _fill(conn, _limit(conn))
    refused = conn.open_stream()
    conn.expect_stream_error(refused, *REFUSED)
    if conn.goaway is not None or conn.closed:
        pytest.skip("the server refused with a connection error (allowed by §5.4.1)")
    conn.send_data(opened[0], b"done", end_stream=True)
    assert conn.expect_response(opened[0]).status == 200
    assert conn.expect_response(conn.request("GET")).status == 200
