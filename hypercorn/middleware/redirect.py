"""Redirect plain-HTTP requests to the same URL over HTTPS.

Wrap an app with :class:`HTTPToHTTPSRedirectMiddleware` (or set ``https_redirect``, which
wraps it for you) and serve it on both a TLS bind and an ``insecure_bind``: requests that
arrive over TLS reach the app; the rest are answered with ``308 Permanent Redirect`` to the
``https://`` URL (RFC 9110 §15.4.9: unlike 301, the method and body are kept). A WebSocket
handshake in the clear is refused with the same redirect when the server offers the
``websocket.http.response`` extension, and closed otherwise.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import quote

__all__ = ["HTTPToHTTPSRedirectMiddleware"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class HTTPToHTTPSRedirectMiddleware:
    """Answer requests in the clear with a redirect to HTTPS; pass TLS requests through.

    ``host`` fixes the host redirected to (recommended behind a known name: the Host
    header is the client's to choose); by default the request's Host is used.
    ``https_port`` is added to the URL unless it is 443.
    """

    def __init__(self, app: ASGIApp, host: str | None = None, https_port: int = 443) -> None:
        self.app = app
        self.host = host
        self.https_port = https_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http" and scope.get("scheme") == "http":
            await self._redirect(scope, send, "http.response")
        elif kind == "websocket" and scope.get("scheme") == "ws":
            if "websocket.http.response" in scope.get("extensions", {}):
                await self._redirect(scope, send, "websocket.http.response")
            else:
                await send({"type": "websocket.close"})
        else:
            await self.app(scope, receive, send)

    def location(self, scope: Scope) -> bytes:
        """The ``https://`` URL for the request ``scope`` describes."""
        host = self.host
        if host is None:
            host = next(
                (value.decode("latin-1") for name, value in scope["headers"] if name == b"host"),
                "",
            )
            if not host and scope.get("server"):
                host = str(scope["server"][0])
        # Drop the port the request came to; the HTTPS port (if not 443) replaces it.
        if host.startswith("["):
            host = host[: host.index("]") + 1] if "]" in host else host
        else:
            host = host.partition(":")[0]
        if self.https_port != 443:
            host = f"{host}:{self.https_port}"
        # This server's path and raw_path already include root_path.
        raw_path = scope.get("raw_path")
        target = raw_path.decode("latin-1") if raw_path else quote(scope["path"])
        query = scope.get("query_string", b"")
        url = f"https://{host}{target}"
        if query:
            url += "?" + query.decode("latin-1")
        return url.encode("latin-1")

    async def _redirect(self, scope: Scope, send: Send, prefix: str) -> None:
        location = self.location(scope)
        await send(
            {
                "type": f"{prefix}.start",
                "status": 308,
                "headers": [(b"location", location), (b"content-length", b"0")],
            }
        )
        await send({"type": f"{prefix}.body", "body": b""})
