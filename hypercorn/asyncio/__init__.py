"""The asyncio (and uvloop) I/O layer."""

from .server import Server, serve

__all__ = ["Server", "serve"]
