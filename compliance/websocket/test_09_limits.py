"""Section 9, limits and throughput: large messages, many frames, many small round trips.

Autobahn's section 9 measures speed; here the same traffic checks correctness, and the server's
maximum message size is tested from both sides: a message of exactly the limit echoes, one byte
more is refused with 1009 "Message Too Big" (RFC 6455 §7.4.1), which is the defence against
unbounded buffering. The limit is the target's ``max_message_size`` (``WS_MAX_MESSAGE_SIZE``,
16 MiB by default: the default of this server's ``websocket_max_message_size``, of Uvicorn's
``ws_max_size`` and of Hypercorn 0.18).
"""

from __future__ import annotations

import pytest

from .client import WebSocketConnection
from .frames import Frame, Opcode, encode_frame
from .payloads import ascii_text, binary
from .target import Target

KiB = 1024
MiB = 1024 * KiB
TEXT = Opcode.TEXT
BINARY = Opcode.BINARY
KINDS = {"text": TEXT, "binary": BINARY}


def _payload(opcode: Opcode, length: int) -> bytes:
    return ascii_text(length) if opcode == TEXT else binary(length)


@pytest.mark.parametrize(
    "size", [64 * KiB, 256 * KiB, 1 * MiB, 4 * MiB], ids=["64K", "256K", "1M", "4M"]
)
@pytest.mark.parametrize("kind", list(KINDS))
def test_large_message(conn: WebSocketConnection, ws_target: Target, kind: str, size: int) -> None:
    """RFC 6455 §5.2 (Autobahn 9.1.1-9.1.5, 9.2.1-9.2.5): a large single-frame message echoes."""
    if size > ws_target.max_message_size:
        pytest.skip(f"above the configured max message size {ws_target.max_message_size}")
    payload = _payload(KINDS[kind], size)
    conn.send_frame(KINDS[kind], payload)
    conn.expect_message(KINDS[kind], payload)
    conn.close_handshake()


@pytest.mark.parametrize("kind", list(KINDS))
def test_message_at_max_size(conn: WebSocketConnection, ws_target: Target, kind: str) -> None:
    """RFC 6455 §5.2 (Autobahn 9.1.6, 9.2.6): a message of exactly the server's max size echoes."""
    payload = _payload(KINDS[kind], ws_target.max_message_size)
    conn.send_frame(KINDS[kind], payload)
    conn.expect_message(KINDS[kind], payload)
    conn.close_handshake()


@pytest.mark.parametrize("kind", list(KINDS))
def test_message_over_max_size(conn: WebSocketConnection, ws_target: Target, kind: str) -> None:
    """RFC 6455 §7.4.1 (no Autobahn case): one byte over the max message size fails with 1009."""
    payload = _payload(KINDS[kind], ws_target.max_message_size + 1)
    conn.send_frame(KINDS[kind], payload, chunk_size=64 * KiB, stop_on_close=True)
    conn.expect_fail(1009)


@pytest.mark.parametrize("kind", list(KINDS))
def test_fragmented_message_over_max_size(
    conn: WebSocketConnection, ws_target: Target, kind: str
) -> None:
    """RFC 6455 §7.4.1 (no Autobahn case): fragments adding up to max + 1 bytes fail with 1009."""
    opcode = KINDS[kind]
    limit = ws_target.max_message_size
    fragment = max(limit // 16, 1)
    sizes = [fragment] * (limit // fragment) + [limit % fragment + 1]
    frames = [
        encode_frame(
            opcode if index == 0 else Opcode.CONTINUATION,
            _payload(opcode, size),
            fin=index == len(sizes) - 1,
        )
        for index, size in enumerate(sizes)
    ]
    conn.send_raw(b"".join(frames), chunk_size=64 * KiB, stop_on_close=True)
    conn.expect_fail(1009)


# Fragment counts stay at or below 1024 per message: servers may cap them as a defence against
# floods of tiny frames (the websockets library refuses a 4096th fragment with 1009).
@pytest.mark.parametrize(
    ("size", "fragment"),
    [(64 * KiB, 64), (1 * MiB, 1 * KiB), (1 * MiB, 16 * KiB), (4 * MiB, 256 * KiB)],
    ids=["64K-in-64", "1M-in-1K", "1M-in-16K", "4M-in-256K"],
)
@pytest.mark.parametrize("kind", list(KINDS))
def test_fragmented_message(
    conn: WebSocketConnection, kind: str, size: int, fragment: int
) -> None:
    """RFC 6455 §5.4 (Autobahn 9.3.x, 9.4.x): a message in fragments of this size echoes intact."""
    payload = _payload(KINDS[kind], size)
    conn.send_message(KINDS[kind], payload, fragment_size=fragment)
    conn.expect_message(KINDS[kind], payload)
    conn.close_handshake()


@pytest.mark.parametrize("chunk", [64, 4 * KiB], ids=["64", "4K"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_1mib_in_small_writes(conn: WebSocketConnection, kind: str, chunk: int) -> None:
    """RFC 6455 §5.2 (Autobahn 9.5.x, 9.6.x): a 1 MiB frame written in small pieces echoes."""
    payload = _payload(KINDS[kind], 1 * MiB)
    conn.send_frame(KINDS[kind], payload, chunk_size=chunk)
    conn.expect_message(KINDS[kind], payload)
    conn.close_handshake()


@pytest.mark.parametrize("size", [0, 16, 4 * KiB], ids=["0", "16", "4K"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_1000_round_trips(conn: WebSocketConnection, kind: str, size: int) -> None:
    """RFC 6455 §5.6 (Autobahn 9.7.x, 9.8.x): 1000 messages, each echoed before the next goes."""
    payload = _payload(KINDS[kind], size)
    for _ in range(1000):
        conn.send_frame(KINDS[kind], payload)
        conn.expect_message(KINDS[kind], payload)
    conn.close_handshake()


def test_pipelined_messages(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.6 (no Autobahn case): 100 messages sent back to back all echo, in order."""
    payloads = [binary(n * 37 % 3000) for n in range(100)]
    conn.send_frames([Frame(BINARY, payload) for payload in payloads])
    for payload in payloads:
        conn.expect_message(BINARY, payload)
    conn.close_handshake()
