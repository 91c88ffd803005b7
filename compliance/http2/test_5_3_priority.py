"""RFC 9113 §5.3: prioritization (RFC 7540 stream dependencies, still parsed)."""

from __future__ import annotations

from .client import Connector, H2Client, Priority
from .frames import ErrorCode, Setting


def test_headers_depending_on_itself(conn: H2Client) -> None:
    """§5.3.1: a HEADERS frame whose stream depends on itself is a stream error PROTOCOL_ERROR."""
    conn.send_headers(1, conn.request_headers(), priority=Priority(depends_on=1))
    conn.expect_stream_error(1, ErrorCode.PROTOCOL_ERROR)


def test_priority_depending_on_itself_idle(conn: H2Client) -> None:
    """§5.3.1: a PRIORITY frame making an idle stream depend on itself is PROTOCOL_ERROR."""
    conn.send_priority(1, Priority(depends_on=1))
    conn.expect_stream_error(1, ErrorCode.PROTOCOL_ERROR)


def test_priority_depending_on_itself_open(conn: H2Client) -> None:
    """§5.3.1: a PRIORITY frame making an open stream depend on itself is PROTOCOL_ERROR."""
    stream_id = conn.open_stream()
    conn.send_priority(stream_id, Priority(depends_on=stream_id))
    conn.expect_stream_error(stream_id, ErrorCode.PROTOCOL_ERROR)


def test_headers_with_priority(conn: H2Client) -> None:
    """§5.3.1: HEADERS with priority fields (exclusive, weight 256) is answered normally."""
    conn.send_headers(1, conn.request_headers(), priority=Priority(0, 256, exclusive=True))
    assert conn.expect_response(1).status == 200


def test_dependency_on_unknown_stream(conn: H2Client) -> None:
    """§5.3.1: a dependency on a stream that does not exist is no error."""
    conn.send_headers(1, conn.request_headers(), priority=Priority(depends_on=99, weight=10))
    assert conn.expect_response(1).status == 200


def test_no_rfc7540_priorities_setting(connect: Connector) -> None:
    """§5.3.2: SETTINGS_NO_RFC7540_PRIORITIES=1 is a valid setting; requests still work."""
    conn = connect([(Setting.ENABLE_PUSH, 0), (Setting.NO_RFC7540_PRIORITIES, 1)])
    assert conn.get().status == 200
