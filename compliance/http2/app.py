"""The ASGI app the suite expects behind the server under test (the contract in README.md).

- ``GET /`` (and ``HEAD /``): 200 with a plain-text body of a few dozen octets.
- ``POST /`` (any method with a body): 200 echoing the request body.
- Every request's body is read to its end before the answer, so a request whose stream the
  client keeps open stays open on the server too.
- A WebSocket (RFC 8441 extended CONNECT) is accepted and echoes messages.

Run it with any ASGI server, e.g. ``hypercorn compliance.http2.app:app``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

GREETING = b"Hello from the app of the HTTP/2 compliance suite.\n"


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    elif scope["type"] == "http":
        await _http(scope, receive, send)
    elif scope["type"] == "websocket":
        await _websocket(receive, send)


async def _http(scope: Scope, receive: Receive, send: Send) -> None:
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    content = bytes(body) if scope["method"] not in ("GET", "HEAD") else GREETING
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/plain"),
                (b"content-length", str(len(content)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})


async def _websocket(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif message["type"] == "websocket.receive":
            reply = {key: message[key] for key in ("bytes", "text") if message.get(key)}
            await send({"type": "websocket.send", **reply})
        else:
            return
