"""Sans-IO protocol state machines and the ASGI streams. Nothing here imports an event loop."""

from .errors import ClientDisconnected, LocalProtocolError, ProtocolError, RemoteProtocolError

__all__ = ["ClientDisconnected", "LocalProtocolError", "ProtocolError", "RemoteProtocolError"]
