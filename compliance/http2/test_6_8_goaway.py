"""RFC 9113 §6.8: GOAWAY frames."""

from __future__ import annotations

from hyperframe.frame import GoAwayFrame

from .client import CLOSED, ExpectationFailed, H2Client, describe
from .frames import ErrorCode, FrameType, goaway_payload

# How long to watch for an error reply to a valid GOAWAY. The server may keep the connection
# open or close it (h2spec expects the close), so nothing arriving is a pass, not a wait
# for something.
QUIET_PERIOD = 0.5


def _accepted_quietly(conn: H2Client) -> None:
    """After the client's GOAWAY the server closes, or says nothing; never an error."""
    try:
        event = conn.wait_for(
            lambda e: isinstance(e, GoAwayFrame) or e is CLOSED,
            "close",
            timeout=QUIET_PERIOD,
        )
    except ExpectationFailed:
        return  # still open and silent: allowed
    if isinstance(event, GoAwayFrame) and event.error_code != ErrorCode.NO_ERROR:
        raise ExpectationFailed(f"the server answered a valid GOAWAY with {describe(event)}")


def test_goaway_on_a_stream(conn: H2Client) -> None:
    """§6.8: GOAWAY on a stream other than 0 is a connection error PROTOCOL_ERROR."""
    conn.send_frame(FrameType.GOAWAY, goaway_payload(0, ErrorCode.NO_ERROR), stream_id=1)
    conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)


def test_goaway_too_short(conn: H2Client) -> None:
    """§4.2/§6.8: a GOAWAY shorter than its 8 mandatory octets is a FRAME_SIZE_ERROR."""
    conn.send_frame(FrameType.GOAWAY, goaway_payload(0, ErrorCode.NO_ERROR)[:4])
    conn.expect_connection_error(ErrorCode.FRAME_SIZE_ERROR)


def test_goaway_from_client(conn: H2Client) -> None:
    """§6.8: a client's GOAWAY (NO_ERROR) is accepted: no error in return."""
    assert conn.get().status == 200
    conn.send_goaway(0, ErrorCode.NO_ERROR)
    _accepted_quietly(conn)


def test_goaway_with_debug_data(conn: H2Client) -> None:
    """§6.8: GOAWAY may carry opaque debug data of any length."""
    conn.send_goaway(0, ErrorCode.NO_ERROR, b"compliance suite closing " * 10)
    _accepted_quietly(conn)
