"""RFC 9113 §6.3: PRIORITY frames."""

from __future__ import annotations

import pytest

from .client import H2Client, Priority
from .frames import ErrorCode, FrameType


def test_priority_on_stream_zero(conn: H2Client) -> None:
    """§6.3: PRIORITY on stream 0 is a connection error PROTOCOL_ERROR."""
    conn.send_priority(0, Priority(weight=16))
    conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)


@pytest.mark.parametrize("length", [4, 6])
def test_priority_with_wrong_length(conn: H2Client, length: int) -> None:
    """§6.3: a PRIORITY frame that is not 5 octets is a stream error FRAME_SIZE_ERROR."""
    stream_id = conn.open_stream()
    conn.send_frame(FrameType.PRIORITY, b"\x00" * length, stream_id=stream_id)
    conn.expect_stream_error(stream_id, ErrorCode.FRAME_SIZE_ERROR)


@pytest.mark.parametrize(
    "priority",
    [
        Priority(weight=1),
        Priority(weight=256),
        Priority(depends_on=3, weight=16),
        Priority(depends_on=3, weight=16, exclusive=True),
    ],
    ids=["weight-1", "weight-256", "dependency", "exclusive"],
)
def test_priority_values_are_accepted(conn: H2Client, priority: Priority) -> None:
    """§6.3: PRIORITY with any weight, dependency or exclusive flag is accepted."""
    stream_id = conn.open_stream()
    conn.send_priority(stream_id, priority)
    conn.send_data(stream_id, b"", end_stream=True)
    assert conn.expect_response(stream_id).status == 200


def test_priority_on_idle_stream_then_lower_stream(conn: H2Client) -> None:
    """§6.3/§5.1.1: PRIORITY on idle stream 5 does not open it; stream 3 can still open."""
    conn.send_priority(5, Priority(weight=16))
    assert conn.expect_response(conn.request("GET", stream_id=3)).status == 200
    assert conn.expect_response(conn.request("GET", stream_id=5)).status == 200
