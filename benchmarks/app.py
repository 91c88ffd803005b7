"""The one ASGI application every server in the benchmark serves: plain ASGI, no framework.

- ``GET /``      → ``Hello, world!`` (13 bytes)
- ``GET /64k``   → 64 KiB of ``x``
- ``POST /echo`` → the request body, back
- ``/ws``        → a WebSocket that echoes every message, text as text and bytes as bytes

Every HTTP response carries a Content-Length, so no server chooses chunked encoding for one
and not for another. Lifespan is answered so that no server logs a lifespan error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

HELLO = b"Hello, world!"
SIXTY_FOUR_KIB = b"x" * 65536


def _start(status: int, length: int) -> Message:
    return {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"text/plain"),
            (b"content-length", str(length).encode()),
        ],
    }


async def _respond(send: Send, status: int, body: bytes) -> None:
    await send(_start(status, len(body)))
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _http(scope: Message, receive: Receive, send: Send) -> None:
    path, method = scope["path"], scope["method"]
    if path == "/" and method == "GET":
        await _respond(send, 200, HELLO)
    elif path == "/64k" and method == "GET":
        await _respond(send, 200, SIXTY_FOUR_KIB)
    elif path == "/echo" and method == "POST":
        await _respond(send, 200, await _read_body(receive))
    else:
        await _respond(send, 404, b"Not Found")


async def _websocket(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif kind == "websocket.receive":
            if message.get("bytes") is not None:
                await send({"type": "websocket.send", "bytes": message["bytes"]})
            else:
                await send({"type": "websocket.send", "text": message["text"]})
        else:  # websocket.disconnect
            return


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: Message, receive: Receive, send: Send) -> None:
    if scope["type"] == "http":
        await _http(scope, receive, send)
    elif scope["type"] == "websocket":
        if scope["path"] == "/ws":
            await _websocket(receive, send)
        else:
            await send({"type": "websocket.close", "code": 1008})
    elif scope["type"] == "lifespan":
        await _lifespan(receive, send)
