"""Section 10, miscellaneous: the server may fragment what it sends (autofragmentation).

RFC 6455 §5.4: "An intermediary MAY change the fragmentation of a message" and an endpoint may
send a message in as many frames as it likes; the client must reassemble. These cases send
messages whichever way and accept any valid fragmentation of the echo, checking only that the
reassembled message is identical and that every frame obeyed §5.4 (the decoder checks that).
"""

from __future__ import annotations

import pytest

from .client import WebSocketConnection
from .frames import Opcode
from .payloads import ascii_text, binary, mixed_text

KiB = 1024


@pytest.mark.parametrize("opcode", [Opcode.TEXT, Opcode.BINARY], ids=["text", "binary"])
def test_64k_message_any_fragmentation(conn: WebSocketConnection, opcode: Opcode) -> None:
    """RFC 6455 §5.4 (Autobahn 10.1.1): a 64 KiB message echoes intact, however it is framed."""
    payload = ascii_text(64 * KiB) if opcode == Opcode.TEXT else binary(64 * KiB)
    conn.send_frame(opcode, payload)
    conn.expect_message(opcode, payload)
    conn.close_handshake()


@pytest.mark.parametrize("opcode", [Opcode.TEXT, Opcode.BINARY], ids=["text", "binary"])
def test_odd_fragments_any_fragmentation(conn: WebSocketConnection, opcode: Opcode) -> None:
    """RFC 6455 §5.4 (Autobahn 10.1.1): 1300-byte fragments in, any framing out, same message."""
    payload = ascii_text(64 * KiB) if opcode == Opcode.TEXT else binary(64 * KiB)
    conn.send_message(opcode, payload, fragment_size=1300)
    conn.expect_message(opcode, payload)
    conn.close_handshake()


def test_multibyte_text_any_fragmentation(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.4, §5.6 (no Autobahn case): multibyte text split mid-character echoes intact."""
    payload = mixed_text(256 * KiB)
    conn.send_message(Opcode.TEXT, payload, fragment_size=1001)
    conn.expect_message(Opcode.TEXT, payload)
    conn.close_handshake()
