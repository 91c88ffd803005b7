"""WebSocket behaviour as bytes in, bytes out: handshakes, ASGI messages, frames, deadlines.

Over HTTP/1.1 an :class:`H1Connection` on a :class:`StepIO` is sent a handshake request built
by hand; after the ``101`` a ``wsproto`` client connection frames what the test sends and
decodes what the server wrote, so each assertion is about what a conforming client would
see. Frames a conforming client would never send (invalid UTF-8, compression bombs) are
built by hand. Over HTTP/2 the ``h2`` client state machine opens the WebSocket with an
extended CONNECT (RFC 8441) and the same ``wsproto`` client runs inside the stream.
"""

from __future__ import annotations

import base64
import hashlib
import tracemalloc
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.settings
import pytest
from hyperframe.frame import DataFrame, Frame, GoAwayFrame
from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import (
    BytesMessage,
    CloseConnection,
    Event,
    Message,
    Ping,
    Pong,
    TextMessage,
)
from wsproto.extensions import Extension, PerMessageDeflate

from hypercorn.config import Config
from hypercorn.protocol.context import ServerContext
from hypercorn.protocol.http2 import H2Connection
from hypercorn.protocol.interface import ConnectionInfo, ServerProtocol

from .stepper import StepIO, StepWaiter, connection

Scope = MutableMapping[str, Any]
ASGIMessage = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[ASGIMessage]]
Send = Callable[[ASGIMessage], Awaitable[None]]

# RFC 6455 §1.3's worked example: this key must be answered with this accept value.
KEY = b"dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

INFO = ConnectionInfo(("127.0.0.1", 5000), ("127.0.0.1", 8000))


@pytest.fixture(params=["httptools", "h11"])
def parser(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


# --- building requests and frames ---------------------------------------------------------


def handshake_request(
    *extra: bytes,
    method: bytes = b"GET",
    key: bytes | None = KEY,
    version: bytes | None = b"13",
    target: bytes = b"/ws?x=1",
) -> bytes:
    lines = [
        method + b" " + target + b" HTTP/1.1",
        b"Host: example.com",
        b"Upgrade: websocket",
        b"Connection: Upgrade",
    ]
    if key is not None:
        lines.append(b"Sec-WebSocket-Key: " + key)
    if version is not None:
        lines.append(b"Sec-WebSocket-Version: " + version)
    lines += extra
    return b"\r\n".join(lines) + b"\r\n\r\n"


def frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv1: bool = False,
    mask: bytes = b"\x37\xfa\x21\x3d",
) -> bytes:
    """One masked client frame (RFC 6455 §5.2), whatever its contents."""
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    length = len(payload)
    if length < 126:
        head = bytes([first, 0x80 | length])
    elif length < 1 << 16:
        head = bytes([first, 0x80 | 126]) + length.to_bytes(2, "big")
    else:
        head = bytes([first, 0x80 | 127]) + length.to_bytes(8, "big")
    key = (mask * (length // 4 + 1))[:length]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(length, "big")
    return head + mask + masked


def deflate(data: bytes) -> bytes:
    """A permessage-deflate payload (RFC 7692 §7.2.1): raw DEFLATE without the sync tail."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert body.endswith(b"\x00\x00\xff\xff")
    return body[:-4]


def parse_head(data: bytes) -> tuple[int, dict[bytes, bytes], bytes]:
    """Status, headers (lower-cased names) and what follows the head of an HTTP response."""
    head, separator, rest = data.partition(b"\r\n\r\n")
    assert separator, data
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ")[1])
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, rest


# --- the client side ----------------------------------------------------------------------


class WSClient:
    """A server H1Connection and a wsproto client joined through memory."""

    def __init__(
        self,
        app: Any,
        parser: str = "httptools",
        extensions: list[Extension] | None = None,
        **options: Any,
    ) -> None:
        self.conn, self.io = connection(app, parser, **options)
        self.ctx = self.conn.ctx
        self.extensions = extensions or []
        self.ws = Connection(ConnectionType.CLIENT, self.extensions)
        self.status = 0
        self.headers: dict[bytes, bytes] = {}
        self.body = b""

    @property
    def protocol(self) -> ServerProtocol:
        protocol = self.io.protocol
        assert protocol is not None
        return protocol

    def feed(self, data: bytes) -> None:
        self.protocol.data_received(data)
        self.io.run()

    def handshake(self, request: bytes | None = None) -> int:
        """Send a handshake request; read the response head (and a denial's body)."""
        self.feed(request if request is not None else handshake_request())
        output = self.io.take()
        self.status, self.headers, rest = parse_head(output)
        if self.status == 101:
            offered = self.headers.get(b"sec-websocket-extensions")
            for extension in self.extensions:
                if offered is not None and offered.decode().startswith(extension.name):
                    extension.finalize(offered.decode())
            if self.extensions:
                # wsproto keeps only the extensions enabled when the connection is made.
                self.ws = Connection(ConnectionType.CLIENT, self.extensions)
            self.ws.receive_data(rest)
        else:
            self.body = rest
        return self.status

    def send(self, *events: Event) -> None:
        for event in events:
            self.feed(self.ws.send(event))

    def events(self) -> list[Event]:
        """What the server has written since last asked, decoded by the client."""
        data = self.io.take()
        if data:
            self.ws.receive_data(data)
        return list(self.ws.events())

    def close_codes(self) -> list[int]:
        return [event.code for event in self.events() if isinstance(event, CloseConnection)]

    def answer_close(self, events: list[Event]) -> None:
        """Complete a closing handshake the server started."""
        for event in events:
            if isinstance(event, CloseConnection):
                self.feed(self.ws.send(event.response()))
                return
        raise AssertionError(f"no Close among {events!r}")


def upgraded(app: Any, parser: str = "httptools", **options: Any) -> WSClient:
    client = WSClient(app, parser, **options)
    assert client.handshake() == 101, client.body
    return client


# --- apps ---------------------------------------------------------------------------------


class Echo:
    """Accepts (with ``accept``'s extra keys), echoes every message, records what it saw."""

    def __init__(self, **accept: Any) -> None:
        self.accept = accept
        self.scope: Scope = {}
        self.received: list[ASGIMessage] = []
        self.send_error: BaseException | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = scope
        self.received.append(dict(await receive()))
        await send({"type": "websocket.accept", **self.accept})
        while True:
            message = dict(await receive())
            self.received.append(message)
            if message["type"] == "websocket.disconnect":
                return
            reply = {"type": "websocket.send"}
            for key in ("text", "bytes"):
                if message.get(key) is not None:
                    reply[key] = message[key]
            await send(reply)

    @property
    def types(self) -> list[str]:
        return [message["type"] for message in self.received]

    @property
    def disconnect(self) -> ASGIMessage:
        assert self.received and self.received[-1]["type"] == "websocket.disconnect"
        return self.received[-1]


async def accept_then_wait(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()
    await send({"type": "websocket.accept"})
    while (await receive())["type"] != "websocket.disconnect":
        pass


def scripted(*messages: ASGIMessage, raise_after: bool = False) -> Any:
    """An app that reads websocket.connect, sends ``messages``, then returns (or raises)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert (await receive())["type"] == "websocket.connect"
        for message in messages:
            await send(message)
        if raise_after:
            raise RuntimeError("the app failed")

    return app


# --- the handshake ------------------------------------------------------------------------


def test_handshake_accepts_with_the_rfc_accept_value_and_connect_comes_first(
    parser: str,
) -> None:
    app = Echo()
    client = WSClient(app, parser)
    assert client.handshake() == 101
    assert client.headers[b"sec-websocket-accept"] == ACCEPT
    assert client.headers[b"upgrade"].lower() == b"websocket"
    assert client.headers[b"connection"].lower() == b"upgrade"
    assert b"sec-websocket-protocol" not in client.headers
    assert b"content-length" not in client.headers and b"transfer-encoding" not in client.headers
    assert app.received == [{"type": "websocket.connect"}]
    assert client.ws.state == ConnectionState.OPEN
    scope = app.scope
    assert scope["type"] == "websocket"
    assert scope["scheme"] == "ws"
    assert scope["path"] == "/ws" and scope["query_string"] == b"x=1"
    assert scope["http_version"] == "1.1"
    assert scope["subprotocols"] == []
    assert "method" not in scope
    assert "websocket.http.response" in scope["extensions"]
    assert (b"sec-websocket-key", KEY) in scope["headers"]


def test_sec_websocket_accept_is_derived_from_the_key() -> None:
    key = base64.b64encode(bytes(range(16)))
    expected = base64.b64encode(
        hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
    )
    client = WSClient(Echo())
    assert client.handshake(handshake_request(key=key)) == 101
    assert client.headers[b"sec-websocket-accept"] == expected


def test_accept_with_an_offered_subprotocol_and_extra_headers(parser: str) -> None:
    app = Echo(subprotocol="chat.v2", headers=[(b"X-Extra", b"yes"), (b"set-cookie", b"a=b")])
    client = WSClient(app, parser)
    request = handshake_request(b"Sec-WebSocket-Protocol: chat.v1, chat.v2", b"X-Client: 1")
    assert client.handshake(request) == 101
    assert app.scope["subprotocols"] == ["chat.v1", "chat.v2"]
    assert client.headers[b"sec-websocket-protocol"] == b"chat.v2"
    assert client.headers[b"x-extra"] == b"yes"
    assert client.headers[b"set-cookie"] == b"a=b"


def test_subprotocols_from_repeated_headers_keep_their_order() -> None:
    app = Echo(subprotocol="b")
    client = WSClient(app)
    request = handshake_request(b"Sec-WebSocket-Protocol: a", b"Sec-WebSocket-Protocol: b, c")
    assert client.handshake(request) == 101
    assert app.scope["subprotocols"] == ["a", "b", "c"]
    assert client.headers[b"sec-websocket-protocol"] == b"b"


def test_accepting_a_subprotocol_the_client_did_not_offer_is_refused(
    error_log: pytest.LogCaptureFixture,
) -> None:
    errors: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        try:
            await send({"type": "websocket.accept", "subprotocol": "other"})
        except Exception as exc:
            errors.append(exc)

    client = WSClient(app)
    assert client.handshake(handshake_request(b"Sec-WebSocket-Protocol: chat")) == 500
    assert errors and "not offered" in str(errors[0])
    assert client.io.closed
    assert "not offered" in error_log.text


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (handshake_request(key=None), 400),
        (handshake_request(key=b"not base64!"), 400),
        (handshake_request(key=base64.b64encode(b"short")), 400),
        (handshake_request(method=b"POST"), 400),
        (handshake_request(version=b"8"), 426),
        (handshake_request(version=None), 426),
    ],
    ids=["missing-key", "invalid-key", "short-key", "post", "version-8", "no-version"],
)
def test_invalid_handshakes_are_refused_without_calling_the_app(
    parser: str, request_bytes: bytes, status: int
) -> None:
    app = Echo()
    client = WSClient(app, parser)
    assert client.handshake(request_bytes) == status
    assert app.received == []  # the app never ran
    assert client.headers[b"connection"] == b"close"
    if status == 426:
        # RFC 6455 §4.2.2: a server that does not speak the version names the one it does.
        assert client.headers[b"sec-websocket-version"] == b"13"
    client.io.run()
    assert client.io.closed or client.io.write_closed


def test_firefox_style_handshake_headers(parser: str) -> None:
    """Connection: keep-alive, Upgrade and Upgrade: WebSocket (tokens are case-insensitive)."""
    request = (
        b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n"
        b"Upgrade: WebSocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "
        + KEY
        + b"\r\n\r\n"
    )
    client = WSClient(Echo(), parser)
    assert client.handshake(request) == 101
    assert client.headers[b"sec-websocket-accept"] == ACCEPT


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /ws HTTP/1.0\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + KEY + b"\r\n\r\n",
        handshake_request(b"Content-Length: 3") + b"abc",
    ],
    ids=["http-1.0", "with-a-body"],
)
def test_handshakes_that_are_not_plain_get_over_http11_are_400(
    parser: str, request_bytes: bytes
) -> None:
    app = Echo()
    client = WSClient(app, parser)
    assert client.handshake(request_bytes) == 400
    assert app.received == []


def test_upgrade_without_connection_upgrade_is_plain_http(parser: str) -> None:
    scopes: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scopes.append(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"plain"})

    client = WSClient(app, parser)
    request = (
        b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
        b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + KEY + b"\r\n\r\n"
    )
    assert client.handshake(request) == 200
    assert scopes[0]["type"] == "http"
    assert client.body == b"plain"


def test_close_before_accept_is_a_403(parser: str) -> None:
    client = WSClient(scripted({"type": "websocket.close", "code": 1000}), parser)
    assert client.handshake() == 403
    assert client.io.closed
    assert client.headers[b"connection"] == b"close"
    assert b"sec-websocket-accept" not in client.headers


def test_app_raising_before_accept_is_a_500(error_log: pytest.LogCaptureFixture) -> None:
    client = WSClient(scripted(raise_after=True))
    assert client.handshake() == 500
    assert client.io.closed
    assert "the app failed" in error_log.text


def test_app_returning_without_accepting_is_a_500(error_log: pytest.LogCaptureFixture) -> None:
    client = WSClient(scripted())
    assert client.handshake() == 500
    assert "without accepting" in error_log.text


def test_denial_response_with_a_streamed_body(parser: str) -> None:
    scopes: list[Scope] = []

    async def deny(scope: Scope, receive: Receive, send: Send) -> None:
        scopes.append(scope)
        assert (await receive())["type"] == "websocket.connect"
        await send(
            {
                "type": "websocket.http.response.start",
                "status": 403,
                "headers": [(b"content-type", b"text/plain"), (b"x-why", b"no-token")],
            }
        )
        await send({"type": "websocket.http.response.body", "body": b"go ", "more_body": True})
        await send({"type": "websocket.http.response.body", "body": b"away"})

    client = WSClient(deny, parser)
    assert client.handshake() == 403
    assert "websocket.http.response" in scopes[0]["extensions"]
    assert client.headers[b"x-why"] == b"no-token"
    assert client.headers[b"content-type"] == b"text/plain"
    assert b"sec-websocket-accept" not in client.headers
    assert client.body == b"go away"  # delimited by the close that follows
    assert client.io.closed


def test_frames_sent_with_the_handshake_wait_for_the_accept() -> None:
    gate: list[StepWaiter] = []
    app = Echo()

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        waiter = gate[0]
        await waiter  # the app takes its time to decide
        await app(scope, receive, send)

    client = WSClient(slow)
    gate.append(client.io.create_waiter())
    early = client.ws.send(TextMessage(data="early"))
    client.feed(handshake_request() + early)
    assert client.io.take() == b""  # nothing answered, nothing echoed before the app decides
    gate[0].wake()
    client.io.run()
    status, _, rest = parse_head(client.io.take())
    assert status == 101
    client.ws.receive_data(rest)
    assert [event.data for event in client.ws.events() if isinstance(event, Message)] == ["early"]


# --- messages -----------------------------------------------------------------------------


def test_text_and_bytes_echo(parser: str) -> None:
    app = Echo()
    client = upgraded(app, parser)
    client.send(TextMessage(data="héllo ☃"), BytesMessage(data=b"\x00\xffbin"))
    events = client.events()
    assert [(type(event), event.data) for event in events] == [  # type: ignore[attr-defined]
        (TextMessage, "héllo ☃"),
        (BytesMessage, b"\x00\xffbin"),
    ]
    assert app.received[1:] == [
        {"type": "websocket.receive", "text": "héllo ☃"},
        {"type": "websocket.receive", "bytes": b"\x00\xffbin"},
    ]


def test_fragmented_message_arrives_whole() -> None:
    app = Echo()
    client = upgraded(app)
    client.feed(frame(0x1, b"frag", fin=False) + frame(0x9, b"in-between"))
    client.feed(frame(0x0, b"men", fin=False))
    client.feed(frame(0x0, b"ted"))
    events = client.events()
    assert [(type(e), e.payload) for e in events if isinstance(e, Pong)] == [(Pong, b"in-between")]
    assert [e.data for e in events if isinstance(e, TextMessage)] == ["fragmented"]
    assert app.received[1:] == [{"type": "websocket.receive", "text": "fragmented"}]


def test_ping_is_answered_with_its_payload() -> None:
    client = upgraded(Echo())
    client.send(Ping(payload=b"are you there"))
    assert [(type(e), e.payload) for e in client.events()] == [  # type: ignore[attr-defined]
        (Pong, b"are you there")
    ]


def test_client_close_reaches_the_app_with_code_and_reason(parser: str) -> None:
    app = Echo()
    client = upgraded(app, parser)
    client.send(CloseConnection(code=4001, reason="bye now"))
    assert app.disconnect == {"type": "websocket.disconnect", "code": 4001, "reason": "bye now"}
    # RFC 6455 §5.5.1: the server answers with a Close echoing the code, then closes TCP.
    assert client.close_codes() == [4001]
    assert client.io.closed


def test_app_close_with_code_and_reason(parser: str) -> None:
    seen: list[ASGIMessage] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 4002, "reason": "done here"})
        seen.append(dict(await receive()))

    client = upgraded(app, parser)
    events = client.events()
    assert [(e.code, e.reason) for e in events if isinstance(e, CloseConnection)] == [
        (4002, "done here")
    ]
    assert not client.io.closed  # waiting for the client's Close
    client.send(CloseConnection(code=4002, reason="ack"))
    assert client.io.closed
    # The disconnect reports the client's Close (RFC 6455 §7.1.5: the code received).
    assert seen == [{"type": "websocket.disconnect", "code": 4002, "reason": "ack"}]


def test_app_raising_after_accept_closes_with_1011(error_log: pytest.LogCaptureFixture) -> None:
    client = upgraded(scripted({"type": "websocket.accept"}, raise_after=True))
    events = client.events()
    assert [e.code for e in events if isinstance(e, CloseConnection)] == [1011]
    assert "the app failed" in error_log.text
    client.answer_close(events)
    assert client.io.closed


def test_app_returning_after_accept_closes_with_1000() -> None:
    client = upgraded(
        scripted({"type": "websocket.accept"}, {"type": "websocket.send", "text": "last"})
    )
    events = client.events()
    assert [type(e) for e in events] == [TextMessage, CloseConnection]
    assert events[1].code == 1000  # type: ignore[attr-defined]


def test_send_after_the_client_left_raises_an_oserror() -> None:
    errors: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        message = await receive()
        assert message["type"] == "websocket.disconnect"
        try:
            await send({"type": "websocket.send", "text": "too late"})
        except Exception as exc:
            errors.append(exc)

    client = upgraded(app)
    client.protocol.connection_lost()
    client.io.run()
    assert len(errors) == 1 and isinstance(errors[0], OSError)


def test_connection_lost_is_a_1006_disconnect() -> None:
    app = Echo()
    client = upgraded(app)
    client.protocol.connection_lost()
    client.io.run()
    assert app.disconnect == {"type": "websocket.disconnect", "code": 1006, "reason": ""}


@pytest.mark.parametrize(
    "message",
    [
        {"type": "websocket.send"},
        {"type": "websocket.send", "text": "a", "bytes": b"b"},
        {"type": "websocket.send", "text": b"bytes as text"},
        {"type": "websocket.close", "code": 1005},
        {"type": "websocket.accept"},
        {"type": "http.response.start", "status": 200},
    ],
    ids=["empty", "both", "wrong-type", "reserved-code", "second-accept", "http-message"],
)
def test_invalid_message_after_accept_raises_and_closes_with_1011(message: ASGIMessage) -> None:
    errors: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        try:
            await send(message)
        except Exception as exc:
            errors.append(exc)
        await receive()

    client = upgraded(app)
    assert len(errors) == 1 and not isinstance(errors[0], OSError)
    assert client.close_codes() == [1011]


# --- limits and invalid input -------------------------------------------------------------


def test_message_over_the_limit_closes_with_1009(parser: str) -> None:
    app = Echo()
    client = upgraded(app, parser, websocket_max_message_size=1000)
    client.send(BytesMessage(data=b"x" * 1000))  # at the limit: fine
    client.send(BytesMessage(data=b"x" * 1001))
    events = client.events()
    assert [type(e) for e in events] == [BytesMessage, CloseConnection]
    assert events[1].code == 1009  # type: ignore[attr-defined]
    assert client.io.closed
    assert app.disconnect["code"] == 1009
    assert [len(m.get("bytes", b"")) for m in app.received[1:-1]] == [1000]


def test_fragments_adding_up_past_the_limit_close_with_1009() -> None:
    app = Echo()
    client = upgraded(app, websocket_max_message_size=1000)
    client.feed(frame(0x2, b"y" * 400, fin=False))
    client.feed(frame(0x0, b"y" * 400, fin=False))
    client.feed(frame(0x0, b"y" * 400, fin=False))
    assert client.close_codes() == [1009]
    assert client.io.closed
    assert app.types == ["websocket.connect", "websocket.disconnect"]


def test_text_limit_counts_utf8_bytes() -> None:
    client = upgraded(Echo(), websocket_max_message_size=10)
    client.send(TextMessage(data="ééééé"))  # 10 bytes
    client.send(TextMessage(data="éééééé"))  # 12 bytes, 6 characters
    assert [type(e) for e in client.events()] == [TextMessage, CloseConnection]


def deflate_client(app: Any, **options: Any) -> WSClient:
    client = WSClient(app, extensions=[PerMessageDeflate()], **options)
    offer = b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"
    assert client.handshake(handshake_request(offer)) == 101
    assert client.headers[b"sec-websocket-extensions"].startswith(b"permessage-deflate")
    return client


def test_permessage_deflate_is_negotiated_and_used() -> None:
    app = Echo()
    client = deflate_client(app)
    text = "compress me " * 1000
    wire = client.ws.send(TextMessage(data=text))
    assert len(wire) < len(text) // 10
    client.feed(wire)
    raw = bytes(client.io.output)
    assert raw[0] & 0x40, "the server's reply is not compressed (RSV1 clear)"
    assert len(raw) < len(text) // 10
    assert [e.data for e in client.events() if isinstance(e, TextMessage)] == [text]
    assert app.received[1] == {"type": "websocket.receive", "text": text}


def test_permessage_deflate_is_declined_when_compression_is_off() -> None:
    client = WSClient(Echo(), websocket_compression=False)
    offer = b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"
    assert client.handshake(handshake_request(offer)) == 101
    assert b"sec-websocket-extensions" not in client.headers
    # A compressed frame is now a protocol error (RSV1 without an extension): 1002.
    client.feed(frame(0x1, deflate(b"hello"), rsv1=True))
    assert client.close_codes() == [1002]


def test_compressed_message_inflating_past_the_limit_closes_with_1009() -> None:
    """A permessage-deflate bomb: 32 MiB of zeros in ~32 KiB of frame, limit 64 KiB."""
    limit = 65536
    app = Echo()
    client = deflate_client(app, websocket_max_message_size=limit)
    bomb = frame(0x2, deflate(bytes(32 * 1024 * 1024)), rsv1=True)
    assert len(bomb) < 64 * 1024
    tracemalloc.start()
    try:
        client.feed(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert client.close_codes() == [1009]
    assert client.io.closed
    assert app.types == ["websocket.connect", "websocket.disconnect"]
    # The server inflated about the limit's worth, not the 32 MiB the frame expands to.
    assert peak < 4 * 1024 * 1024, f"peak {peak} bytes while refusing the bomb"


def test_compressed_message_just_under_the_limit_is_delivered() -> None:
    limit = 65536
    app = Echo()
    client = deflate_client(app, websocket_max_message_size=limit)
    client.feed(frame(0x2, deflate(bytes(limit)), rsv1=True))
    assert app.received[1] == {"type": "websocket.receive", "bytes": bytes(limit)}


def test_invalid_utf8_closes_with_1007(parser: str) -> None:
    app = Echo()
    client = upgraded(app, parser)
    client.feed(frame(0x1, b"ok \xff\xfe"))
    assert client.close_codes() == [1007]
    assert client.io.closed
    assert app.disconnect["code"] == 1007
    assert app.types == ["websocket.connect", "websocket.disconnect"]


def test_invalid_utf8_split_across_fragments_closes_with_1007() -> None:
    client = upgraded(Echo())
    client.feed(frame(0x1, b"caf\xc3", fin=False))  # a valid prefix so far
    client.feed(frame(0x0, b"\x28"))  # ...that the next byte does not continue
    assert client.close_codes() == [1007]


def test_invalid_utf8_in_a_compressed_message_closes_with_1007() -> None:
    client = deflate_client(Echo())
    client.feed(frame(0x1, deflate(b"bad \xc0\xaf"), rsv1=True))
    assert client.close_codes() == [1007]


def test_unmasked_frame_is_a_protocol_error() -> None:
    client = upgraded(Echo())
    client.feed(b"\x81\x02hi")
    assert client.close_codes() == [1002]
    assert client.io.closed


# --- time ---------------------------------------------------------------------------------


def test_silence_gets_a_ping_and_no_answer_closes(parser: str) -> None:
    app = Echo()
    client = WSClient(app, parser, websocket_ping_interval=20.0, websocket_ping_timeout=5.0)
    client.ctx.now = 100.0
    assert client.handshake() == 101
    protocol = client.protocol
    assert protocol.deadline == 120.0
    protocol.on_deadline(119.0)  # early wake-up: nothing happens
    assert client.events() == []
    client.ctx.now = 120.0
    protocol.on_deadline(120.0)
    assert [type(e) for e in client.events()] == [Ping]
    assert protocol.deadline == 125.0
    client.ctx.now = 125.0
    protocol.on_deadline(125.0)
    client.io.run()
    assert client.io.closed
    assert app.disconnect["code"] == 1006


def test_answered_ping_keeps_the_connection() -> None:
    client = WSClient(Echo(), websocket_ping_interval=20.0, websocket_ping_timeout=5.0)
    assert client.handshake() == 101
    protocol = client.protocol
    client.ctx.now = 20.0
    protocol.on_deadline(20.0)
    ping = client.events()
    assert [type(e) for e in ping] == [Ping]
    client.ctx.now = 21.0
    client.send(ping[0].response())  # type: ignore[attr-defined]
    for second in range(22, 40):
        client.ctx.now = float(second)
        if protocol.deadline <= second:
            protocol.on_deadline(float(second))
    assert not client.io.closed
    assert client.events() == []  # the Pong at 21 counts as traffic: the next Ping is at 41
    client.ctx.now = 41.0
    protocol.on_deadline(41.0)
    assert [type(e) for e in client.events()] == [Ping]


def test_client_traffic_postpones_the_ping() -> None:
    client = WSClient(Echo(), websocket_ping_interval=20.0, websocket_ping_timeout=5.0)
    assert client.handshake() == 101
    client.ctx.now = 15.0
    client.send(TextMessage(data="hi"))
    client.events()
    client.protocol.on_deadline(20.0)
    assert client.events() == []
    assert client.protocol.deadline == 35.0


def test_ping_interval_zero_sends_no_pings() -> None:
    client = WSClient(Echo(), websocket_ping_interval=0)
    assert client.handshake() == 101
    assert client.protocol.deadline == float("inf")


def test_unanswered_close_times_out() -> None:
    seen: list[ASGIMessage] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 1000})
        seen.append(dict(await receive()))

    client = WSClient(app, websocket_ping_interval=0, websocket_ping_timeout=7.0)
    client.ctx.now = 50.0
    assert client.handshake() == 101
    assert client.close_codes() == [1000]
    protocol = client.protocol
    assert protocol.deadline == 57.0
    protocol.on_deadline(56.0)
    assert not client.io.closed
    client.ctx.now = 57.0
    protocol.on_deadline(57.0)
    client.io.run()
    assert client.io.closed
    assert seen and seen[0]["type"] == "websocket.disconnect"


def test_no_ping_timeout_while_the_server_is_not_reading() -> None:
    gate: list[StepWaiter] = []

    async def busy(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await gate[0]  # busy elsewhere, not reading
        while (await receive())["type"] != "websocket.disconnect":
            pass

    client = WSClient(
        busy, request_body_buffer=1000, websocket_ping_interval=20, websocket_ping_timeout=5
    )
    gate.append(client.io.create_waiter())
    assert client.handshake() == 101
    client.ctx.now = 1.0
    client.send(BytesMessage(data=b"x" * 1200))
    assert not client.io.reading
    pings = 0
    for second in range(2, 60):
        client.ctx.now = float(second)
        if client.protocol.deadline <= second:
            client.protocol.on_deadline(float(second))
        client.io.run()
        pings += sum(isinstance(e, Ping) for e in client.events())
    # Not reading, the server cannot hear a Pong, so it neither pings nor times out.
    assert pings == 0
    assert not client.io.closed, "the server dropped a client it was not reading from"
    gate[0].wake()
    client.io.run()
    assert client.io.reading
    # Reading again, the ping clock restarts: silence brings a Ping after the interval.
    for second in range(60, 85):
        client.ctx.now = float(second)
        if client.protocol.deadline <= second:
            client.protocol.on_deadline(float(second))
        client.io.run()
        pings += sum(isinstance(e, Ping) for e in client.events())
    assert pings == 1


# --- flow control -------------------------------------------------------------------------


def test_unread_messages_past_the_buffer_pause_reading_until_the_app_reads() -> None:
    gate: list[StepWaiter] = []
    received: list[ASGIMessage] = []

    async def slow_reader(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await gate[0]
        while True:
            message = await receive()
            received.append(dict(message))
            if message["type"] == "websocket.disconnect":
                return

    client = WSClient(slow_reader, request_body_buffer=1000)
    gate.append(client.io.create_waiter())
    assert client.handshake() == 101
    assert client.io.reading
    client.send(BytesMessage(data=b"a" * 600))
    assert client.io.reading  # 600 bytes unread: under the buffer
    client.send(BytesMessage(data=b"b" * 600))
    assert not client.io.reading  # 1200 unread: the server stops reading the socket
    gate[0].wake()
    client.io.run()
    assert client.io.reading
    assert [len(m["bytes"]) for m in received] == [600, 600]


def test_blocked_writes_pause_the_apps_sends() -> None:
    gate: list[StepWaiter] = []
    progress: list[int] = []

    async def flood(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await gate[0]
        for count in range(1, 1001):
            await send({"type": "websocket.send", "bytes": b"z" * 1000})
            progress.append(count)

    client = WSClient(flood)
    gate.append(client.io.create_waiter())
    assert client.handshake() == 101
    # The transport's buffer is full (the client is not reading): the app must wait.
    client.protocol.pause_writing()
    assert not client.io.reading  # nor are the client's Pings read (their Pongs would queue)
    gate[0].wake()
    client.io.run()
    assert len(progress) <= 1
    assert len(client.io.output) <= 2 * 1010
    client.io.run()
    assert len(progress) <= 1
    client.protocol.resume_writing()
    client.io.run()
    assert client.io.reading
    assert progress[-1] == 1000
    assert len([e for e in client.events() if isinstance(e, BytesMessage)]) == 1000


def test_write_backpressure_ending_does_not_undo_the_read_pause() -> None:
    received: list[ASGIMessage] = []
    gate: list[StepWaiter] = []

    async def sender_only(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await gate[0]  # an app that streams to the client and does not read (yet)
        received.append(dict(await receive()))

    client = WSClient(sender_only, request_body_buffer=1000)
    gate.append(client.io.create_waiter())
    assert client.handshake() == 101
    client.send(BytesMessage(data=b"a" * 600), BytesMessage(data=b"b" * 600))
    assert not client.io.reading  # 1200 bytes unread: paused, as it should be
    # The app's own output fills the transport's buffer for a moment, then drains.
    client.protocol.pause_writing()
    client.protocol.resume_writing()
    assert not client.io.reading, "reading resumed with 1200 unread bytes (limit 1000)"
    # Were it to keep reading, nothing would ever stop it again:
    for _ in range(100):
        client.send(BytesMessage(data=b"c" * 600))
    assert not client.io.reading


# --- shutdown -----------------------------------------------------------------------------


def test_shutdown_sends_close_1001_and_waits_for_the_answer(parser: str) -> None:
    app = Echo()
    client = upgraded(app, parser)
    client.protocol.shutdown()
    client.io.run()
    events = client.events()
    assert [e.code for e in events if isinstance(e, CloseConnection)] == [1001]
    assert not client.io.closed
    client.answer_close(events)
    assert client.io.closed
    assert app.disconnect["code"] == 1001


def test_shutdown_before_accept_leaves_the_app_to_decide() -> None:
    gate: list[StepWaiter] = []
    app = Echo()

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        await gate[0]
        await app(scope, receive, send)

    client = WSClient(slow)
    gate.append(client.io.create_waiter())
    client.feed(handshake_request())
    client.protocol.shutdown()
    assert client.io.take() == b""
    gate[0].wake()
    client.io.run()
    assert parse_head(client.io.take())[0] == 101


def test_websocket_accepted_during_shutdown_is_closed_with_1001() -> None:
    gate: list[StepWaiter] = []
    app = Echo()

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        await gate[0]
        await app(scope, receive, send)

    client = WSClient(slow)
    gate.append(client.io.create_waiter())
    client.protocol.data_received(handshake_request())
    client.protocol.shutdown()
    gate[0].wake()
    client.io.run()
    status, _, rest = parse_head(client.io.take())
    assert status == 101
    client.ws.receive_data(rest)
    assert [e.code for e in client.ws.events() if isinstance(e, CloseConnection)] == [1001]


# --- over HTTP/2 (RFC 8441) ---------------------------------------------------------------


class H2WSPair:
    """A server H2Connection and an h2 client; WebSockets run on streams as wsproto clients."""

    def __init__(self, app: Any, *, ack: bool = True, **options: Any) -> None:
        #: Whether the client hands back the window of DATA it receives (reads it).
        self.ack = ack
        self.io = StepIO()
        self.ctx = ServerContext(Config(**options), app, http_parser="httptools")
        self.server = H2Connection(self.io, self.ctx, INFO)
        self.io.protocol = self.server
        config = h2.config.H2Configuration(client_side=True, header_encoding=None)
        self.client = h2.connection.H2Connection(config=config)
        self.client.initiate_connection()
        self.events: list[Any] = []
        self.ws: dict[int, Connection] = {}
        self.exchange()

    def exchange(self) -> list[Any]:
        events: list[Any] = []
        for _ in range(1000):
            out = self.client.data_to_send()
            if out:
                self.server.data_received(out)
            self.io.run()
            data = self.io.take()
            if data:
                events += self.client.receive_data(data)
            for event in events if self.ack else ():
                if isinstance(event, h2.events.DataReceived):
                    self.client.acknowledge_received_data(
                        event.flow_controlled_length, event.stream_id
                    )
            if not out and not data:
                break
        self.events += events
        return events

    def connect(self, *extra: tuple[bytes, bytes], version: bytes = b"13") -> int:
        stream_id: int = self.client.get_next_available_stream_id()
        headers = [
            (b":method", b"CONNECT"),
            (b":protocol", b"websocket"),
            (b":scheme", b"https"),
            (b":authority", b"example.com"),
            (b":path", b"/chat?room=1"),
            (b"sec-websocket-version", version),
            *extra,
        ]
        self.client.send_headers(stream_id, headers)
        self.ws[stream_id] = Connection(ConnectionType.CLIENT)
        self.exchange()
        return stream_id

    def response(self, stream_id: int) -> dict[bytes, bytes]:
        for event in self.events:
            if isinstance(event, h2.events.ResponseReceived) and event.stream_id == stream_id:
                return dict(event.headers)
        raise AssertionError(f"no response on stream {stream_id}")

    def data(self, stream_id: int) -> bytes:
        return b"".join(
            event.data
            for event in self.events
            if isinstance(event, h2.events.DataReceived) and event.stream_id == stream_id
        )

    def ended(self, stream_id: int) -> bool:
        return any(
            isinstance(event, h2.events.StreamEnded) and event.stream_id == stream_id
            for event in self.events
        )

    def send(self, stream_id: int, event: Event) -> list[Event]:
        """Send a WebSocket event on the stream; return what the client then decodes."""
        self.client.send_data(stream_id, self.ws[stream_id].send(event))
        return self.ws_events(stream_id, self.exchange())

    def ws_events(self, stream_id: int, h2_events: list[Any]) -> list[Event]:
        ws = self.ws[stream_id]
        for event in h2_events:
            if isinstance(event, h2.events.DataReceived) and event.stream_id == stream_id:
                ws.receive_data(event.data)
        return list(ws.events())


def test_h2_settings_enable_extended_connect() -> None:
    pair = H2WSPair(Echo())
    changed = [e for e in pair.events if isinstance(e, h2.events.RemoteSettingsChanged)]
    assert changed
    setting = changed[0].changed_settings[h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL]
    assert setting.new_value == 1


def test_h2_extended_connect_echo_and_client_close() -> None:
    app = Echo(subprotocol="chat", headers=[(b"x-extra", b"1")])
    pair = H2WSPair(app)
    stream_id = pair.connect((b"sec-websocket-protocol", b"superchat, chat"))
    headers = pair.response(stream_id)
    assert headers[b":status"] == b"200"  # RFC 8441 §5: 200, not 101
    assert headers[b"sec-websocket-protocol"] == b"chat"
    assert headers[b"x-extra"] == b"1"
    assert b"sec-websocket-accept" not in headers
    scope = app.scope
    assert scope["type"] == "websocket" and scope["http_version"] == "2"
    assert scope["path"] == "/chat" and scope["query_string"] == b"room=1"
    assert scope["subprotocols"] == ["superchat", "chat"]
    echoed = pair.send(stream_id, TextMessage(data="over h2"))
    assert [e.data for e in echoed if isinstance(e, TextMessage)] == ["over h2"]
    echoed = pair.send(stream_id, BytesMessage(data=b"\x00\x01"))
    assert [e.data for e in echoed if isinstance(e, BytesMessage)] == [b"\x00\x01"]
    closing = pair.send(stream_id, CloseConnection(code=4000, reason="h2 bye"))
    assert [e.code for e in closing if isinstance(e, CloseConnection)] == [4000]
    assert app.disconnect == {"type": "websocket.disconnect", "code": 4000, "reason": "h2 bye"}
    assert pair.ended(stream_id)
    assert not pair.io.closed  # only the stream ended; the connection stays


def test_h2_two_websockets_share_a_connection() -> None:
    app = Echo()
    pair = H2WSPair(app)
    first = pair.connect()
    second = pair.connect()
    a = pair.send(first, TextMessage(data="one"))
    b = pair.send(second, TextMessage(data="two"))
    assert [e.data for e in a if isinstance(e, TextMessage)] == ["one"]
    assert [e.data for e in b if isinstance(e, TextMessage)] == ["two"]


def test_h2_denial_and_close_before_accept() -> None:
    async def deny(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        if scope["path"] == "/chat":
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": 403,
                    "headers": [(b"content-type", b"text/plain")],
                }
            )
            await send({"type": "websocket.http.response.body", "body": b"denied"})

    pair = H2WSPair(deny)
    stream_id = pair.connect()
    assert pair.response(stream_id)[b":status"] == b"403"
    assert pair.data(stream_id) == b"denied"
    assert pair.ended(stream_id)

    pair2 = H2WSPair(scripted({"type": "websocket.close"}))
    stream_id = pair2.connect()
    assert pair2.response(stream_id)[b":status"] == b"403"
    assert pair2.ended(stream_id)


def test_h2_bad_version_is_426() -> None:
    app = Echo()
    pair = H2WSPair(app)
    stream_id = pair.connect(version=b"8")
    headers = pair.response(stream_id)
    assert headers[b":status"] == b"426"
    assert headers[b"sec-websocket-version"] == b"13"
    assert app.received == []


def test_h2_app_errors_and_limits() -> None:
    pair = H2WSPair(scripted({"type": "websocket.accept"}, raise_after=True))
    stream_id = pair.connect()
    events = pair.ws_events(stream_id, pair.events)
    assert [e.code for e in events if isinstance(e, CloseConnection)] == [1011]

    app = Echo()
    pair = H2WSPair(app, websocket_max_message_size=100)
    stream_id = pair.connect()
    events = pair.send(stream_id, BytesMessage(data=b"q" * 101))
    assert [e.code for e in events if isinstance(e, CloseConnection)] == [1009]
    assert pair.ended(stream_id)
    assert app.disconnect["code"] == 1009


def h2_frames(data: bytes) -> list[Frame]:
    """Parse raw HTTP/2 frames (after a GOAWAY, where h2's client state machine stops)."""
    frames = []
    while data:
        header, length = Frame.parse_frame_header(memoryview(data[:9]))
        header.parse_body(memoryview(data[9 : 9 + length]))
        frames.append(header)
        data = data[9 + length :]
    return frames


def test_h2_shutdown_sends_goaway_and_close_1001() -> None:
    app = Echo()
    pair = H2WSPair(app)
    stream_id = pair.connect()
    pair.server.shutdown()
    pair.io.run()
    frames = h2_frames(pair.io.take())
    goaways = [f for f in frames if isinstance(f, GoAwayFrame)]
    assert [(g.last_stream_id, g.error_code) for g in goaways] == [(stream_id, 0)]
    payload = b"".join(
        f.data for f in frames if isinstance(f, DataFrame) and f.stream_id == stream_id
    )
    ws = pair.ws[stream_id]
    ws.receive_data(payload)
    closes = [e for e in ws.events() if isinstance(e, CloseConnection)]
    assert [e.code for e in closes] == [1001]
    assert not pair.io.closed
    # RFC 9113 §6.8: streams up to the GOAWAY's last id finish; the client's Close still
    # reaches the app, and the connection closes once the WebSocket has ended.
    answer = DataFrame(stream_id)
    answer.data = ws.send(closes[0].response())
    pair.server.data_received(answer.serialize())
    pair.io.run()
    frames = h2_frames(pair.io.take())
    assert any(
        isinstance(f, DataFrame) and f.stream_id == stream_id and "END_STREAM" in f.flags
        for f in frames
    )
    assert app.disconnect["code"] == 1001
    assert pair.io.closed


def test_h2_closed_window_blocks_the_apps_sends() -> None:
    progress: list[int] = []

    async def flood(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        for count in range(1, 1001):
            await send({"type": "websocket.send", "bytes": b"z" * 1000})
            progress.append(count)

    pair = H2WSPair(flood, ack=False)
    stream_id = pair.connect()  # the client's windows: 65535 bytes, never handed back
    stalled = len(progress)
    assert 0 < stalled < 80
    received = len(pair.data(stream_id))
    assert received <= 65535
    pair.exchange()
    assert len(progress) == stalled  # the app waits; nothing piles up behind the window
    pair.ack = True
    for event in pair.events:
        if isinstance(event, h2.events.DataReceived):
            pair.client.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
    for _ in range(100):
        if progress[-1] == 1000:
            break
        pair.exchange()
    assert progress[-1] == 1000


def test_h2_unread_messages_hold_back_the_window_until_the_app_reads() -> None:
    gate: list[StepWaiter] = []
    received: list[int] = []

    async def slow_reader(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await gate[0]
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            received.append(len(message["bytes"]))

    pair = H2WSPair(slow_reader, request_body_buffer=4096)
    gate.append(pair.io.create_waiter())
    stream_id = pair.connect()
    message = b"w" * 1000
    sent = 0
    for _ in range(200):  # 200 kB: three times the initial window
        wire = pair.ws[stream_id].send(BytesMessage(data=message))
        if pair.client.local_flow_control_window(stream_id) < len(wire):
            break
        pair.client.send_data(stream_id, wire)
        pair.exchange()
        sent += 1
    # The app reads nothing: the server stops handing back window once 4 kB are unread.
    assert received == []
    assert sent < 70
    gate[0].wake()
    pair.exchange()
    assert len(received) == sent
    # The app read everything: the window comes back and the client can send on.
    for _ in range(100):
        pair.send(stream_id, BytesMessage(data=message))
    assert len(received) == sent + 100


def test_h2_client_ending_the_stream_disconnects_the_app() -> None:
    app = Echo()
    pair = H2WSPair(app)
    stream_id = pair.connect()
    pair.client.end_stream(stream_id)
    pair.exchange()
    assert app.disconnect["code"] == 1006
    assert pair.ended(stream_id)


def test_h2_unanswered_close_times_out() -> None:
    seen: list[ASGIMessage] = []

    async def closer(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 1000})
        seen.append(dict(await receive()))

    pair = H2WSPair(closer, websocket_ping_timeout=5.0, h2_ping_interval=20.0)
    stream_id = pair.connect()
    assert [
        e.code for e in pair.ws_events(stream_id, pair.events) if isinstance(e, CloseConnection)
    ] == [1000]
    for second in range(1, 120):  # the h2 client answers PINGs itself, as real ones do
        pair.ctx.now = float(second)
        if pair.server.deadline <= second:
            pair.server.on_deadline(float(second))
        pair.exchange()
    assert seen and seen[0]["type"] == "websocket.disconnect"
    assert pair.ended(stream_id)


def test_h2_pings_against_a_closed_window_do_not_queue_without_bound() -> None:
    pair = H2WSPair(Echo())
    pair.client.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
    pair.exchange()
    stream_id = pair.connect()
    assert pair.response(stream_id)[b":status"] == b"200"
    ws = pair.ws[stream_id]
    sent = 0
    for _ in range(4000):
        data = ws.send(Ping(payload=b"p" * 125))
        if pair.client.local_flow_control_window(stream_id) < len(data):
            break  # the server stopped granting window: that bounds it too
        pair.client.send_data(stream_id, data)
        pair.exchange()
        sent += len(data)
    stream = pair.server._streams.get(stream_id)
    queued = len(stream.pending) if stream is not None else 0
    assert queued < 128 * 1024, f"{queued} bytes of Pongs queued after {sent} bytes of Pings"
