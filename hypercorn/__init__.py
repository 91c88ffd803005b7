"""Hypercorn: an ASGI server for HTTP/1.1 (and, soon, HTTP/2 and WebSockets)."""

from .__about__ import __version__
from .asyncio import Server, serve
from .config import Config, ConfigError

__all__ = ["Config", "ConfigError", "Server", "__version__", "serve"]
