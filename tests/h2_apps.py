"""ASGI apps for the HTTP/2 and TLS integration tests: RoutingApp plus the ASGI extensions.

Apps run on the server's event loop, in the LiveServer's thread. A test holds an app at a
*gate* and lets it go with ``server.call(app.release, name)``, which sets the gate's
``asyncio.Event`` on that loop; gates are created on first use from either side.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

from .apps import Receive, RoutingApp, Scope, Send, read_body

#: The Link values the early-hints route sends (RFC 8297 §2).
HINT_LINKS = [b"</style.css>; rel=preload; as=style", b"</app.js>; rel=preload; as=script"]

#: The trailer the trailers route sends after its body.
TRAILER_NAME = b"x-checksum"

CHUNK = 65536


def pattern(seed: int, offset: int, size: int) -> bytes:
    """``size`` bytes of a stream of data unique to ``seed``, starting at ``offset``.

    Each 64 KiB block is a different 32-byte digest repeated, so a block delivered on the
    wrong stream, twice or out of order is visible when the whole body is compared.
    """
    out = bytearray()
    position = offset
    while len(out) < size:
        block, within = divmod(position, CHUNK)
        digest = hashlib.sha256(b"%d:%d" % (seed, block)).digest()
        piece = (digest * (CHUNK // len(digest)))[within : within + size - len(out)]
        out += piece
        position += len(piece)
    return bytes(out)


class H2App(RoutingApp):
    """RoutingApp plus routes for push, early hints, trailers, gates and flow control."""

    def __init__(self) -> None:
        super().__init__()
        self.gates: dict[str, asyncio.Event] = {}

    def gate(self, name: str) -> asyncio.Event:
        event = self.gates.get(name)
        if event is None:
            event = self.gates[name] = asyncio.Event()
        return event

    def release(self, name: str) -> None:
        """Open gate ``name``; call it on the server's loop (``server.call``)."""
        self.gate(name).set()

    async def route_push(
        self, scope: Scope, receive: Receive, send: Send, query: dict[str, str]
    ) -> None:
        """Pushes /pushed/style.css (when the server offers push), then answers."""
        offered = "http.response.push" in scope["extensions"]
        self.record("push_offered", offered)
        if offered:
            await send(
                {
                    "type": "http.response.push",
                    "path": "/pushed/style.css",
                    "headers": [(b"accept", b"text/css")],
                }
            )
        await self.respond(send, b"<link rel=stylesheet href=/pushed/style.css>")

    async def route_pushed(
        self, scope: Scope, receive: Receive, send: Send, query: dict[str, str]
    ) -> None:
        headers = dict(scope["headers"])
        self.record("pushed_request", (scope["method"], scope["path"], headers.get(b"accept")))
        await self.respond(
            send, b"pushed " + scope["path"].encode(), headers=[(b"content-type", b"text/css")]
        )

    async def route_hints(
        self, scope: Scope, receive: Receive, send: Send, query: dict[str, str]
    ) -> None:
        self.record("hints_offered", "http.response.early_hint" in scope["extensions"])
        await send({"type": "http.response.early_hint", "links": HINT_LINKS})
        await self.respond(send, b"hinted")

    async def route_trailers(
        self, scope: Scope, receive: Receive, send: Send, query: dict[str, str]
    ) -> None:
        """A body in ``parts`` messages, then a checksum trailer."""
        self.record("trailers_offered", "http.response.trailers" in scope["extensions"])
        parts = [b"part%d;" % index for index in range(int(query.get("parts", "2")))]
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"trailer", TRAILER_NAME)],
                "trailers": True,
            }
        )
        for index, part in enumerate(parts):
            more = index < len(parts) - 1
            await send({"type": "http.response.body", "body": part, "more_body": more})
        checksum = hashlib.sha256(b"".join(parts)).hexdigest().encode()
        await send(
            {"type": "http.response.trailers", "headers": [(TRAILER_NAME, checksum)]},
        )

    async def route_wait_disconnect(
        self, scope: Scope, receive: Receive, send: Send, query: dict[str, str]
    ) -> None:
        """Never answers; records every message ``receive`` returns until http.disconnect."""
        self.record("receiving", query.get("tag"))
        for _ in range(1000):
            message = await receive()
            self.record("received", (query.get("tag"), message["type"]))
            if message["type"] == "http.disconnect":
                return

    async def route_block(
        self, scope: Scope, receive: Receive, send: Send, query: dict[str, str]
    ) -> None:
        """Waits at gate ``name`` before answering; says which client port asked."""
        name = query["name"]
        self.record("blocked", name)
        await self.gate(name).wait()
        port = b"%d" % scope["client"][1]
        await self.respond(send, b"released " + name.encode(), headers=[(b"x-client-port", port)])

    async def route_gated_stream(
        self, scope: Scope, receive: Receive, send: Send, query: dict[str, str]
    ) -> None:
        """Sends ``first;``, waits at gate ``name``, then sends ``last;``."""
        name = query["name"]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first;", "more_body": True})
        self.record("gated", name)
        await self.gate(name).wait()
        await send({"type": "http.response.body", "body": b"last;"})
        self.record("gated_done", name)

    async def route_big(
        self, scope: Scope, receive: Receive, send: Send, query: dict[str, str]
    ) -> None:
        """``size`` bytes of ``pattern(seed)``, made and sent 64 KiB at a time.

        Each block is built just before it is sent, so whatever more than one block per
        stream is in memory is held by the server, not by the app.
        """
        seed = int(query["seed"])
        size = int(query.get("size", str(1 << 20)))
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"%d" % size)],
            }
        )
        self.record("big_started", seed)
        for offset in range(0, size, CHUNK):
            piece = pattern(seed, offset, min(CHUNK, size - offset))
            more = offset + CHUNK < size
            try:
                await send({"type": "http.response.body", "body": piece, "more_body": more})
            except Exception as exc:
                self.record("big_failed", (seed, type(exc).__name__))
                raise
            self.record("big_sent", (seed, offset + len(piece)))
        self.record("big_done", seed)

    async def route_tls(
        self, scope: Scope, receive: Receive, send: Send, query: dict[str, str]
    ) -> None:
        """The scope's extensions as JSON: the names, and the ``tls`` one in full."""
        await read_body(receive)
        extensions = scope.get("extensions") or {}
        info: dict[str, Any] = {
            "extensions": sorted(extensions),
            "tls": extensions.get("tls"),
            "http_version": scope["http_version"],
            "scheme": scope["scheme"],
        }
        await self.respond(
            send, json.dumps(info).encode(), headers=[(b"content-type", b"application/json")]
        )

    async def route_page(
        self, scope: Scope, receive: Receive, send: Send, query: dict[str, str]
    ) -> None:
        """A page that writes the protocol the browser fetched it with into its own DOM."""
        page = (
            b"<!doctype html><html><head><title>h2</title></head><body>"
            b"<script>document.body.setAttribute('data-protocol',"
            b" performance.getEntriesByType('navigation')[0].nextHopProtocol);</script>"
            b"</body></html>"
        )
        await self.respond(send, page, headers=[(b"content-type", b"text/html; charset=utf-8")])
