"""HTTP/2 connection behaviour, sans IO: the h2 library as the client, apps stepped by hand.

Each test pairs a real h2 client state machine with the server's H2Connection on a StepIO,
so what is asserted is what a conforming client would decode from the server's bytes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.settings
import pytest
from h2.errors import ErrorCodes
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    HeadersFrame,
    PingFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

from hypercorn.config import Config
from hypercorn.protocol.context import ServerContext
from hypercorn.protocol.http2 import FLOOD_BURST, H2Connection
from hypercorn.protocol.http11 import H1Connection
from hypercorn.protocol.interface import ConnectionInfo

from .stepper import StepIO, StepWaiter

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

INFO = ConnectionInfo(("127.0.0.1", 5000), ("127.0.0.1", 8000))
REQUEST = [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"a"), (b":path", b"/")]


def request(path: bytes = b"/", method: bytes = b"GET", *extra: tuple[bytes, bytes]) -> Any:
    return [
        (b":method", method),
        (b":scheme", b"http"),
        (b":authority", b"example"),
        (b":path", path),
        *extra,
    ]


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"X-Up", b"1")]})
    await send({"type": "http.response.body", "body": b"hello"})


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


class Pair:
    """A server H2Connection and an h2 client connected through memory."""

    def __init__(
        self,
        app: App,
        client_settings: dict[h2.settings.SettingCodes, int] | None = None,
        **options: Any,
    ) -> None:
        self.io = StepIO()
        self.ctx = ServerContext(Config(**options), app, http_parser="httptools")
        self.server = H2Connection(self.io, self.ctx, INFO)
        self.io.protocol = self.server
        config = h2.config.H2Configuration(client_side=True, header_encoding=None)
        self.client = h2.connection.H2Connection(config=config)
        if client_settings:
            self.client.local_settings = h2.settings.Settings(
                client=True, initial_values=client_settings
            )
        self.client.initiate_connection()
        self.events: list[Any] = []
        self.exchange()

    def exchange(self) -> list[Any]:
        """Move bytes both ways and run apps until nothing moves; return the client's events."""
        events: list[Any] = []
        for _ in range(1000):
            out = self.client.data_to_send()
            if out:
                self.server.data_received(out)
            self.io.run()
            data = self.io.take()
            if data:
                events += self.client.receive_data(data)
            if not out and not data:
                break
        self.events += events
        return events

    def send_raw(self, data: bytes) -> list[Any]:
        self.server.data_received(data)
        self.io.run()
        data = self.io.take()
        events = self.client.receive_data(data) if data else []
        self.events += events
        return events

    def get(self, *headers: tuple[bytes, bytes], end: bool = True) -> int:
        stream_id: int = self.client.get_next_available_stream_id()
        self.client.send_headers(stream_id, list(headers) or REQUEST, end_stream=end)
        return stream_id

    def response(self, stream_id: int) -> tuple[list[tuple[bytes, bytes]], bytes]:
        headers: list[tuple[bytes, bytes]] = []
        body = b""
        for event in self.events:
            if getattr(event, "stream_id", None) != stream_id:
                continue
            if isinstance(event, h2.events.ResponseReceived):
                headers = list(event.headers)
            elif isinstance(event, h2.events.DataReceived):
                body += event.data
                self.client.acknowledge_received_data(event.flow_controlled_length, stream_id)
        return headers, body

    def of(self, kind: type) -> list[Any]:
        return [event for event in self.events if isinstance(event, kind)]


def test_get() -> None:
    scopes: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scopes.append(scope)
        await hello(scope, receive, send)

    pair = Pair(app)
    stream_id = pair.get(*request(b"/a%20b?x=1"))
    pair.exchange()
    headers, body = pair.response(stream_id)
    assert headers[0] == (b":status", b"200")
    assert (b"server", b"hypercorn") in headers
    assert (b"x-up", b"1") in headers  # names lower-cased for HTTP/2
    assert body == b"hello"
    assert pair.of(h2.events.StreamEnded)[0].stream_id == stream_id
    scope = scopes[0]
    assert scope["http_version"] == "2"
    assert scope["path"] == "/a b"
    assert scope["raw_path"] == b"/a%20b"
    assert scope["query_string"] == b"x=1"
    assert scope["headers"][0] == (b"host", b"example")
    assert set(scope["extensions"]) >= {
        "http.response.push",
        "http.response.early_hint",
        "http.response.trailers",
    }
    assert "tls" not in scope["extensions"]


def test_request_body_larger_than_every_window() -> None:
    pair = Pair(echo, h2_initial_window_size=16384, request_body_buffer=4096)
    stream_id = pair.get(*request(b"/", b"POST"), end=False)
    payload = bytes(range(256)) * 1024  # 256 KiB
    sent = 0
    for _ in range(1000):
        window = pair.client.local_flow_control_window(stream_id)
        size = min(window, pair.client.max_outbound_frame_size, len(payload) - sent)
        if size:
            pair.client.send_data(stream_id, payload[sent : sent + size])
            sent += size
        if sent == len(payload):
            pair.client.end_stream(stream_id)
            break
        pair.exchange()
    pair.exchange()
    for _ in range(100):  # acknowledge what arrives, so the server's window reopens
        _, body = pair.response(stream_id)
        if len(body) == len(payload):
            break
        pair.events.clear()
        pair.exchange()
    assert sent == len(payload)


def test_streams_are_served_concurrently() -> None:
    gate: list[StepWaiter] = []
    order: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        order.append("start " + scope["path"])
        if scope["path"] == "/slow":
            waiter = pair.io.create_waiter()
            gate.append(waiter)
            await waiter
        await hello(scope, receive, send)
        order.append("done " + scope["path"])

    pair = Pair(app)
    slow = pair.get(*request(b"/slow"))
    fast = pair.get(*request(b"/fast"))
    pair.exchange()
    assert order == ["start /slow", "start /fast", "done /fast"]
    assert pair.response(fast)[1] == b"hello"
    assert pair.response(slow)[1] == b""
    gate[0].wake()
    pair.exchange()
    assert pair.response(slow)[1] == b"hello"


def test_streams_over_the_limit_are_refused_not_the_connection() -> None:
    gate: list[StepWaiter] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        waiter = pair.io.create_waiter()
        gate.append(waiter)
        await waiter
        await hello(scope, receive, send)

    pair = Pair(app, h2_max_concurrent_streams=2)
    assert pair.client.remote_settings.max_concurrent_streams == 2
    # The client ignores the setting (h2 lets a client do that if told the limit is higher).
    pair.client.remote_settings = h2.settings.Settings(
        client=False, initial_values={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 10}
    )
    ids = [pair.get() for _ in range(3)]
    pair.exchange()
    resets = pair.of(h2.events.StreamReset)
    assert [(r.stream_id, r.error_code) for r in resets] == [(ids[2], ErrorCodes.REFUSED_STREAM)]
    assert len(gate) == 2
    assert not pair.of(h2.events.ConnectionTerminated)
    for waiter in gate:
        waiter.wake()
    pair.exchange()
    again = pair.get()
    pair.exchange()
    gate[2].wake()
    pair.exchange()
    assert pair.response(again)[1] == b"hello"


def test_a_client_reset_reaches_the_app_as_disconnect() -> None:
    received: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        received.append(message["type"])
        message = await receive()
        received.append(message["type"])

    pair = Pair(app)
    stream_id = pair.get(*request(b"/", b"POST"), end=False)
    pair.client.send_data(stream_id, b"part")
    pair.exchange()
    assert received == ["http.request"]
    pair.client.reset_stream(stream_id, ErrorCodes.CANCEL)
    pair.exchange()
    assert received == ["http.request", "http.disconnect"]


def test_a_zero_window_holds_the_app_and_not_the_memory() -> None:
    progress: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for index in range(4):
            await send({"type": "http.response.body", "body": b"x" * 65536, "more_body": True})
            progress.append(index)
        await send({"type": "http.response.body", "body": b""})
        progress.append(99)

    codes = h2.settings.SettingCodes
    pair = Pair(app, client_settings={codes.INITIAL_WINDOW_SIZE: 0})
    stream_id = pair.get()
    pair.exchange()
    headers, body = pair.response(stream_id)
    assert headers[0] == (b":status", b"200")
    assert body == b""
    # The first send is held on the stream; the app cannot queue a second one.
    assert progress == []
    pair.client.increment_flow_control_window(2**20, stream_id=stream_id)
    pair.client.increment_flow_control_window(2**20)
    pair.exchange()
    _, body = pair.response(stream_id)
    assert body == b"x" * 4 * 65536
    assert progress == [0, 1, 2, 3, 99]
    assert pair.of(h2.events.StreamEnded)[-1].stream_id == stream_id


def test_waiting_data_goes_out_by_priority() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["path"].encode() * 8000})

    codes = h2.settings.SettingCodes
    pair = Pair(app, client_settings={codes.INITIAL_WINDOW_SIZE: 0})
    low = pair.get(*request(b"/low"))
    high = pair.get(*request(b"/high"))
    # /high becomes /low's exclusive parent: all of it must go before any of /low.
    pair.client.prioritize(low, weight=16, depends_on=high, exclusive=True)
    pair.exchange()
    for stream_id in (low, high):
        pair.client.increment_flow_control_window(2**20, stream_id=stream_id)
    pair.client.increment_flow_control_window(2**20)
    pair.exchange()
    order = [e.stream_id for e in pair.of(h2.events.DataReceived)]
    assert set(order) == {low, high}
    assert max(i for i, sid in enumerate(order) if sid == high) < order.index(low)


def test_trailers() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [], "trailers": True})
        await send({"type": "http.response.body", "body": b"data"})
        await send({"type": "http.response.trailers", "headers": [(b"Checksum", b"abc")]})

    pair = Pair(app)
    stream_id = pair.get(*request(b"/", b"GET", (b"te", b"trailers")))
    pair.exchange()
    assert pair.response(stream_id)[1] == b"data"
    trailers = pair.of(h2.events.TrailersReceived)
    assert [list(t.headers) for t in trailers] == [[(b"checksum", b"abc")]]
    assert pair.of(h2.events.StreamEnded)[0].stream_id == stream_id


def test_early_hints_precede_the_response() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.early_hint", "links": [b"</s.css>; rel=preload"]})
        await hello(scope, receive, send)

    pair = Pair(app)
    stream_id = pair.get()
    pair.exchange()
    kinds = [type(e).__name__ for e in pair.events if getattr(e, "stream_id", 0) == stream_id]
    assert kinds[:2] == ["InformationalResponseReceived", "ResponseReceived"]
    hint = pair.of(h2.events.InformationalResponseReceived)[0]
    assert list(hint.headers) == [(b":status", b"103"), (b"link", b"</s.css>; rel=preload")]


def test_push_runs_the_pushed_request_through_the_app() -> None:
    paths: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        paths.append(scope["path"])
        if scope["path"] == "/":
            await send({"type": "http.response.push", "path": "/style.css", "headers": []})
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["path"].encode()})

    pair = Pair(app)
    parent = pair.get()
    pair.exchange()
    pushes = pair.of(h2.events.PushedStreamReceived)
    assert len(pushes) == 1
    promised = pushes[0].pushed_stream_id
    assert (b":path", b"/style.css") in list(pushes[0].headers)
    assert (b":authority", b"a") in list(pushes[0].headers)
    assert paths == ["/", "/style.css"]
    assert pair.response(promised)[1] == b"/style.css"
    assert pair.response(parent)[1] == b"/"


def test_no_push_when_the_client_disables_it() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.push", "path": "/style.css", "headers": []})
        await hello(scope, receive, send)

    pair = Pair(app, client_settings={h2.settings.SettingCodes.ENABLE_PUSH: 0})
    stream_id = pair.get()
    pair.exchange()
    assert pair.of(h2.events.PushedStreamReceived) == []
    assert pair.response(stream_id)[1] == b"hello"


def test_head_has_no_body() -> None:
    pair = Pair(hello)
    stream_id = pair.get(*request(b"/", b"HEAD"))
    pair.exchange()
    headers, body = pair.response(stream_id)
    assert headers[0] == (b":status", b"200")
    assert body == b""
    assert pair.of(h2.events.StreamEnded)[0].stream_id == stream_id


def test_app_errors() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/late":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"a", "more_body": True})
        raise RuntimeError("boom")

    pair = Pair(app)
    early = pair.get(*request(b"/early"))
    late = pair.get(*request(b"/late"))
    pair.exchange()
    assert pair.response(early)[0][0] == (b":status", b"500")
    resets = {e.stream_id: e.error_code for e in pair.of(h2.events.StreamReset)}
    assert resets == {late: ErrorCodes.INTERNAL_ERROR}
    assert not pair.of(h2.events.ConnectionTerminated)


def test_connection_specific_headers_from_the_app_are_dropped() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"Connection", b"close"), (b"Keep-Alive", b"5"), (b"X-Kept", b"y")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    pair = Pair(app)
    stream_id = pair.get()
    pair.exchange()
    names = [name for name, _ in pair.response(stream_id)[0]]
    assert b"connection" not in names
    assert b"keep-alive" not in names
    assert b"x-kept" in names


def test_expect_continue() -> None:
    pair = Pair(echo)
    stream_id = pair.get(*request(b"/", b"POST", (b"expect", b"100-continue")), end=False)
    pair.exchange()
    informational = pair.of(h2.events.InformationalResponseReceived)
    assert [list(e.headers) for e in informational] == [[(b":status", b"100")]]
    pair.client.send_data(stream_id, b"body", end_stream=True)
    pair.exchange()
    assert pair.response(stream_id)[1] == b"body"


def test_connect_is_not_implemented() -> None:
    pair = Pair(hello)
    stream_id = pair.get((b":method", b"CONNECT"), (b":authority", b"example:443"))
    pair.exchange()
    assert pair.response(stream_id)[0] == [(b":status", b"501")]


# --- abuse -------------------------------------------------------------------------------


def goaway_code(pair: Pair) -> int | None:
    terminated = pair.of(h2.events.ConnectionTerminated)
    return terminated[-1].error_code if terminated else None


def test_rapid_reset_is_answered_with_enhance_your_calm() -> None:
    running = 0
    most = 0
    # Held here so the suspended apps are not garbage-collected (which would end them).
    waiters: list[StepWaiter] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        waiter = pair.io.create_waiter()
        waiters.append(waiter)
        await waiter  # never woken: a slow backend
        running -= 1  # pragma: no cover

    pair = Pair(app, h2_max_concurrent_streams=10)
    for _ in range(2 * FLOOD_BURST):
        stream_id = pair.get()
        pair.client.reset_stream(stream_id, ErrorCodes.CANCEL)
        pair.exchange()
        if goaway_code(pair) is not None or pair.io.closed:
            break
    assert goaway_code(pair) == ErrorCodes.ENHANCE_YOUR_CALM
    assert pair.io.closed
    assert most <= 20  # reset streams still count until their apps return, up to 2x the limit


def test_rapid_reset_of_apps_that_stop_promptly() -> None:
    started = 0

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal started
        started += 1
        await receive()
        await receive()  # http.disconnect once the client resets

    pair = Pair(app, h2_max_concurrent_streams=10)
    for _ in range(1000):
        stream_id = pair.get(end=False)
        pair.client.reset_stream(stream_id, ErrorCodes.CANCEL)
        pair.exchange()
        if pair.io.closed:
            break
    assert goaway_code(pair) == ErrorCodes.ENHANCE_YOUR_CALM
    # Twice the stream limit, or 100, of resets beyond completed responses.
    assert started <= 101


def test_resets_with_completed_responses_between_them_are_fine() -> None:
    pair = Pair(hello, h2_max_concurrent_streams=10)
    for _ in range(300):
        pair.get()
        pair.exchange()
        cancelled = pair.get()
        pair.client.reset_stream(cancelled, ErrorCodes.CANCEL)
        pair.exchange()
    assert goaway_code(pair) is None
    assert not pair.io.closed


@pytest.mark.parametrize(
    "frame",
    [
        PingFrame(0, b"12345678"),
        SettingsFrame(0),
        WindowUpdateFrame(0, window_increment=1),
    ],
    ids=["PING", "SETTINGS", "WINDOW_UPDATE"],
)
def test_control_frame_floods_are_answered_with_enhance_your_calm(frame: Any) -> None:
    pair = Pair(hello)
    data = frame.serialize()
    for _ in range(FLOOD_BURST + 10):
        pair.send_raw(data)
        if pair.io.closed:
            break
    assert pair.io.closed
    assert goaway_code(pair) == ErrorCodes.ENHANCE_YOUR_CALM


def test_empty_data_flood() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await pair.io.create_waiter()

    pair = Pair(app)
    stream_id = pair.get(end=False)
    pair.exchange()
    empty = DataFrame(stream_id, b"").serialize()
    for _ in range(FLOOD_BURST + 10):
        pair.send_raw(empty)
        if pair.io.closed:
            break
    assert goaway_code(pair) == ErrorCodes.ENHANCE_YOUR_CALM


def test_continuation_flood_is_a_connection_error() -> None:
    pair = Pair(hello)
    start = HeadersFrame(1, pair.client.encoder.encode(REQUEST))
    pair.send_raw(start.serialize())
    junk = ContinuationFrame(1, b"\x00" * 16384).serialize()
    for _ in range(200):
        pair.send_raw(junk)
        if pair.io.closed:
            break
    assert pair.io.closed
    assert goaway_code(pair) is not None


def test_oversized_header_list_is_refused() -> None:
    pair = Pair(hello, h2_max_header_list_size=4096)
    # An HPACK bomb: one large header indexed once, then referenced many times.
    huge = (b"x-bomb", b"v" * 3000)
    stream_id = pair.get(*REQUEST, huge, huge, huge)
    pair.exchange()
    assert pair.response(stream_id)[1] == b""
    assert goaway_code(pair) == ErrorCodes.ENHANCE_YOUR_CALM
    assert pair.io.closed


# --- lifecycle ---------------------------------------------------------------------------


def test_graceful_shutdown_finishes_streams_in_flight() -> None:
    gate: list[StepWaiter] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        waiter = pair.io.create_waiter()
        gate.append(waiter)
        await waiter
        await hello(scope, receive, send)

    pair = Pair(app)
    stream_id = pair.get()
    pair.exchange()
    pair.server.shutdown()
    pair.exchange()
    goaway = pair.of(h2.events.ConnectionTerminated)
    assert [(g.error_code, g.last_stream_id) for g in goaway] == [(ErrorCodes.NO_ERROR, stream_id)]
    assert not pair.io.closed
    gate[0].wake()
    pair.io.run()
    # h2's client refuses every frame after a GOAWAY, though RFC 9113 §6.8 lets the server
    # finish the streams the GOAWAY covers; put it back into the open state to read them.
    pair.client.state_machine.state = h2.connection.ConnectionState.CLIENT_OPEN
    pair.events += pair.client.receive_data(pair.io.take())
    assert pair.response(stream_id)[1] == b"hello"
    assert pair.io.closed


def test_idle_connection_is_closed_with_goaway() -> None:
    pair = Pair(hello, keep_alive_timeout=5)
    pair.ctx.now = 1.0
    pair.server.on_deadline(1.0)
    assert not pair.io.closed
    pair.ctx.now = 6.0
    pair.server.on_deadline(6.0)
    pair.events += pair.client.receive_data(pair.io.take())
    assert goaway_code(pair) == ErrorCodes.NO_ERROR
    assert pair.io.closed


def test_a_silent_client_is_pinged_then_closed() -> None:
    disconnected: list[bool] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        message = await receive()
        disconnected.append(message["type"] == "http.disconnect")

    pair = Pair(app, h2_ping_interval=10, h2_ping_timeout=5)
    pair.get(*REQUEST, end=False)
    pair.exchange()
    pair.ctx.now = 11.0
    pair.server.on_deadline(11.0)
    pings = pair.client.receive_data(pair.io.take())
    assert [type(e) for e in pings] == [h2.events.PingReceived]
    pair.ctx.now = 16.5
    pair.server.on_deadline(16.5)
    pair.io.run()
    assert pair.io.closed
    assert disconnected == [True]


def test_an_answered_ping_keeps_the_connection() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await receive()

    pair = Pair(app, h2_ping_interval=10, h2_ping_timeout=5)
    pair.get(*REQUEST, end=False)
    pair.exchange()
    pair.ctx.now = 11.0
    pair.server.on_deadline(11.0)
    pair.events += pair.client.receive_data(pair.io.take())
    pair.exchange()  # the client's h2 answers the PING
    pair.ctx.now = 17.0
    pair.server.on_deadline(17.0)
    assert not pair.io.closed


def test_a_missing_preface_times_out() -> None:
    io = StepIO()
    ctx = ServerContext(Config(request_head_timeout=3), hello, http_parser="httptools")
    server = H2Connection(io, ctx, INFO)
    server.on_deadline(3.5)
    assert io.closed


def test_garbage_instead_of_a_preface_is_a_protocol_error() -> None:
    io = StepIO()
    ctx = ServerContext(Config(), hello, http_parser="httptools")
    server = H2Connection(io, ctx, INFO)
    io.take()
    server.data_received(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n")
    assert io.closed


# --- from HTTP/1.1 -----------------------------------------------------------------------


def h1(app: App, **options: Any) -> tuple[H1Connection, StepIO]:
    io = StepIO()
    ctx = ServerContext(Config(**options), app, http_parser="httptools")
    conn = H1Connection(io, ctx, INFO)
    io.protocol = conn
    return conn, io


def client_for_upgrade() -> tuple[h2.connection.H2Connection, bytes]:
    config = h2.config.H2Configuration(client_side=True, header_encoding=None)
    client = h2.connection.H2Connection(config=config)
    settings = client.initiate_upgrade_connection()
    assert settings is not None
    return client, settings


@pytest.mark.parametrize("body", [b"", b"posted body"])
def test_h2c_upgrade(body: bytes) -> None:
    conn, io = h1(echo)
    client, settings = client_for_upgrade()
    method = b"POST" if body else b"GET"
    conn.data_received(
        method + b" / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        b"Upgrade: h2c\r\nHTTP2-Settings: " + settings + b"\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body) + body
    )
    io.run()
    output = io.take()
    head, _, rest = output.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 Switching Protocols")
    assert isinstance(io.protocol, H2Connection)
    io.protocol.data_received(client.data_to_send())  # the client's preface
    io.run()
    events = client.receive_data(rest + io.take())
    data = b"".join(e.data for e in events if isinstance(e, h2.events.DataReceived))
    assert data == body
    responses = [e for e in events if isinstance(e, h2.events.ResponseReceived)]
    assert [r.stream_id for r in responses] == [1]


def test_upgrade_to_h2c_is_ignored_without_settings() -> None:
    conn, io = h1(hello)
    conn.data_received(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
    io.run()
    assert io.take().startswith(b"HTTP/1.1 200 OK")
    assert io.protocol is conn


def test_upgrade_to_h2c_is_ignored_when_http2_is_off() -> None:
    conn, io = h1(hello, http2=False)
    _, settings = client_for_upgrade()
    conn.data_received(
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        b"Upgrade: h2c\r\nHTTP2-Settings: " + settings + b"\r\n\r\n"
    )
    io.run()
    assert io.take().startswith(b"HTTP/1.1 200 OK")


@pytest.mark.parametrize("split", [1, 3, 24])
def test_prior_knowledge_is_recognised_however_the_preface_is_split(split: int) -> None:
    _, io = h1(hello)
    config = h2.config.H2Configuration(client_side=True, header_encoding=None)
    client = h2.connection.H2Connection(config=config)
    client.initiate_connection()
    client.send_headers(1, REQUEST, end_stream=True)
    data = client.data_to_send()
    for start in range(0, len(data), split):
        io.protocol.data_received(data[start : start + split])  # type: ignore[union-attr]
    io.run()
    assert isinstance(io.protocol, H2Connection)
    events = client.receive_data(io.take())
    body = b"".join(e.data for e in events if isinstance(e, h2.events.DataReceived))
    assert body == b"hello"


def test_http2_off_leaves_the_preface_to_http11() -> None:
    conn, io = h1(hello, http2=False)
    conn.data_received(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    io.run()
    assert io.take().startswith(b"HTTP/1.1 400")
    assert io.protocol is conn


def test_answering_before_the_body_ends_releases_a_waiting_receive() -> None:
    received: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await hello(scope, receive, send)
        received.append((await receive())["type"])  # the body was never sent

    pair = Pair(app)
    stream_id = pair.get(*request(b"/", b"POST"), end=False)
    pair.exchange()
    assert pair.response(stream_id)[1] == b"hello"
    # RFC 9113 §8.1: the server tells the client to stop sending (RST_STREAM NO_ERROR)...
    resets = [(e.stream_id, e.error_code) for e in pair.of(h2.events.StreamReset)]
    assert resets == [(stream_id, ErrorCodes.NO_ERROR)]
    # ...and the app is not left waiting for a body that will never come.
    assert received == ["http.disconnect"]
