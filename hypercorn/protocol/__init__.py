"""Sans-IO protocol state machines and the ASGI streams. Nothing here imports an event loop."""

from __future__ import annotations

from .context import ServerContext
from .errors import ClientDisconnected, LocalProtocolError, ProtocolError, RemoteProtocolError
from .http11 import H1Connection
from .interface import ConnectionInfo, ConnectionIO, ServerProtocol

__all__ = [
    "ClientDisconnected",
    "LocalProtocolError",
    "ProtocolError",
    "RemoteProtocolError",
    "new_connection",
]


def new_connection(io: ConnectionIO, ctx: ServerContext, info: ConnectionInfo) -> ServerProtocol:
    """The protocol a new connection starts with: HTTP/2 if ALPN chose it, else HTTP/1.1.

    An HTTP/1.1 connection in the clear hands itself over to HTTP/2 when it sees the
    prior-knowledge preface or an ``Upgrade: h2c`` request.
    """
    if info.alpn == "h2":
        from .http2 import H2Connection

        return H2Connection(io, ctx, info)
    return H1Connection(io, ctx, info)
