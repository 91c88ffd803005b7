"""Section 2, pings and pongs: RFC 6455 §5.5.2 / §5.5.3.

A Ping is answered by a Pong with the same "Application data" as soon as is practical; control
frames carry at most 125 bytes and are never fragmented (§5.5); an unsolicited Pong is a
unidirectional heartbeat and needs no answer.
"""

from __future__ import annotations

from .client import Message, Pong, WebSocketConnection
from .frames import Opcode, encode_frame
from .payloads import binary


def test_ping_empty(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.5.3 (Autobahn 2.1): a Ping with no payload is answered by an empty Pong."""
    conn.send_frame(Opcode.PING)
    conn.expect_pong(b"")
    conn.close_handshake()


def test_ping_text_payload(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.5.3 (Autobahn 2.2): the Pong carries the Ping's text payload unchanged."""
    conn.send_frame(Opcode.PING, b"Hello, pong!")
    conn.expect_pong(b"Hello, pong!")
    conn.close_handshake()


def test_ping_binary_payload(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.5.3 (Autobahn 2.3): the Pong carries arbitrary binary payload unchanged."""
    payload = bytes([0x00, 0xFF, 0xFE, 0xFD, 0xFC, 0xFB, 0x00, 0xFF])
    conn.send_frame(Opcode.PING, payload)
    conn.expect_pong(payload)
    conn.close_handshake()


def test_ping_125_bytes(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.5 (Autobahn 2.4): a Ping of 125 bytes, the maximum, is answered in full."""
    payload = binary(125)
    conn.send_frame(Opcode.PING, payload)
    conn.expect_pong(payload)
    conn.close_handshake()


def test_ping_126_bytes(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.5 (Autobahn 2.5): a Ping of 126 bytes exceeds the limit: close 1002."""
    conn.send_frame(Opcode.PING, binary(126))
    conn.expect_fail(1002)


def test_ping_125_bytes_byte_by_byte(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.5.3 (Autobahn 2.6): a 125-byte Ping written one byte at a time is answered."""
    payload = binary(125)
    conn.send_frame(Opcode.PING, payload, chunk_size=1)
    conn.expect_pong(payload)
    conn.close_handshake()


def test_unsolicited_pong_empty(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.5.3 (Autobahn 2.7): an unsolicited empty Pong gets no answer."""
    conn.send_frame(Opcode.PONG)
    # The echo must be the next thing the server sends: nothing answered the Pong.
    conn.send_frame(Opcode.TEXT, b"after pong")
    conn.expect_message(Opcode.TEXT, b"after pong")
    conn.close_handshake()


def test_unsolicited_pong_payload(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.5.3 (Autobahn 2.8): an unsolicited Pong with payload gets no answer."""
    conn.send_frame(Opcode.PONG, b"unsolicited pong payload")
    conn.send_frame(Opcode.TEXT, b"after pong")
    conn.expect_message(Opcode.TEXT, b"after pong")
    conn.close_handshake()


def test_unsolicited_pong_then_ping(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.5.3 (Autobahn 2.9): a Pong then a Ping: only the Ping is answered."""
    conn.send_frame(Opcode.PONG, b"unsolicited pong payload")
    conn.send_frame(Opcode.PING, b"ping payload")
    conn.expect_pong(b"ping payload")
    conn.close_handshake()


def _ten_pings(conn: WebSocketConnection, chunk_size: int | None) -> None:
    payloads = [f"payload-{index}".encode() for index in range(10)]
    marker = b"after the pings"
    frames = b"".join(encode_frame(Opcode.PING, p) for p in payloads)
    conn.send_raw(frames + encode_frame(Opcode.TEXT, marker), chunk_size=chunk_size)
    # §5.5.3: a Pong may be sent for only the most recent of several unanswered Pings, so the
    # Pongs must be a subsequence of the Pings, in order, ending with the last one.
    pongs: list[bytes] = []
    echoed = False
    while not (echoed and pongs and pongs[-1] == payloads[-1]):
        event = conn.next_event()
        if isinstance(event, Pong):
            assert not echoed, "a Pong came after the data echoed behind the Pings"
            pongs.append(event.payload)
        elif event == Message(Opcode.TEXT, marker):
            echoed = True
        else:
            raise AssertionError(f"unexpected {event!r} while collecting Pongs")
    remaining = iter(payloads)
    assert all(pong in remaining for pong in pongs), f"Pongs out of order: {pongs}"
    conn.close_handshake()


def test_ten_pings(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.5.3 (Autobahn 2.10): ten Pings in a row get their Pongs, in order."""
    _ten_pings(conn, None)


def test_ten_pings_byte_by_byte(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.5.3 (Autobahn 2.11): ten Pings written one byte at a time, answered in order."""
    _ten_pings(conn, 1)


def test_fragmented_ping(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.5 (Autobahn 5.1): a Ping in two fragments is a protocol error: close 1002."""
    conn.send_frame(Opcode.PING, b"frag", fin=False)
    conn.send_frame(Opcode.CONTINUATION, b"ment", fin=True)
    conn.expect_fail(1002)


def test_ping_with_16bit_length(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.5 (no Autobahn case): a 200-byte Ping in 16-bit length form: close 1002."""
    conn.send_frame(Opcode.PING, binary(200), length_encoding=16)
    conn.expect_fail(1002)
