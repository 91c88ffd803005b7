"""Section 0, the opening handshake (no Autobahn section: its fuzzingclient only needs it to work).

Every connection the suite opens already checks the server's half of the handshake: on HTTP/1.1
101, ``Upgrade: websocket``, ``Connection: Upgrade`` and the Sec-WebSocket-Accept digest (RFC
6455 §4.1, §4.2.2); on HTTP/2 SETTINGS_ENABLE_CONNECT_PROTOCOL=1 before the extended CONNECT,
then :status 200 on a stream left open (RFC 8441 §3-§5); on both, no subprotocol and no
extension that was not offered. These cases make those checks visible on their own.
"""

from __future__ import annotations

import pytest

from .client import H2Connection, HandshakeFailed, WebSocketConnection
from .conftest import Connector
from .frames import Opcode
from .h2 import SETTINGS_ENABLE_CONNECT_PROTOCOL


def test_handshake(conn: WebSocketConnection) -> None:
    """RFC 6455 §4.2.2, RFC 8441 §5 (no Autobahn case): the handshake succeeds, no extension."""
    assert conn.deflate is None
    conn.send_frame(Opcode.TEXT, b"handshake done")
    conn.expect_message(Opcode.TEXT, b"handshake done")
    conn.close_handshake()


def test_h2_enable_connect_protocol(conn: WebSocketConnection) -> None:
    """RFC 8441 §3 (no Autobahn case): the server's SETTINGS carry ENABLE_CONNECT_PROTOCOL=1."""
    if not isinstance(conn, H2Connection):
        pytest.skip("HTTP/2 only")
    assert conn.peer_settings.get(SETTINGS_ENABLE_CONNECT_PROTOCOL) == 1
    conn.close_handshake()


def test_unsupported_version(ws: Connector) -> None:
    """RFC 6455 §4.4 (no Autobahn case): version 12 is refused, naming 13 in the response."""
    with pytest.raises(HandshakeFailed) as refused:
        ws.connect(version="12")
    assert refused.value.status is not None and 400 <= refused.value.status < 500, (
        f"RFC 6455 §4.4: expected a 4xx refusal (426), got {refused.value}"
    )
    versions = [v for name, v in refused.value.headers if name == "sec-websocket-version"]
    tokens = {token.strip() for value in versions for token in value.split(",")}
    assert "13" in tokens, (
        f"RFC 6455 §4.4: the refusal MUST list the supported versions, got {versions}"
    )
