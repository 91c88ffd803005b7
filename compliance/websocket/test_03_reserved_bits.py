"""Section 3, reserved bits: RFC 6455 §5.2.

RSV1, RSV2 and RSV3 "MUST be 0 unless an extension is negotiated that defines meanings for
non-zero values"; a receiver that gets a non-zero value no extension explains "MUST _Fail the
WebSocket Connection_". No extension is offered here, so every non-zero combination fails, on
data and control frames alike. Valid frames before the bad one are still echoed; frames after it
are not processed (§7.1.7).
"""

from __future__ import annotations

import pytest

from .client import Message, WebSocketConnection, close_payload
from .frames import Opcode, encode_frame

RSV_VALUES = list(range(1, 8))
KINDS = {
    "text": (Opcode.TEXT, b"Hello, world!"),
    "binary": (Opcode.BINARY, b"\x00\xff\xfe\xfd"),
    "ping": (Opcode.PING, b"ping"),
    "close": (Opcode.CLOSE, close_payload(1000)),
}


def _rsv_frame(opcode: Opcode, payload: bytes, rsv: int) -> bytes:
    return encode_frame(
        opcode, payload, rsv1=bool(rsv & 4), rsv2=bool(rsv & 2), rsv3=bool(rsv & 1)
    )


@pytest.mark.parametrize("rsv", RSV_VALUES)
@pytest.mark.parametrize("kind", list(KINDS))
def test_reserved_bits_set(conn: WebSocketConnection, kind: str, rsv: int) -> None:
    """RFC 6455 §5.2 (Autobahn 3.1, 3.5-3.7): a frame with RSV bits set, no extension: 1002."""
    opcode, payload = KINDS[kind]
    conn.send_raw(_rsv_frame(opcode, payload, rsv))
    conn.expect_fail(1002)


@pytest.mark.parametrize(
    "chunk_size", [None, 0, 1], ids=["one-write", "frame-per-write", "byte-per-write"]
)
def test_reserved_bits_after_valid_message(
    conn: WebSocketConnection, chunk_size: int | None
) -> None:
    """RFC 6455 §5.2, §7.1.7 (Autobahn 3.2-3.4): text (echo optional), RSV2 text: 1002, no Pong."""
    frames = [
        encode_frame(Opcode.TEXT, b"Hello, world!"),
        _rsv_frame(Opcode.TEXT, b"Hello, world!", 2),
        encode_frame(Opcode.PING, b"must not be answered"),
    ]
    if chunk_size == 0:
        for frame in frames:
            conn.send_raw(frame)
    else:
        conn.send_raw(b"".join(frames), chunk_size=chunk_size)
    conn.expect_fail(1002, may_precede=[Message(Opcode.TEXT, b"Hello, world!")])
