"""Section 4, reserved opcodes: RFC 6455 §5.2.

Opcodes 0x3-0x7 are reserved for further non-control frames and 0xB-0xF for further control
frames; "If an unknown opcode is received, the receiving endpoint MUST _Fail the WebSocket
Connection_" (§5.2), with 1002 (§7.4.1). Whatever came before is still echoed; whatever comes
after is not processed (§7.1.7).
"""

from __future__ import annotations

import pytest

from .client import Message, WebSocketConnection
from .frames import Opcode, encode_frame

NON_CONTROL = [0x3, 0x4, 0x5, 0x6, 0x7]
CONTROL = [0xB, 0xC, 0xD, 0xE, 0xF]


def _hex(opcode: int) -> str:
    return f"0x{opcode:x}"


@pytest.mark.parametrize("opcode", NON_CONTROL + CONTROL, ids=_hex)
def test_reserved_opcode_empty(conn: WebSocketConnection, opcode: int) -> None:
    """RFC 6455 §5.2 (Autobahn 4.1.1, 4.2.1): an empty frame with a reserved opcode: close 1002."""
    conn.send_frame(opcode)
    conn.expect_fail(1002)


@pytest.mark.parametrize("opcode", NON_CONTROL + CONTROL, ids=_hex)
def test_reserved_opcode_between_messages(conn: WebSocketConnection, opcode: int) -> None:
    """RFC 6455 §5.2 (Autobahn 4.1.2-4.1.4, 4.2.2-4.2.4): text, reserved opcode: 1002, no Pong."""
    conn.send_raw(
        encode_frame(Opcode.TEXT, b"Hello, world!")
        + encode_frame(opcode, b"reserved opcode payload")
        + encode_frame(Opcode.PING, b"must not be answered")
    )
    conn.expect_fail(1002, may_precede=[Message(Opcode.TEXT, b"Hello, world!")])


@pytest.mark.parametrize("opcode", [0x7, 0xF], ids=_hex)
def test_reserved_opcode_byte_by_byte(conn: WebSocketConnection, opcode: int) -> None:
    """RFC 6455 §5.2 (Autobahn 4.1.5, 4.2.5): the same, written one byte at a time: close 1002."""
    conn.send_raw(
        encode_frame(Opcode.TEXT, b"Hello, world!")
        + encode_frame(opcode, b"reserved opcode payload")
        + encode_frame(Opcode.PING, b"must not be answered"),
        chunk_size=1,
    )
    conn.expect_fail(1002, may_precede=[Message(Opcode.TEXT, b"Hello, world!")])
