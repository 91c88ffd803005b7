"""Section 1, framing: text and binary messages of every length class echo intact.

RFC 6455 §5.2 encodes a payload length in 7 bits (0-125), 16 bits (126-65535) or 64 bits, and
§5.3 masks every client frame. The lengths below sit on each side of each boundary; the
decoder also checks that the server's echo uses the minimal length form (§5.2 MUST).
"""

from __future__ import annotations

import pytest

from .client import WebSocketConnection
from .frames import Opcode, encode_frame
from .payloads import ascii_text, binary

LENGTHS = [0, 125, 126, 127, 128, 65535, 65536, 1 << 20]


@pytest.mark.parametrize("length", LENGTHS)
def test_text_lengths(conn: WebSocketConnection, length: int) -> None:
    """RFC 6455 §5.2, §5.6 (Autobahn 1.1.1-1.1.7): a text message of this length echoes."""
    payload = ascii_text(length)
    conn.send_frame(Opcode.TEXT, payload)
    conn.expect_message(Opcode.TEXT, payload)
    conn.close_handshake()


@pytest.mark.parametrize("length", LENGTHS)
def test_binary_lengths(conn: WebSocketConnection, length: int) -> None:
    """RFC 6455 §5.2, §5.6 (Autobahn 1.2.1-1.2.7): a binary message of this length echoes."""
    payload = binary(length)
    conn.send_frame(Opcode.BINARY, payload)
    conn.expect_message(Opcode.BINARY, payload)
    conn.close_handshake()


@pytest.mark.parametrize("opcode", [Opcode.TEXT, Opcode.BINARY], ids=["text", "binary"])
def test_frame_in_997_byte_writes(conn: WebSocketConnection, opcode: Opcode) -> None:
    """RFC 6455 §5.2 (Autobahn 1.1.8/1.2.8): a 65536-byte frame written in 997-byte pieces."""
    payload = ascii_text(65536) if opcode == Opcode.TEXT else binary(65536)
    conn.send_frame(opcode, payload, chunk_size=997)
    conn.expect_message(opcode, payload)
    conn.close_handshake()


@pytest.mark.parametrize("length", [125, 126, 65536], ids=["7bit", "16bit", "64bit"])
def test_header_byte_by_byte(conn: WebSocketConnection, length: int) -> None:
    """RFC 6455 §5.2 (no Autobahn case): a header split in 1-byte writes (7/16/64-bit length)."""
    payload = binary(length)
    frame = encode_frame(Opcode.BINARY, payload)
    header = 2 + {125: 0, 126: 2, 65536: 8}[length] + 4
    conn.send_raw(frame[:header], chunk_size=1)
    conn.send_raw(frame[header:])
    conn.expect_message(Opcode.BINARY, payload)
    conn.close_handshake()


def test_many_frames_in_one_write(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.2 (no Autobahn case): 20 messages in one write echo in order."""
    payloads = [ascii_text(n * 7) for n in range(20)]
    conn.send_raw(b"".join(encode_frame(Opcode.TEXT, p) for p in payloads))
    for payload in payloads:
        conn.expect_message(Opcode.TEXT, payload)
    conn.close_handshake()


def test_unmasked_client_frame(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.1 (no Autobahn case): an unmasked client frame is refused (1002 or drop)."""
    conn.send_frame(Opcode.TEXT, b"not masked", masked=False)
    conn.expect_fail(1002, allow_drop=True)


def test_64bit_length_high_bit_set(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.2 (no Autobahn case): a 64-bit length with its top bit set fails (1002/1009)."""
    frame = encode_frame(Opcode.BINARY, b"", declared_length=1 << 63, length_encoding=64)
    conn.send_raw(frame + b"x" * 64)
    conn.expect_fail(1002, 1009)
