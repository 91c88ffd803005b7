"""Section 5, fragmentation: RFC 6455 §5.4.

A message is one frame with FIN set or a first frame with its opcode, then continuation frames,
the last with FIN set. Control frames may come between fragments and are handled at once; they
are never fragmented themselves. A continuation with no message in progress, or a new data frame
while one is in progress, is a protocol error (close 1002).
"""

from __future__ import annotations

import pytest

from .client import Message, WebSocketConnection, close_payload
from .frames import Frame, Opcode
from .payloads import ascii_text, binary

TEXT = Opcode.TEXT
BINARY = Opcode.BINARY
CONT = Opcode.CONTINUATION

# How the frames of one case are written: all in one write, one write per frame, or one byte
# per write. The server must reassemble them the same way each time.
WRITES = {"one-write": None, "frame-per-write": 0, "byte-per-write": 1}


def _send(conn: WebSocketConnection, frames: list[Frame], writes: int | None) -> None:
    if writes == 0:
        for frame in frames:
            conn.send_frames([frame])
    else:
        conn.send_frames(frames, chunk_size=writes)


def test_fragmented_pong(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.5 (Autobahn 5.2): a Pong in two fragments is a protocol error: close 1002."""
    _send(conn, [Frame(Opcode.PONG, b"frag", fin=False), Frame(CONT, b"ment")], None)
    conn.expect_fail(1002)


def test_fragmented_close(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.5 (no Autobahn case): a Close in two fragments is a protocol error: 1002."""
    payload = close_payload(1000, b"fragmented")
    _send(conn, [Frame(Opcode.CLOSE, payload[:3], fin=False), Frame(CONT, payload[3:])], None)
    conn.expect_fail(1002)


@pytest.mark.parametrize("writes", list(WRITES.values()), ids=list(WRITES))
def test_text_in_two_fragments(conn: WebSocketConnection, writes: int | None) -> None:
    """RFC 6455 §5.4 (Autobahn 5.3-5.5): a text message in two fragments echoes as one."""
    _send(conn, [Frame(TEXT, b"fragment1", fin=False), Frame(CONT, b"fragment2")], writes)
    conn.expect_message(TEXT, b"fragment1fragment2")
    conn.close_handshake()


@pytest.mark.parametrize("writes", list(WRITES.values()), ids=list(WRITES))
def test_ping_between_fragments(conn: WebSocketConnection, writes: int | None) -> None:
    """RFC 6455 §5.4 (Autobahn 5.6-5.8): a Ping between fragments gets its Pong, then the echo."""
    frames = [
        Frame(TEXT, b"fragment1", fin=False),
        Frame(Opcode.PING, b"ping payload"),
        Frame(CONT, b"fragment2"),
    ]
    _send(conn, frames, writes)
    conn.expect_pong(b"ping payload")
    conn.expect_message(TEXT, b"fragment1fragment2")
    conn.close_handshake()


@pytest.mark.parametrize("writes", list(WRITES.values()), ids=list(WRITES))
def test_continuation_fin_without_start(conn: WebSocketConnection, writes: int | None) -> None:
    """RFC 6455 §5.4 (Autobahn 5.9-5.11): a final continuation with no message: close 1002."""
    frames = [Frame(CONT, b"non-continuation payload"), Frame(TEXT, b"Hello, world!")]
    _send(conn, frames, writes)
    conn.expect_fail(1002)


@pytest.mark.parametrize("writes", list(WRITES.values()), ids=list(WRITES))
def test_continuation_without_start(conn: WebSocketConnection, writes: int | None) -> None:
    """RFC 6455 §5.4 (Autobahn 5.12-5.14): a non-final continuation, no message: close 1002."""
    frames = [Frame(CONT, b"non-continuation payload", fin=False), Frame(TEXT, b"Hello!")]
    _send(conn, frames, writes)
    conn.expect_fail(1002)


def test_continuation_after_finished_message(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.4 (Autobahn 5.15): a stray continuation after a finished message: close 1002."""
    frames = [
        Frame(TEXT, b"fragment1", fin=False),
        Frame(CONT, b"fragment2"),
        Frame(CONT, b"fragment3", fin=False),
        Frame(TEXT, b"fragment4"),
    ]
    _send(conn, frames, None)
    conn.expect_fail(1002, may_precede=[Message(TEXT, b"fragment1fragment2")])


@pytest.mark.parametrize("first_fin", [False, True], ids=["cont-nofin", "cont-fin"])
def test_continuation_before_message(conn: WebSocketConnection, first_fin: bool) -> None:
    """RFC 6455 §5.4 (Autobahn 5.16-5.17): a continuation before a fragmented text: close 1002."""
    frames = [
        Frame(CONT, b"fragment1", fin=first_fin),
        Frame(TEXT, b"fragment2", fin=False),
        Frame(CONT, b"fragment3"),
    ]
    _send(conn, frames, None)
    conn.expect_fail(1002)


@pytest.mark.parametrize(
    ("first", "second"), [(TEXT, TEXT), (BINARY, TEXT), (TEXT, BINARY)], ids=["t-t", "b-t", "t-b"]
)
def test_new_message_inside_fragmented(
    conn: WebSocketConnection, first: Opcode, second: Opcode
) -> None:
    """RFC 6455 §5.4 (Autobahn 5.18): a new data frame inside a fragmented message: close 1002."""
    _send(conn, [Frame(first, b"fragment1", fin=False), Frame(second, b"fragment2")], None)
    conn.expect_fail(1002)


@pytest.mark.parametrize("writes", [None, 0], ids=["one-write", "frame-per-write"])
def test_five_fragments_with_pings(conn: WebSocketConnection, writes: int | None) -> None:
    """RFC 6455 §5.4 (Autobahn 5.19-5.20): 5 fragments, 2 Pings among them: 2 Pongs, then echo."""
    frames = [
        Frame(TEXT, b"fragment1", fin=False),
        Frame(CONT, b"fragment2", fin=False),
        Frame(Opcode.PING, b"pongme 1!"),
        Frame(CONT, b"fragment3", fin=False),
        Frame(Opcode.PING, b"pongme 2!"),
        Frame(CONT, b"fragment4", fin=False),
        Frame(CONT, b"fragment5"),
    ]
    _send(conn, frames, writes)
    conn.expect_pong(b"pongme 1!")
    conn.expect_pong(b"pongme 2!")
    conn.expect_message(TEXT, b"fragment1fragment2fragment3fragment4fragment5")
    conn.close_handshake()


def test_pong_between_fragments(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.4, §5.5.3 (no Autobahn case): a lone Pong between fragments is ignored."""
    frames = [
        Frame(BINARY, b"\x01\x02", fin=False),
        Frame(Opcode.PONG, b"x"),
        Frame(CONT, b"\x03"),
    ]
    _send(conn, frames, None)
    conn.expect_message(BINARY, b"\x01\x02\x03")
    conn.close_handshake()


@pytest.mark.parametrize("opcode", [TEXT, BINARY], ids=["text", "binary"])
def test_many_fragments(conn: WebSocketConnection, opcode: Opcode) -> None:
    """RFC 6455 §5.4 (no Autobahn case): a message in 100 fragments echoes as one message."""
    payload = ascii_text(1000) if opcode == TEXT else binary(1000)
    frames = [
        Frame(
            opcode if index == 0 else CONT, payload[index * 10 : index * 10 + 10], fin=index == 99
        )
        for index in range(100)
    ]
    _send(conn, frames, None)
    conn.expect_message(opcode, payload)
    conn.close_handshake()


@pytest.mark.parametrize("opcode", [TEXT, BINARY], ids=["text", "binary"])
def test_empty_fragments(conn: WebSocketConnection, opcode: Opcode) -> None:
    """RFC 6455 §5.4 (Autobahn 6.1.2-6.1.3): empty first, middle and last fragments are legal."""
    frames = [
        Frame(opcode, b"", fin=False),
        Frame(CONT, b"middle", fin=False),
        Frame(CONT, b"", fin=False),
        Frame(CONT, b""),
    ]
    _send(conn, frames, None)
    conn.expect_message(opcode, b"middle")
    conn.close_handshake()


def test_large_fragmented_binary(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.4 (no Autobahn case): a 256 KiB binary message in 64 KiB fragments echoes."""
    payload = binary(256 * 1024)
    conn.send_message(BINARY, payload, fragment_size=65536)
    conn.expect_message(BINARY, payload)
    conn.close_handshake()
