"""Section 7, the closing handshake: RFC 6455 §5.5.1, §7.1-§7.4.

A Close is answered with a Close, typically echoing the code (§5.5.1); after its Close an
endpoint sends no more data, and once it has both sent and received one it MUST close the
transport (§5.5.1) — the server first (§7.1.1). On HTTP/2 the transport is the stream: END_STREAM
stands for the TCP FIN (RFC 8441 §5).

A Close body is empty, or a 2-byte code then a UTF-8 reason, within the 125-byte limit of
control frames. Codes 0-999, 1004-1006, 1015 and unassigned 1016-2999 may not be sent (§7.4.1,
§7.4.2): receiving one is a protocol error (1002). 1012-1014 were registered with IANA after
RFC 6455 and are left out: accepting and refusing them are both defensible.
"""

from __future__ import annotations

import pytest

from .client import Close, Message, WebSocketConnection, close_payload
from .frames import Frame, Opcode
from .payloads import ascii_text

VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999]
INVALID_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]


def test_close_after_echo(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.5.1, §7.1.1 (Autobahn 7.1.1): echo, Close 1000 answered, transport closed."""
    conn.send_frame(Opcode.TEXT, b"Hello, world!")
    conn.expect_message(Opcode.TEXT, b"Hello, world!")
    conn.close_handshake(1000, wait_closed=True)


def test_close_twice(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.5.1 (Autobahn 7.1.2): a second Close is ignored; one Close back, then closed."""
    conn.send_close(1000)
    conn.send_close(1000)
    conn.expect_close(1000)
    conn.expect_transport_closed()


def test_ping_after_close(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.5.1 (Autobahn 7.1.3): a Ping after the Close is not answered."""
    conn.send_close(1000)
    conn.send_frame(Opcode.PING, b"must not be answered")
    conn.expect_close(1000)
    conn.expect_transport_closed()


def test_text_after_close(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.5.1 (Autobahn 7.1.4): a text message after the Close is not echoed."""
    conn.send_close(1000)
    conn.send_frame(Opcode.TEXT, b"must not be echoed")
    conn.expect_close(1000)
    conn.expect_transport_closed()


def test_close_inside_fragmented_message(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.4, §5.5.1 (Autobahn 7.1.5): Close between fragments; the message is dropped."""
    conn.send_frames(
        [
            Frame(Opcode.TEXT, b"fragment1", fin=False),
            Frame(Opcode.CLOSE, close_payload(1000)),
            Frame(Opcode.CONTINUATION, b"fragment2"),
        ]
    )
    conn.expect_close(1000)
    conn.expect_transport_closed()


def test_large_message_then_close(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.5.1 (Autobahn 7.1.6): 256 KiB then Close: maybe the echo, then Close 1000."""
    payload = ascii_text(256 * 1024)
    conn.send_frame(Opcode.TEXT, payload)
    conn.send_close(1000)
    event = conn.next_event()
    if isinstance(event, Message):
        assert (event.opcode, event.data) == (Opcode.TEXT, payload), "the echo was altered"
        event = conn.next_event()
    assert isinstance(event, Close), f"expected Close 1000, got {event!r}"
    assert event.code == 1000, f"expected close code 1000, got {event.code}"
    conn.expect_transport_closed()


def test_transport_closed_after_failure(conn: WebSocketConnection) -> None:
    """RFC 6455 §7.1.7, §5.5.1 (no Autobahn case): after failing with 1002, the server closes."""
    conn.send_frame(0x3, b"reserved opcode")
    conn.expect_fail(1002, wait_closed=True)


def test_close_empty(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.5.1, §7.1.5 (Autobahn 7.3.1): an empty Close is answered (empty or 1000)."""
    conn.send_close(None)
    conn.expect_close(None, 1000)
    conn.expect_transport_closed()


def test_close_one_byte(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.5.1 (Autobahn 7.3.2): a 1-byte Close body is a protocol error: close 1002."""
    conn.send_frame(Opcode.CLOSE, b"\x03")
    conn.expect_fail(1002)


def test_close_code_only(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.5.1 (Autobahn 7.3.3): Close 1000 with no reason is answered with 1000."""
    conn.close_handshake(1000)


def test_close_with_reason(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.5.1 (Autobahn 7.3.4): Close 1000 with a reason is answered with 1000."""
    conn.close_handshake(1000, b"Hello World!")


def test_close_reason_123_bytes(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.5 (Autobahn 7.3.5): a 125-byte Close body (123-byte reason) is answered."""
    conn.close_handshake(1000, b"*" * 123)


def test_close_reason_124_bytes(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.5 (Autobahn 7.3.6): a 126-byte Close body exceeds 125 bytes: close 1002."""
    conn.send_frame(Opcode.CLOSE, close_payload(1000, b"*" * 124))
    conn.expect_fail(1002)


def test_close_reason_multibyte_utf8(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.5.1 (no Autobahn case): a reason of valid multibyte UTF-8 is accepted."""
    conn.close_handshake(1000, "κόσμε 😀".encode())


def test_close_reason_invalid_utf8(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.5.1, §8.1 (Autobahn 7.5.1): a reason that is not UTF-8 fails with 1007."""
    conn.send_frame(Opcode.CLOSE, close_payload(1000, "κόσμε".encode() + b"\xed\xa0\x80"))
    conn.expect_fail(1007)


@pytest.mark.parametrize("code", VALID_CODES)
def test_valid_close_code(conn: WebSocketConnection, code: int) -> None:
    """RFC 6455 §7.4.1-§7.4.2 (Autobahn 7.7.x): a valid close code is answered with it or 1000."""
    conn.close_handshake(code)


@pytest.mark.parametrize("code", INVALID_CODES)
def test_invalid_close_code(conn: WebSocketConnection, code: int) -> None:
    """RFC 6455 §7.4.1-§7.4.2 (Autobahn 7.9.x): a Close with a code not to be sent: close 1002."""
    conn.send_frame(Opcode.CLOSE, close_payload(code))
    conn.expect_fail(1002)
