"""ASGI apps the tests serve. ``RoutingApp`` dispatches on the path and records what it saw."""

from __future__ import annotations

import asyncio
import json
import queue
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": b"Hello, world!"})


async def read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionError("client disconnected")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


class RoutingApp:
    """One app with a route per behaviour under test; ``events`` records what happened."""

    def __init__(self) -> None:
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()

    def record(self, kind: str, value: Any = None) -> None:
        self.events.put((kind, value))

    def wait_event(self, kind: str, timeout: float = 5.0) -> Any:
        while True:
            got, value = self.events.get(timeout=timeout)
            if got == kind:
                return value

    def drain_events(self) -> list[tuple[str, Any]]:
        found = []
        while True:
            try:
                found.append(self.events.get_nowait())
            except queue.Empty:
                return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(scope, receive, send)
            return
        path = scope["path"]
        root_path = scope.get("root_path", "")
        if root_path and path.startswith(root_path):
            path = path[len(root_path) :]
        query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
        self.record("request", path)
        name = path.strip("/").split("/")[0].replace("-", "_")
        handler = getattr(self, "route_" + name, None)
        if handler is None:
            handler = self.route_hello
        await handler(scope, receive, send, query)

    async def lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                scope["state"]["greeting"] = "from lifespan"
                self.record("startup")
                await send({"type": "lifespan.startup.complete"})
            else:
                self.record("shutdown")
                await send({"type": "lifespan.shutdown.complete"})
                return

    @staticmethod
    async def respond(
        send: Send,
        body: bytes,
        status: int = 200,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": headers if headers is not None else [(b"content-type", b"text/plain")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def route_hello(
        self, scope: Scope, receive: Receive, send: Send, query: dict[str, str]
    ) -> None:
        await self.respond(send, b"Hello, world!")

    async def route_echo(
        self, scope: Scope, receive: Receive, send: Send, query: dict[str, str]
    ) -> None:
        body = await read_body(receive)
        self.record("body", body)
        await self.respond(send, body)

    async def route_echo_stream(
        self, scope: Scope, receive: Receive, send: Send, query: dict[str, str]
    ) -> None:
        """Echo each received piece as it arrives (chunked response)."""
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            await send(
                {"type": "http.response.body", "body": message.get("body", b""), "more_body": True}
            )
            if not message.get("more_body"):
                break
        await send({"type": "http.response.body", "body": b""})

    async def route_scope(
        self, scope: Scope, receive: Receive, send: Send, query: dict[str, str]
    ) -> None:
        info = {
            key: scope.get(key)
            for key in ("http_version", "method", "scheme", "path", "root_path", "type")
        }
        info["raw_path"] = scope["raw_path"].decode("latin-1")
        info["query_string"] = scope["query_string"].decode("latin-1")
        info["client"] = list(scope["client"]) if scope.get("client") else None
        info["server"] = list(scope["server"]) if scope.get("server") else None
        info["headers"] = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]]
        info["asgi"] = scope.get("asgi")
        info["state"] = scope.get("state")
        await self.respond(
            send, json.dumps(info).encode(), headers=[(b"content-type", b"application/json")]
        )

    async def route_stream(
        self, scope: Scope, receive: Receive, send: Send, query: dict[str, str]
    ) -> None:
        count = int(query.get("n", "3"))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for index in range(count):
            await send(
                {"type": "http.response.body", "body": b"chunk%d;" % index, "more_body": True}
            )
        await send({"type": "http.response.body", "body": b""})

    async def route_length(
        self, scope: Scope, receive: Receive, send: Send, query: dict[str, str]
    ) -> None:
        """Streams with an explicit Content-Length."""
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"10")]}
        )
        await send({"type": "http.response.body", "body": b"01234", "more_body": True})
        await send({"type": "http.response.body", "body": b"56789"})

    async def route_status(
        self, scope: Scope, receive: Receive, send: Send, query: dict[str, str]
    ) -> None:
        status = int(query.get("code", "200"))
        await self.respond(send, b"body" if query.get("body") else b"", status=status)

    async def route_sleep(
        self, scope: Scope, receive: Receive, send: Send, query: dict[str, str]
    ) -> None:
        self.record("sleeping", query.get("s"))
        await asyncio.sleep(float(query.get("s", "0.2")))
        await self.respond(send, b"slept")

    async def route_error(
        self, scope: Scope, receive: Receive, send: Send, query: dict[str, str]
    ) -> None:
        raise RuntimeError("boom before start")

    async def route_error_after_start(
        self, scope: Scope, receive: Receive, send: Send, query: dict[str, str]
    ) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("boom after start")

    async def route_error_mid_body(
        self, scope: Scope, receive: Receive, send: Send, query: dict[str, str]
    ) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        await asyncio.sleep(0.05)
        raise RuntimeError("boom mid body")

    async def route_no_response(
        self, scope: Scope, receive: Receive, send: Send, query: dict[str, str]
    ) -> None:
        return

    async def route_bad_header(
        self, scope: Scope, receive: Receive, send: Send, query: dict[str, str]
    ) -> None:
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"x-evil", b"a\r\nSet-Cookie: stolen=1")],
                }
            )
        except Exception as exc:
            self.record("send_error", repr(exc))
            raise

    async def route_bad_status(
        self, scope: Scope, receive: Receive, send: Send, query: dict[str, str]
    ) -> None:
        await send({"type": "http.response.start", "status": "200", "headers": []})

    async def route_ignore_body(
        self, scope: Scope, receive: Receive, send: Send, query: dict[str, str]
    ) -> None:
        await self.respond(send, b"ignored", status=413)

    async def route_disconnect(
        self, scope: Scope, receive: Receive, send: Send, query: dict[str, str]
    ) -> None:
        """Read the body, then wait for the client to go away."""
        await read_body(receive)
        self.record("waiting")
        message = await receive()
        self.record("disconnect", message["type"])

    async def route_slow_reader(
        self, scope: Scope, receive: Receive, send: Send, query: dict[str, str]
    ) -> None:
        """Reads nothing until released; records how much it then reads."""
        self.record("holding")
        await asyncio.sleep(float(query.get("hold", "1.0")))
        body = await read_body(receive)
        self.record("read", len(body))
        await self.respond(send, b"%d" % len(body))

    async def route_firehose(
        self, scope: Scope, receive: Receive, send: Send, query: dict[str, str]
    ) -> None:
        """Streams up to n MiB and records how far it got; send() blocks under backpressure."""
        total = int(query.get("mib", "64"))
        chunk = b"x" * 65536
        await send({"type": "http.response.start", "status": 200, "headers": []})
        sent = 0
        try:
            for _ in range(total * 16):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                sent += len(chunk)
                self.record("progress", sent)
            await send({"type": "http.response.body", "body": b""})
        except OSError:
            self.record("send_failed", sent)
            raise
        self.record("firehose_done", sent)

    async def route_connection_close(
        self, scope: Scope, receive: Receive, send: Send, query: dict[str, str]
    ) -> None:
        await self.respond(send, b"bye", headers=[(b"connection", b"close")])

    async def route_headers(
        self, scope: Scope, receive: Receive, send: Send, query: dict[str, str]
    ) -> None:
        """Responds with the headers named in the query (server, date overrides)."""
        headers = [(k.encode(), v.encode()) for k, v in query.items()]
        await self.respond(send, b"ok", headers=headers)

    async def route_late_body_read(
        self, scope: Scope, receive: Receive, send: Send, query: dict[str, str]
    ) -> None:
        """Waits before reading the body (for Expect: 100-continue timing)."""
        self.record("before_read")
        await asyncio.sleep(float(query.get("wait", "0.3")))
        self.record("reading")
        body = await read_body(receive)
        await self.respond(send, body)
