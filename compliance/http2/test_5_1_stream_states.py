"""RFC 9113 §5.1: stream states (idle, open, half-closed (remote), closed)."""

from __future__ import annotations

from hyperframe.frame import DataFrame

from . import streams
from .client import Connector, H2Client, Priority
from .frames import ErrorCode

TRAILERS = [("x-trailer", "late")]

# -- idle ----------------------------------------------------------------------------------


def test_idle_data(conn: H2Client) -> None:
    """§5.1 idle: DATA on an idle stream is a connection error PROTOCOL_ERROR."""
    conn.send_data(1, b"idle", end_stream=True)
    conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)


def test_idle_rst_stream(conn: H2Client) -> None:
    """§5.1 idle: RST_STREAM on an idle stream is a connection error PROTOCOL_ERROR."""
    conn.send_rst_stream(1, ErrorCode.CANCEL)
    conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)


def test_idle_window_update(conn: H2Client) -> None:
    """§5.1 idle: WINDOW_UPDATE on an idle stream is a connection error PROTOCOL_ERROR."""
    conn.send_window_update(1, 100)
    conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)


def test_idle_continuation(conn: H2Client) -> None:
    """§5.1 idle: CONTINUATION on an idle stream is a connection error PROTOCOL_ERROR."""
    conn.send_continuation(1, conn.encode(conn.request_headers()))
    conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)


def test_idle_priority_is_allowed(conn: H2Client) -> None:
    """§5.1 idle: PRIORITY is allowed on an idle stream, which can then still be opened."""
    conn.send_priority(1, Priority(weight=32))
    conn.expect_alive()
    assert conn.expect_response(conn.request("GET", stream_id=1)).status == 200


# -- open ----------------------------------------------------------------------------------


def test_open_stream_takes_data(conn: H2Client) -> None:
    """§5.1 open: HEADERS without END_STREAM opens a stream; DATA with END_STREAM ends it."""
    stream_id = conn.open_stream()
    conn.send_data(stream_id, b"request body", end_stream=True)
    assert conn.expect_response(stream_id).status == 200


# -- half-closed (remote) ------------------------------------------------------------------


def test_half_closed_remote_data(connect: Connector) -> None:
    """§5.1 half-closed (remote): DATA is a stream error STREAM_CLOSED."""
    conn, stream_id = streams.half_closed_remote(connect)
    conn.send_data(stream_id, b"too late", end_stream=True)
    conn.expect_stream_error(stream_id, ErrorCode.STREAM_CLOSED)


def test_half_closed_remote_headers(connect: Connector) -> None:
    """§5.1 half-closed (remote): HEADERS is a stream error STREAM_CLOSED."""
    conn, stream_id = streams.half_closed_remote(connect)
    conn.send_headers(stream_id, TRAILERS, end_stream=True)
    conn.expect_stream_error(stream_id, ErrorCode.STREAM_CLOSED)


def test_half_closed_remote_continuation(connect: Connector) -> None:
    """§5.1/§6.10 half-closed (remote): a CONTINUATION is STREAM_CLOSED or PROTOCOL_ERROR."""
    conn, stream_id = streams.half_closed_remote(connect)
    conn.send_continuation(stream_id, conn.encode(TRAILERS))
    conn.expect_stream_error(stream_id, ErrorCode.STREAM_CLOSED, ErrorCode.PROTOCOL_ERROR)


def test_half_closed_remote_window_update(connect: Connector) -> None:
    """§5.1 half-closed (remote): WINDOW_UPDATE is allowed and lets the response through."""
    conn, stream_id = streams.half_closed_remote(connect)
    conn.send_window_update(stream_id, 1_000_000)
    data = conn.expect_data(stream_id)
    assert data.flow_controlled_length > 0


def test_half_closed_remote_priority(connect: Connector) -> None:
    """§5.1 half-closed (remote): PRIORITY is allowed."""
    conn, stream_id = streams.half_closed_remote(connect)
    conn.send_priority(stream_id, Priority(weight=200))
    conn.expect_alive(streams=[stream_id])


def test_half_closed_remote_rst_stream(connect: Connector) -> None:
    """§5.1 half-closed (remote): RST_STREAM is allowed and closes the stream quietly."""
    conn, stream_id = streams.half_closed_remote(connect)
    conn.send_rst_stream(stream_id, ErrorCode.CANCEL)
    conn.expect_alive(streams=[stream_id])


# -- closed after RST_STREAM ---------------------------------------------------------------


def test_reset_stream_data(conn: H2Client) -> None:
    """§5.1 closed/§6.1: DATA after the client reset the stream is a stream error STREAM_CLOSED."""
    stream_id = streams.reset_by_client(conn)
    conn.send_data(stream_id, b"after reset", end_stream=True)
    conn.expect_stream_error(stream_id, ErrorCode.STREAM_CLOSED)


def test_reset_stream_headers(conn: H2Client) -> None:
    """§5.1 closed: HEADERS after the client reset the stream is STREAM_CLOSED."""
    stream_id = streams.reset_by_client(conn)
    conn.send_headers(stream_id, TRAILERS, end_stream=True)
    conn.expect_stream_error(stream_id, ErrorCode.STREAM_CLOSED, ErrorCode.PROTOCOL_ERROR)


def test_reset_stream_continuation(conn: H2Client) -> None:
    """§5.1 closed/§6.10: a CONTINUATION after RST_STREAM is STREAM_CLOSED or PROTOCOL_ERROR."""
    stream_id = streams.reset_by_client(conn)
    conn.send_continuation(stream_id, conn.encode(TRAILERS))
    conn.expect_stream_error(stream_id, ErrorCode.STREAM_CLOSED, ErrorCode.PROTOCOL_ERROR)


def test_reset_stream_priority(conn: H2Client) -> None:
    """§5.1 closed: PRIORITY is allowed on a stream the client reset."""
    stream_id = streams.reset_by_client(conn)
    conn.send_priority(stream_id, Priority(weight=8))
    conn.expect_alive(streams=[stream_id])


# -- closed after END_STREAM both ways -----------------------------------------------------


def test_closed_data(conn: H2Client) -> None:
    """§5.1 closed/§6.1: DATA on a closed stream is a stream or connection error STREAM_CLOSED."""
    stream_id = streams.closed(conn)
    conn.send_data(stream_id, b"after close", end_stream=True)
    conn.expect_stream_error(stream_id, ErrorCode.STREAM_CLOSED)


def test_closed_headers(conn: H2Client) -> None:
    """§5.1 closed/§5.1.1: HEADERS on a closed stream is STREAM_CLOSED or PROTOCOL_ERROR."""
    stream_id = streams.closed(conn)
    conn.send_headers(stream_id, conn.request_headers(), end_stream=True)
    conn.expect_stream_error(stream_id, ErrorCode.STREAM_CLOSED, ErrorCode.PROTOCOL_ERROR)


def test_closed_continuation(conn: H2Client) -> None:
    """§5.1 closed/§6.10: CONTINUATION on a closed stream is STREAM_CLOSED or PROTOCOL_ERROR."""
    stream_id = streams.closed(conn)
    conn.send_continuation(stream_id, conn.encode(TRAILERS))
    conn.expect_stream_error(stream_id, ErrorCode.STREAM_CLOSED, ErrorCode.PROTOCOL_ERROR)


def test_closed_priority(conn: H2Client) -> None:
    """§5.1 closed: PRIORITY is allowed on a closed stream."""
    stream_id = streams.closed(conn)
    conn.send_priority(stream_id, Priority(weight=64))
    conn.expect_alive(streams=[stream_id])


def test_closed_window_update_just_after_close(conn: H2Client) -> None:
    """§5.1 closed: WINDOW_UPDATE arriving just after END_STREAM is ignored."""
    stream_id = streams.closed(conn)
    conn.send_window_update(stream_id, 1000)
    conn.expect_alive(streams=[stream_id])


def test_closed_rst_stream_just_after_close(conn: H2Client) -> None:
    """§5.1 closed: RST_STREAM arriving just after END_STREAM is ignored."""
    stream_id = streams.closed(conn)
    conn.send_rst_stream(stream_id, ErrorCode.CANCEL)
    conn.expect_alive(streams=[stream_id])


def test_response_data_stops_at_end_stream(conn: H2Client) -> None:
    """§5.1: the server sends nothing but PRIORITY/RST on a stream after its END_STREAM."""
    stream_id = streams.closed(conn)
    leftovers = conn.expect_alive()
    # The client raises ServerViolation on HEADERS/DATA after END_STREAM; check the queue too.
    assert not [e for e in leftovers if isinstance(e, DataFrame) and e.stream_id == stream_id]
