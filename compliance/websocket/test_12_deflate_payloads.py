"""Section 12, permessage-deflate with the default offer: RFC 7692 §6-§7.2.

With the extension agreed, a message whose first frame has RSV1 set is compressed: raw DEFLATE
with the 0x00 0x00 0xff 0xff tail of the final empty block removed (§7.2.1). Either side may send
any message uncompressed. Both sides keep their LZ77 window across messages unless a
no_context_takeover parameter says otherwise, so several messages go over each connection. The
server's messages are inflated strictly with the agreed window (see :mod:`deflate`).

RSV1 is only legal on the first frame of a data message (§6.1): on a continuation or a control
frame it fails the connection, as RSV2 and RSV3 still do.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import pytest

from .client import WebSocketConnection
from .conftest import Connector
from .deflate import DeflateOffer
from .frames import Frame, Opcode
from .payloads import ascii_text, incompressible, mixed_text, structured

TEXT = Opcode.TEXT
BINARY = Opcode.BINARY
CONT = Opcode.CONTINUATION

PAYLOADS: dict[str, tuple[Opcode, Callable[[int], bytes]]] = {
    "text-ascii": (TEXT, ascii_text),
    "text-utf8": (TEXT, mixed_text),
    "binary-random": (BINARY, incompressible),
    "binary-json": (BINARY, structured),
}
SIZES = [16, 64, 256, 1024, 4096, 16384, 65536, 131072]
MESSAGES_PER_CASE = 5


@pytest.fixture
def deflate(ws: Connector) -> WebSocketConnection:
    """A WebSocket with permessage-deflate agreed on the plain offer (skip if declined)."""
    connection = ws.connect(deflate=DeflateOffer())
    if connection.deflate is None:
        pytest.skip("the server declined permessage-deflate")
    return connection


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("kind", list(PAYLOADS))
def test_compressed_echo(deflate: WebSocketConnection, kind: str, size: int) -> None:
    """RFC 7692 §7.2 (Autobahn 12.1-12.5): compressed messages of this kind and size echo."""
    opcode, make = PAYLOADS[kind]
    payload = make(size)
    # The same message again and again: with context takeover, later copies compress to
    # back-references into earlier ones, on both sides.
    for _ in range(MESSAGES_PER_CASE):
        deflate.send_message(opcode, payload)
        deflate.expect_message(opcode, payload)
    deflate.close_handshake()


def test_empty_compressed_message(deflate: WebSocketConnection) -> None:
    """RFC 7692 §7.2.3.6 (no Autobahn case): an empty message compressed to 0x00 echoes empty."""
    deflate.send_frame(TEXT, b"\x00", rsv1=True)
    deflate.expect_message(TEXT, b"")
    deflate.close_handshake()


def test_uncompressed_message(deflate: WebSocketConnection) -> None:
    """RFC 7692 §6 (no Autobahn case): a message without RSV1 is sent as is and echoes."""
    deflate.send_message(TEXT, b"not compressed", compress=False)
    deflate.expect_message(TEXT, b"not compressed")
    deflate.send_message(TEXT, b"compressed now")
    deflate.expect_message(TEXT, b"compressed now")
    deflate.close_handshake()


@pytest.mark.parametrize("fragment", [1, 100, 4096])
def test_fragmented_compressed_message(deflate: WebSocketConnection, fragment: int) -> None:
    """RFC 7692 §6 (no Autobahn case): a compressed message in fragments (RSV1 first) echoes."""
    payload = structured(8 * 1024)
    deflate.send_message(BINARY, payload, fragment_size=fragment)
    deflate.expect_message(BINARY, payload)
    deflate.close_handshake()


def test_final_deflate_block(deflate: WebSocketConnection) -> None:
    """RFC 7692 §7.2.3.4 (no Autobahn case): a message ending in a BFINAL block is valid."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    payload = b"ends with a final block " * 20
    deflate.send_frame(TEXT, compressor.compress(payload) + compressor.flush(), rsv1=True)
    deflate.expect_message(TEXT, payload)
    deflate.close_handshake()


def test_rsv1_on_continuation(deflate: WebSocketConnection) -> None:
    """RFC 7692 §6 (no Autobahn case): RSV1 on a continuation frame fails with 1002."""
    deflate.send_frames([Frame(TEXT, b"fragment1", fin=False), Frame(CONT, b"\x00", rsv1=True)])
    deflate.expect_fail(1002)


def test_rsv1_on_ping(deflate: WebSocketConnection) -> None:
    """RFC 7692 §6 (no Autobahn case): RSV1 on a control frame (Ping) fails with 1002."""
    deflate.send_frame(Opcode.PING, b"ping", rsv1=True)
    deflate.expect_fail(1002)


@pytest.mark.parametrize("bits", ["rsv2", "rsv3"])
def test_other_rsv_bits_with_deflate(deflate: WebSocketConnection, bits: str) -> None:
    """RFC 6455 §5.2 (no Autobahn case): RSV2/RSV3 stay illegal with permessage-deflate: 1002."""
    deflate.send_frame(TEXT, b"Hello", rsv2=bits == "rsv2", rsv3=bits == "rsv3")
    deflate.expect_fail(1002)


def test_compressed_invalid_utf8(deflate: WebSocketConnection) -> None:
    """RFC 6455 §8.1, RFC 7692 §6 (no Autobahn case): text not UTF-8 once inflated fails 1007."""
    deflate.send_message(TEXT, "κόσμε".encode() + b"\xed\xa0\x80edited")
    deflate.expect_fail(1007)


def test_corrupt_deflate_data(deflate: WebSocketConnection) -> None:
    """RFC 7692 §7.2.2, RFC 6455 §7.1.7 (no Autobahn case): data that does not inflate fails."""
    # 0xff starts a block of the reserved type BTYPE=11 (RFC 1951 §3.2.3): never valid.
    deflate.send_frame(BINARY, b"\xff\xff\xff\xff", rsv1=True)
    deflate.expect_fail(1002, 1007)
