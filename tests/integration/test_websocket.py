"""WebSockets with real clients against a real server: websockets, aiohttp, Chromium.

Every ``serve`` test runs on each event loop x HTTP/1.1 parser combination. The clients
speak ws:// and wss:// (over TLS with a throwaway CA from ``trustme``); Chromium loads a
page from the server whose script opens a ``wss://`` WebSocket (over HTTP/2 by RFC 8441 if
the browser chooses it, else HTTP/1.1) and reports what happened.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs

import pytest

from hypercorn.config import Config

from ..conftest import ServerFactory
from ..helpers import LiveServer, Reader, wait_for
from .h2_helpers import TLSFiles, make_tls_files, run_tool, tool

websockets = pytest.importorskip("websockets")
aiohttp = pytest.importorskip("aiohttp")

from websockets.asyncio.client import connect  # noqa: E402
from websockets.exceptions import (  # noqa: E402
    ConnectionClosed,
    ConnectionClosedError,
    InvalidStatus,
)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

MIB = 1024 * 1024
T = TypeVar("T")


# --- the app ------------------------------------------------------------------------------


class WSApp:
    """WebSocket routes under test, plus the page and callbacks the browser test uses.

    ``events`` records (kind, value) pairs from the server's loop for the test thread.
    """

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self._changed = threading.Condition()
        #: Messages the /flood route has handed to ``send`` (and that returned).
        self.flood_sent = 0
        self.flood_done = threading.Event()
        self._reported: asyncio.Event | None = None

    def record(self, kind: str, value: Any = None) -> None:
        with self._changed:
            self.events.append((kind, value))
            self._changed.notify_all()

    def wait_event(self, kind: str, timeout: float = 10.0) -> Any:
        """The first ``kind`` event not yet taken (waiting for it if need be)."""
        with self._changed:
            for _ in range(2):
                for index, (got, value) in enumerate(self.events):
                    if got == kind:
                        del self.events[index]
                        return value
                self._changed.wait_for(lambda: any(got == kind for got, _ in self.events), timeout)
        raise AssertionError(f"no {kind!r} event in {timeout} s; events: {self.events!r}")

    @property
    def reported(self) -> asyncio.Event:
        if self._reported is None:
            self._reported = asyncio.Event()
        return self._reported

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
        route = getattr(self, "route_" + scope["path"].strip("/").replace("-", "_"), None)
        if route is None:
            route = self.route_echo if scope["type"] == "websocket" else self.route_missing
        await route(scope, receive, send, query)

    # websocket routes

    async def route_echo(self, scope: Scope, receive: Receive, send: Send, query: Any) -> None:
        """Echo; ``close-me`` makes the server close with 4000; records the scope and end."""
        assert (await receive())["type"] == "websocket.connect"
        offered = scope["subprotocols"]
        self.record(
            "scope",
            {
                "http_version": scope["http_version"],
                "scheme": scope["scheme"],
                "subprotocols": offered,
                "extensions_offered": [
                    value.decode()
                    for name, value in scope["headers"]
                    if name == b"sec-websocket-extensions"
                ],
            },
        )
        subprotocol = "chat" if "chat" in offered else None
        await send({"type": "websocket.accept", "subprotocol": subprotocol})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                self.record("disconnect", (message["code"], message.get("reason", "")))
                return
            if message.get("text") == "close-me":
                await send({"type": "websocket.close", "code": 4000, "reason": "server bye"})
                final = await receive()
                self.record("disconnect", (final["code"], final.get("reason", "")))
                return
            reply = {"type": "websocket.send"}
            for key in ("text", "bytes"):
                if message.get(key) is not None:
                    reply[key] = message[key]
            await send(reply)

    async def route_deny(self, scope: Scope, receive: Receive, send: Send, query: Any) -> None:
        await receive()
        await send(
            {
                "type": "websocket.http.response.start",
                "status": 403,
                "headers": [(b"content-type", b"text/plain"), (b"x-denied-by", b"app")],
            }
        )
        await send({"type": "websocket.http.response.body", "body": b"no entry"})

    async def route_refuse(self, scope: Scope, receive: Receive, send: Send, query: Any) -> None:
        await receive()
        await send({"type": "websocket.close"})

    async def route_flood(self, scope: Scope, receive: Receive, send: Send, query: Any) -> None:
        """Send 64 KiB messages as fast as ``send`` lets it (at most 256 MiB)."""
        await receive()
        await send({"type": "websocket.accept"})
        chunk = b"f" * 65536
        try:
            for _ in range(4096):
                await send({"type": "websocket.send", "bytes": chunk})
                self.flood_sent += 1
        except OSError:
            pass
        finally:
            self.flood_done.set()

    # http routes (for the browser)

    async def route_missing(self, scope: Scope, receive: Receive, send: Send, query: Any) -> None:
        await respond(send, 404, b"text/plain", b"not found")

    async def route_page(self, scope: Scope, receive: Receive, send: Send, query: Any) -> None:
        self.record("page", scope["http_version"])
        await respond(send, 200, b"text/html; charset=utf-8", PAGE)

    async def route_report(self, scope: Scope, receive: Receive, send: Send, query: Any) -> None:
        self.record("report", json.loads(query["r"]))
        self.reported.set()
        await respond(send, 204, b"text/plain", b"")

    async def route_wait(self, scope: Scope, receive: Receive, send: Send, query: Any) -> None:
        """A script the page waits for: answered once the page has reported (or at 20 s)."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.reported.wait(), 20)
        await respond(send, 200, b"text/javascript", b"// reported\n")


async def respond(send: Send, status: int, content_type: bytes, body: bytes) -> None:
    headers = [(b"content-type", content_type), (b"cache-control", b"no-store")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# The browser's part: echo a text and a binary message, ask the server to close, report.
PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>ws</title></head><body>
<pre id="result">pending</pre>
<script>
const seen = [];
const ws = new WebSocket("wss://" + location.host + "/echo", ["chat", "other"]);
ws.binaryType = "arraybuffer";
ws.onopen = () => {
  ws.send("hello from chromium \\u2603");
  ws.send(new Uint8Array([0, 1, 2, 255]));
};
ws.onmessage = (event) => {
  seen.push(typeof event.data === "string"
    ? "text:" + event.data
    : "bytes:" + Array.from(new Uint8Array(event.data)).join(","));
  if (seen.length === 2) ws.send("close-me");
};
ws.onclose = (event) => {
  const result = JSON.stringify({
    seen: seen, code: event.code, reason: event.reason,
    protocol: ws.protocol, extensions: ws.extensions,
  });
  document.getElementById("result").textContent = result;
  document.body.setAttribute("data-result", encodeURIComponent(result));
  fetch("/report?r=" + encodeURIComponent(result));
};
</script>
<script src="/wait"></script>
</body></html>
"""


# --- fixtures and helpers -----------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_tls_files(tmp_path_factory.mktemp("wstls"))


def tls_options(files: TLSFiles) -> dict[str, Any]:
    return {"certfile": files.cert_path, "keyfile": files.key_path}


def client_context(files: TLSFiles) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=files.ca_path)


@pytest.fixture(params=["ws", "wss"])
def scheme(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


class Target:
    """A started server and how to reach it over ``scheme``."""

    def __init__(self, server: LiveServer, scheme: str, files: TLSFiles) -> None:
        self.server = server
        self.scheme = scheme
        self.files = files

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.port}{path}"

    @property
    def ssl(self) -> ssl.SSLContext | None:
        return client_context(self.files) if self.scheme == "wss" else None

    def connect(self, path: str = "/echo", **options: Any) -> Any:
        """A websockets client connection (``async with``)."""
        options.setdefault("open_timeout", 5)
        options.setdefault("close_timeout", 5)
        return connect(self.url(path), ssl=self.ssl, proxy=None, **options)


def run(scenario: Coroutine[Any, Any, T]) -> T:
    """Run a client scenario on a fresh event loop in the test's thread, bounded in time.

    websockets' asyncio client, not its threaded sync one: the latter reads and writes one
    TLS connection from two threads and now and then loses its request (about 1 in 500
    wss:// handshakes then time out with the server never having received a byte).
    """
    return asyncio.run(asyncio.wait_for(scenario, 20))


async def recv(ws: Any) -> Any:
    return await asyncio.wait_for(ws.recv(), 10)


@pytest.fixture
def start(serve: ServerFactory, scheme: str, tls_files: TLSFiles) -> Callable[..., Target]:
    def start(app: WSApp, **options: Any) -> Target:
        if scheme == "wss":
            options.update(tls_options(tls_files))
        return Target(serve(app, **options), scheme, tls_files)

    return start


# --- the websockets library ---------------------------------------------------------------


def test_websockets_echo_text_and_binary(start: Callable[..., Target]) -> None:
    app = WSApp()
    target = start(app)

    async def scenario() -> None:
        async with target.connect() as ws:
            await ws.send("hello ☃")
            assert await recv(ws) == "hello ☃"
            await ws.send(b"\x00\x01\xfe\xff")
            assert await recv(ws) == b"\x00\x01\xfe\xff"

    run(scenario())
    scope = app.wait_event("scope")
    assert scope["http_version"] == "1.1"
    assert scope["scheme"] == target.scheme
    assert app.wait_event("disconnect") == (1000, "")


def test_websockets_subprotocol_negotiation(start: Callable[..., Target]) -> None:
    app = WSApp()
    target = start(app)

    async def scenario() -> tuple[Any, Any]:
        async with target.connect(subprotocols=["superchat", "chat"]) as ws:
            chosen = ws.subprotocol
        async with target.connect(subprotocols=["superchat"]) as ws:
            none = ws.subprotocol  # nothing acceptable offered: accepted without one
        return chosen, none

    assert run(scenario()) == ("chat", None)
    assert app.wait_event("scope")["subprotocols"] == ["superchat", "chat"]


def test_websockets_permessage_deflate_negotiated_and_a_1_mib_message(
    start: Callable[..., Target],
) -> None:
    app = WSApp()
    target = start(app)
    payload = os.urandom(MIB // 2) + b"z" * (MIB // 2)  # half incompressible
    text = "ab☃" * (MIB // 5)

    async def scenario() -> str:
        async with target.connect(max_size=4 * MIB) as ws:
            await ws.send(payload)
            assert await recv(ws) == payload
            await ws.send(text)
            assert await recv(ws) == text
            return str(ws.response.headers.get("Sec-WebSocket-Extensions", ""))

    extensions = run(scenario())
    assert extensions.startswith("permessage-deflate"), extensions
    assert "permessage-deflate" in app.wait_event("scope")["extensions_offered"][0]


def test_websockets_without_compression_when_turned_off(start: Callable[..., Target]) -> None:
    target = start(WSApp(), websocket_compression=False)

    async def scenario() -> None:
        async with target.connect() as ws:
            assert "Sec-WebSocket-Extensions" not in ws.response.headers
            await ws.send("plain " * 1000)
            assert await recv(ws) == "plain " * 1000

    run(scenario())


def test_websockets_client_close_code_and_reason_reach_the_app(
    start: Callable[..., Target],
) -> None:
    app = WSApp()
    target = start(app)

    async def scenario() -> Any:
        async with target.connect() as ws:
            await ws.send("x")
            await recv(ws)
            await ws.close(4321, "client done")
            return ws.close_code

    assert run(scenario()) == 4321  # the server echoed the code
    assert app.wait_event("disconnect") == (4321, "client done")


def test_websockets_server_close_code_and_reason_reach_the_client(
    start: Callable[..., Target],
) -> None:
    app = WSApp()
    target = start(app)

    async def scenario() -> Any:
        async with target.connect() as ws:
            await ws.send("close-me")
            with pytest.raises(ConnectionClosed) as info:
                await recv(ws)
        return info.value.rcvd

    rcvd = run(scenario())
    assert rcvd is not None
    assert (rcvd.code, rcvd.reason) == (4000, "server bye")
    assert app.wait_event("disconnect")[0] == 4000


def test_websockets_sees_the_denial_response(start: Callable[..., Target]) -> None:
    target = start(WSApp())

    async def attempt(path: str) -> Any:
        with pytest.raises(InvalidStatus) as info:
            async with target.connect(path):
                pass
        return info.value.response

    response = run(attempt("/deny"))
    assert response.status_code == 403
    assert response.headers["x-denied-by"] == "app"
    assert response.body == b"no entry"
    assert run(attempt("/refuse")).status_code == 403


def test_websockets_message_over_the_limit_is_closed_with_1009(
    start: Callable[..., Target],
) -> None:
    app = WSApp()
    target = start(app, websocket_max_message_size=64 * 1024)

    async def scenario() -> Any:
        async with target.connect() as ws:
            await ws.send(b"k" * (64 * 1024))
            assert len(await recv(ws)) == 64 * 1024
            await ws.send(os.urandom(64 * 1024 + 1))  # incompressible: too big on the wire too
            with pytest.raises(ConnectionClosedError) as info:
                await recv(ws)
        return info.value.rcvd

    rcvd = run(scenario())
    assert rcvd is not None and rcvd.code == 1009
    assert app.wait_event("disconnect")[0] == 1009


def test_websockets_compressed_message_inflating_past_the_limit_gets_1009(
    start: Callable[..., Target],
) -> None:
    target = start(WSApp(), websocket_max_message_size=64 * 1024)

    async def scenario() -> Any:
        async with target.connect() as ws:
            await ws.send(bytes(8 * MIB))  # ~8 KiB on the wire, 8 MiB inflated
            with pytest.raises(ConnectionClosedError) as info:
                await recv(ws)
        return info.value.rcvd

    rcvd = run(scenario())
    assert rcvd is not None and rcvd.code == 1009


def test_websockets_server_shutdown_closes_with_1001(start: Callable[..., Target]) -> None:
    app = WSApp()
    target = start(app)

    async def scenario() -> tuple[Any, float]:
        async with target.connect() as ws:
            await ws.send("ping")
            assert await recv(ws) == "ping"
            started = time.monotonic()
            # Graceful: stop() returns once the closing handshake is done (this loop answers
            # the server's Close meanwhile).
            await asyncio.to_thread(target.server.stop)
            took = time.monotonic() - started
            with pytest.raises(ConnectionClosed) as info:
                await recv(ws)
        return info.value.rcvd, took

    rcvd, took = run(scenario())
    assert rcvd is not None and rcvd.code == 1001
    assert took < 5
    assert app.wait_event("disconnect")[0] == 1001


# --- aiohttp's client ---------------------------------------------------------------------


def run_aiohttp(target: Target, script: Callable[[Any], Awaitable[Any]], **options: Any) -> Any:
    async def main() -> Any:
        timeout = aiohttp.ClientTimeout(total=15)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            ssl_option: Any = target.ssl if target.ssl is not None else False
            async with session.ws_connect(target.url("/echo"), ssl=ssl_option, **options) as ws:
                return await script(ws)

    return asyncio.run(main())


def test_aiohttp_echo_subprotocol_and_close(start: Callable[..., Target]) -> None:
    app = WSApp()
    target = start(app)

    async def script(ws: Any) -> Any:
        assert ws.protocol == "chat"
        await ws.send_str("from aiohttp")
        text = await ws.receive(timeout=5)
        await ws.send_bytes(b"\x00aio\xff")
        binary = await ws.receive(timeout=5)
        big = b"m" * MIB
        await ws.send_bytes(big)
        echoed = await ws.receive(timeout=10)
        await ws.close(code=4444, message=b"aiohttp bye")
        return text, binary, echoed.data == big, ws.close_code

    text, binary, big_ok, code = run_aiohttp(target, script, protocols=("chat",))
    assert (text.type, text.data) == (aiohttp.WSMsgType.TEXT, "from aiohttp")
    assert (binary.type, binary.data) == (aiohttp.WSMsgType.BINARY, b"\x00aio\xff")
    assert big_ok
    assert code == 4444
    assert app.wait_event("disconnect") == (4444, "aiohttp bye")


def test_aiohttp_compression_negotiated_and_server_close(start: Callable[..., Target]) -> None:
    app = WSApp()
    target = start(app)

    async def script(ws: Any) -> Any:
        compress = ws.compress
        await ws.send_str("squash " * 1000)
        echoed = await ws.receive(timeout=5)
        await ws.send_str("close-me")
        closing = await ws.receive(timeout=5)
        return compress, echoed.data, closing

    compress, echoed, closing = run_aiohttp(target, script, compress=15)
    assert compress == 15  # permessage-deflate accepted
    assert echoed == "squash " * 1000
    assert closing.type == aiohttp.WSMsgType.CLOSE
    assert (closing.data, closing.extra) == (4000, "server bye")


def test_aiohttp_max_message_size_gets_1009(start: Callable[..., Target]) -> None:
    target = start(WSApp(), websocket_max_message_size=1000)

    async def script(ws: Any) -> Any:
        await ws.send_bytes(os.urandom(1001))
        return await ws.receive(timeout=5)

    closing = run_aiohttp(target, script)
    assert closing.type == aiohttp.WSMsgType.CLOSE
    assert closing.data == 1009


# --- keep-alive and shutdown, on the wire ---------------------------------------------------


def read_frame(reader: Reader) -> tuple[int, bytes]:
    """One unmasked server frame: (opcode, payload)."""
    first, second = reader.read_exactly(2)
    length = second & 0x7F
    if length == 126:
        length = int.from_bytes(reader.read_exactly(2), "big")
    elif length == 127:
        length = int.from_bytes(reader.read_exactly(8), "big")
    return first & 0x0F, reader.read_exactly(length)


def test_a_silent_client_is_pinged_then_dropped(serve: ServerFactory) -> None:
    app = WSApp()
    # A short keep-alive timeout makes the server's deadline tick fine-grained (50 ms).
    server = serve(
        app, websocket_ping_interval=0.3, websocket_ping_timeout=0.3, keep_alive_timeout=0.2
    )
    with contextlib.closing(server.connect()) as sock:
        reader = raw_handshake(sock, "/echo")
        started = time.monotonic()
        assert read_frame(reader) == (0x9, b"hypercorn")  # a Ping after the silence
        assert reader.at_eof(timeout=3), "no answer to the Ping, yet still connected"
        assert time.monotonic() - started < 2.5
    assert app.wait_event("disconnect")[0] == 1006


class SlowAccept(WSApp):
    """Accepts only after a while, so that shutdown can begin during the handshake."""

    async def route_slow(self, scope: Scope, receive: Receive, send: Send, query: Any) -> None:
        await receive()
        self.record("handshake")
        await asyncio.sleep(0.5)
        await send({"type": "websocket.accept"})
        message = await receive()
        self.record("disconnect", (message["code"], message.get("reason", "")))


def test_websocket_accepted_during_shutdown_gets_1001() -> None:
    app = SlowAccept()
    config = Config(bind=["127.0.0.1:0"], graceful_timeout=1.5)
    with LiveServer(app, config) as server:

        async def scenario() -> int:
            url = f"ws://127.0.0.1:{server.port}/slow"
            async with connect(url, proxy=None, open_timeout=5, close_timeout=5) as ws:
                try:
                    await recv(ws)
                except ConnectionClosed as exc:
                    return exc.rcvd.code if exc.rcvd is not None else 1006
            return 0

        async def shutdown_during_handshake() -> int:
            client = asyncio.ensure_future(scenario())
            await asyncio.to_thread(app.wait_event, "handshake")
            # Shutdown begins while the app is still deciding.
            stopping = asyncio.ensure_future(asyncio.to_thread(server.stop))
            code = await client
            await stopping
            return code

        code = run(shutdown_during_handshake())
    assert code == 1001


# --- backpressure -------------------------------------------------------------------------


def raw_handshake(sock: socket.socket, path: str = "/flood") -> Reader:
    key = base64.b64encode(os.urandom(16))
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Version: 13\r\n".encode()
        + b"Sec-WebSocket-Key: "
        + key
        + b"\r\n\r\n"
    )
    reader = Reader(sock)
    head = reader.read_until(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 "), head
    accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(b":") for line in head.split(b"\r\n")[1:])
    }
    assert headers[b"sec-websocket-accept"] == accept, head
    return reader


def write_buffer_sizes(server: LiveServer) -> list[int]:
    def sizes() -> list[int]:
        assert server.server is not None
        return [
            connection.transport.get_write_buffer_size()
            for connection in server.server._connections
        ]

    result: list[int] = server.call(sizes)
    return result


def test_a_client_that_stops_reading_blocks_the_apps_sends(serve: ServerFactory) -> None:
    app = WSApp()
    server = serve(app)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # A small receive buffer, so the kernel's share of what was sent stays small too.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", server.port))
    with contextlib.closing(sock):
        reader = raw_handshake(sock)
        # The client reads nothing more. The app's sends must stall, not buffer.
        assert wait_for(lambda: app.flood_sent > 0)
        previous = -1
        for _ in range(100):  # until the count stops moving (at most ~5 s)
            time.sleep(0.05)
            if app.flood_sent == previous:
                break
            previous = app.flood_sent
        stalled_at = app.flood_sent
        time.sleep(0.3)
        assert app.flood_sent == stalled_at, "the app kept sending to a client not reading"
        assert not app.flood_done.is_set()
        # Bounded: kernel socket buffers plus the transport's high-water mark, not 256 MiB.
        assert stalled_at * 65536 < 32 * MIB, f"{stalled_at} messages of 64 KiB sent"
        buffered = write_buffer_sizes(server)
        assert buffered and max(buffered) < 2 * MIB, buffered
        # Reading again lets the app go on.
        received = len(reader.buffer)
        deadline = time.monotonic() + 10
        while app.flood_sent < stalled_at + 32 and time.monotonic() < deadline:
            received += len(sock.recv(1 << 20))
        assert app.flood_sent >= stalled_at + 32
        # What the app sent arrives (the kernel buffers hold some of it still).
        assert received > 32 * 65536
    assert app.flood_done.wait(5)  # the client left: the app's send raised and it ended


# --- Chromium -----------------------------------------------------------------------------


def spki_hash(cert_pem: str) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def run_chromium(url: str, files: TLSFiles) -> str:
    chromium = tool("chromium", "chromium")
    with tempfile.TemporaryDirectory() as profile:
        result = run_tool(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                f"--user-data-dir={profile}",
                # Trust exactly the test server's key, not every certificate.
                f"--ignore-certificate-errors-spki-list={spki_hash(files.server_cert_pem)}",
                "--dump-dom",
                url,
            ],
            timeout=60,
            env={**os.environ, "HOME": str(Path(profile))},
        )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("http2", [True, False], ids=["h2-allowed", "http11-only"])
def test_chromium_echoes_over_wss(tls_files: TLSFiles, http2: bool) -> None:
    app = WSApp()
    config = Config(bind=["127.0.0.1:0"], http2=http2, **tls_options(tls_files))
    with LiveServer(app, config) as server:
        dom = run_chromium(f"https://127.0.0.1:{server.port}/page", tls_files)
    report = app.wait_event("report", timeout=1)
    assert "data-result=" in dom, dom[-2000:]
    assert report["seen"] == ["text:hello from chromium ☃", "bytes:0,1,2,255"], report
    assert (report["code"], report["reason"]) == (4000, "server bye")
    assert report["protocol"] == "chat"
    assert report["extensions"].startswith("permessage-deflate"), report
    scope = app.wait_event("scope", timeout=1)
    assert scope["scheme"] == "wss"
    assert scope["subprotocols"] == ["chat", "other"]
    page_version = app.wait_event("page", timeout=1)
    if not http2:
        assert page_version == "1.1"
        assert scope["http_version"] == "1.1"
    else:
        # The page came over h2 and the server's SETTINGS allow extended CONNECT: Chromium
        # opens the WebSocket as an RFC 8441 stream on that same connection.
        assert page_version == "2"
        assert scope["http_version"] == "2"
    assert app.wait_event("disconnect", timeout=1)[0] == 4000
