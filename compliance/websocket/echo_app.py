"""The echo app the WebSocket conformance suite (and Autobahn's fuzzingclient) drives.

Plain ASGI 3, no framework, so any ASGI server can run it::

    hypercorn compliance.websocket.echo_app:app
    uvicorn echo_app:app --app-dir compliance/websocket --ws websockets

The contract: at ``/ws`` (or ``/``, which is where Autobahn connects when told no path) accept
with no subprotocol and echo every text or binary message back with the same type until the
client closes. Any other path is refused during the handshake (403). Plain HTTP requests get a
short text answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

ECHO_PATHS = frozenset({"/ws", "/"})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "websocket":
        await _websocket(scope, receive, send)
    elif scope["type"] == "http":
        await _http(receive, send)
    elif scope["type"] == "lifespan":
        await _lifespan(receive, send)


async def _websocket(scope: Scope, receive: Receive, send: Send) -> None:
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    if scope["path"] not in ECHO_PATHS:
        # ASGI: closing before accepting denies the handshake (HTTP 403).
        await send({"type": "websocket.close", "code": 1008})
        return
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message.get("bytes") or b""})


async def _http(receive: Receive, send: Send) -> None:
    while (await receive()).get("more_body"):
        pass
    body = b"WebSocket echo server: connect to /ws\n"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
