"""The raw WebSocket client the suite drives servers with, over HTTP/1.1 or HTTP/2.

One abstract :class:`WebSocketConnection` (in :mod:`.connection`) carries every test: it sends
hand-built frames (any opcode, any RSV bits, masked or not, split across as many transport
writes as asked) and decodes what the server sends strictly. Two transports carry its bytes:

- :class:`H1Connection` (:mod:`.h1`): a TCP or TLS socket after the HTTP/1.1 Upgrade of RFC
  6455 §4, with Sec-WebSocket-Accept and the extension answer checked.
- :class:`H2Connection` (:mod:`.h2`): the DATA frames of one HTTP/2 stream opened by the
  extended CONNECT of RFC 8441, over h2c with prior knowledge or h2 over TLS with ALPN.
"""

from __future__ import annotations

from collections.abc import Sequence

from .connection import (
    Close,
    Event,
    HandshakeFailed,
    Message,
    NoResponse,
    Ping,
    Pong,
    TransportClosed,
    WebSocketConnection,
    close_payload,
)
from .deflate import DeflateOffer
from .h1 import H1Connection
from .h2 import H2Connection
from .target import Target

__all__ = [
    "Close",
    "Event",
    "H1Connection",
    "H2Connection",
    "HandshakeFailed",
    "Message",
    "NoResponse",
    "Ping",
    "Pong",
    "TransportClosed",
    "WebSocketConnection",
    "close_payload",
    "connect",
]


def connect(
    target: Target,
    *,
    deflate: DeflateOffer | Sequence[DeflateOffer] | None = None,
    extra_headers: Sequence[tuple[str, str]] = (),
    version: str = "13",
) -> WebSocketConnection:
    """Open a WebSocket to ``target`` over its transport, offering ``deflate`` if given.

    ``version`` is the Sec-WebSocket-Version to ask for (13 is the only one, RFC 6455 §4.1).
    Raises HandshakeFailed when the server refuses, ProtocolViolation when it answers wrongly.
    """
    offers: Sequence[DeflateOffer]
    if deflate is None:
        offers = ()
    elif isinstance(deflate, DeflateOffer):
        offers = (deflate,)
    else:
        offers = tuple(deflate)
    if target.transport == "h2":
        return H2Connection.open(target, offers, extra_headers, version)
    return H1Connection.open(target, offers, extra_headers, version)
