"""Ways to bring a client stream into each state of RFC 9113 §5.1, for the tests to build on."""

from __future__ import annotations

from .client import DEFAULT_SETTINGS, Connector, H2Client
from .frames import ErrorCode, Setting

# The client's settings with a zero stream window: the server can send a response's HEADERS
# but none of its DATA, so its side of the stream stays open for as long as the test needs.
ZERO_WINDOW = (*DEFAULT_SETTINGS, (Setting.INITIAL_WINDOW_SIZE, 0))


def half_closed_remote(connect: Connector) -> tuple[H2Client, int]:
    """A connection and a stream the server sees as "half-closed (remote)": the request ended
    with END_STREAM, and the response is held back by a zero flow-control window."""
    conn = connect(ZERO_WINDOW)
    stream_id = conn.request("GET")
    conn.expect_headers(stream_id)
    return conn, stream_id


def reset_by_client(conn: H2Client) -> int:
    """A stream the client opened and then reset with RST_STREAM (CANCEL): "closed"."""
    stream_id = conn.open_stream()
    conn.send_rst_stream(stream_id, ErrorCode.CANCEL)
    conn.expect_alive()
    return stream_id


def closed(conn: H2Client) -> int:
    """A stream both sides ended with END_STREAM: a complete GET and its response."""
    response = conn.get()
    return response.stream_id
