"""One WebSocket as the ASGI app sees it, over HTTP/1.1 (RFC 6455) or HTTP/2 (RFC 8441).

:class:`WSStream` implements the app's ``receive`` and ``send`` for the ``websocket`` scope
and owns the WebSocket framing (:mod:`.ws_frames`, after a handshake the owner carries out
in its own HTTP version). It is the one place the ASGI websocket message rules
live (:data:`_SEND_RULES`); the owner — an HTTP/1.1 connection that switched protocols, or
one stream of an HTTP/2 connection — only moves bytes and answers the handshake.

Received data is framed, checked and delivered with limits: a message over
``websocket_max_message_size`` closes with 1009 (also when permessage-deflate would inflate
past it), invalid UTF-8 with 1007, any other protocol violation with 1002 — always a Close
frame with the code, then the end of the connection. Messages the app has not read yet are
bounded by ``request_body_buffer``: past it the owner stops reading.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol

from ..logs import escape_log_text
from .context import ASGIApp, ServerContext
from .errors import ClientDisconnected, LocalProtocolError
from .http_stream import check_response_headers
from .interface import ConnectionInfo, Waiter
from .ws_frames import (
    PING,
    PONG,
    Close,
    DeflateParams,
    Deflater,
    Failure,
    FrameDecoder,
    Message,
    Ping,
    close_frame,
    data_frame,
    encode_frame,
)

__all__ = ["WSOwner", "WSStream", "offered_subprotocols", "websocket_scope"]


class WSOwner(Protocol):
    """The transport a WebSocket runs on (an HTTP/1.1 connection or an HTTP/2 stream)."""

    ctx: ServerContext
    write_paused: bool

    def ws_accept(self, stream: WSStream, headers: list[tuple[bytes, bytes]]) -> None:
        """Complete the handshake with these extra response headers."""
        ...

    def ws_deny(self, stream: WSStream, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        """Refuse the handshake with an HTTP response head (the body follows)."""
        ...

    def ws_deny_body(self, stream: WSStream, body: bytes, more_body: bool) -> None: ...

    def ws_write(self, stream: WSStream, data: bytes) -> None:
        """Send WebSocket frames."""
        ...

    def ws_end(self, stream: WSStream) -> None:
        """Nothing more will be sent or read: end the stream or close the connection."""
        ...

    def ws_closing(self, stream: WSStream) -> None:
        """The server sent its Close: the client has ``websocket_ping_timeout`` to answer."""
        ...

    def pause_input(self, stream: WSStream) -> None: ...

    def resume_input(self, stream: WSStream) -> None: ...

    def wait_writable(self, stream: Any) -> Awaitable[None]: ...

    def app_finished(self, stream: Any) -> None: ...

    def create_waiter(self) -> Waiter: ...


# States of the ASGI conversation. Legal app messages per state are _SEND_RULES' keys.
_HANDSHAKE = 0  # websocket.connect delivered (or due); nothing sent yet
_CONNECTED = 1  # accepted
_DENYING = 2  # websocket.http.response.start sent; body to follow
_CLOSING = 3  # the server sent its Close frame; waiting for the client's
_CLOSED = 4  # finished: every further message from the app is refused

_DEFAULT_CLOSE = 1000
_GOING_AWAY = 1001
# RFC 6455 §7.4: codes an endpoint may send; 1004-1006 and 1015 are reserved.
_SENDABLE_CODES = frozenset(
    {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014}
)


def websocket_scope(
    ctx: ServerContext,
    info: ConnectionInfo,
    http_version: str,
    raw_path: bytes,
    query: bytes,
    headers: list[tuple[bytes, bytes]],
) -> dict[str, Any]:
    """The ASGI ``websocket`` scope of a handshake request."""
    from .http_stream import http_scope  # one place for path and root_path handling

    extensions: dict[str, Any] = {"websocket.http.response": {}}
    if info.tls is not None:
        extensions["tls"] = info.tls
    scope = http_scope(ctx, info, http_version, "GET", raw_path, query, headers, extensions)
    scope["type"] = "websocket"
    scope["scheme"] = "wss" if info.tls is not None else "ws"
    del scope["method"]
    scope["subprotocols"] = offered_subprotocols(headers)
    return scope


def offered_subprotocols(headers: list[tuple[bytes, bytes]]) -> list[str]:
    found = []
    for name, value in headers:
        if name == b"sec-websocket-protocol":
            found += [token.strip() for token in value.decode("latin-1").split(",")]
    return [token for token in found if token]


_NO_VALUE = frozenset({"server_no_context_takeover", "client_no_context_takeover"})


def _valid_window_bits(value: str) -> bool:
    # RFC 7692 §7.1.2: 1*DIGIT without leading zeros, 8 to 15. zlib cannot compress with
    # an 8-bit window, so an offer that needs one is declined too.
    return value.isdigit() and value[0] != "0" and 9 <= int(value) <= 15


def _valid_deflate_offer(offer: str) -> bool:
    """Whether a permessage-deflate offer's parameters are all known, valid and unique."""
    seen = set()
    for part in offer.split(";")[1:]:
        name, equals, value = (item.strip() for item in part.partition("="))
        name = name.lower()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]  # RFC 7692 §7.1: a quoted-string value means the same
        if name in seen:
            return False
        seen.add(name)
        if name in _NO_VALUE:
            if equals:
                return False
        elif name == "server_max_window_bits":
            if not equals or not _valid_window_bits(value):
                return False
        elif name == "client_max_window_bits":
            if equals and not _valid_window_bits(value):
                return False
        else:
            return False
    return True


def _negotiate_deflate(
    ctx: ServerContext, headers: list[tuple[bytes, bytes]]
) -> tuple[DeflateParams | None, bytes | None]:
    """Accept the client's first acceptable permessage-deflate offer, if enabled.

    Returns the settled parameters and the Sec-WebSocket-Extensions response value.
    """
    config = ctx.config
    if not config.websocket_compression:
        return None, None
    ours = config.websocket_compression_window_bits
    for name, value in headers:
        if name != b"sec-websocket-extensions":
            continue
        for offer in value.decode("latin-1").split(","):
            if offer.split(";", 1)[0].strip().lower() != "permessage-deflate":
                continue
            if not _valid_deflate_offer(offer):
                continue  # RFC 7692 §5.1: decline an offer with invalid parameters
            offered = {}
            for part in offer.split(";")[1:]:
                key, _, given = (item.strip() for item in part.partition("="))
                offered[key.lower()] = given.strip('"')
            answer = []
            server_no_context = "server_no_context_takeover" in offered
            client_no_context = "client_no_context_takeover" in offered
            if server_no_context:
                answer.append("server_no_context_takeover")
            if client_no_context:
                answer.append("client_no_context_takeover")
            # RFC 7692 §7.1.2.1: the server's window is at most what the client asked for,
            # and the server may shrink it unasked.
            bits = min(ours, int(offered.get("server_max_window_bits") or 15))
            if bits < 15 or "server_max_window_bits" in offered:
                answer.append(f"server_max_window_bits={bits}")
            # §7.1.2.2: the client's window is the client's; echo a value it gave.
            if offered.get("client_max_window_bits"):
                answer.append(f"client_max_window_bits={offered['client_max_window_bits']}")
            params = DeflateParams(server_no_context, client_no_context, bits)
            header = "; ".join(["permessage-deflate", *answer])
            return params, header.encode("latin-1")
    return None, None


class WSStream:
    """The ASGI side of one WebSocket."""

    __slots__ = (
        "_app_closed",
        "_buffered",
        "_close_code",
        "_close_reason",
        "_connected_sent",
        "_counted",
        "_decoder",
        "_deflate",
        "_deflate_header",
        "_deflater",
        "_inbox",
        "_input_paused",
        "_owner",
        "_peer_closed",
        "_state",
        "_waiter",
        "disconnected",
        "scope",
        "send_blocked",
    )

    def __init__(self, owner: WSOwner, scope: MutableMapping[str, Any]) -> None:
        self.scope = scope
        self._owner = owner
        self._state = _HANDSHAKE
        self._deflate, self._deflate_header = _negotiate_deflate(owner.ctx, scope["headers"])
        #: Set at accept: the client's frames are decoded from then on.
        self._decoder: FrameDecoder | None = None
        self._deflater: Deflater | None = None
        #: The client's Close frame has arrived.
        self._peer_closed = False
        #: Received messages the app has not read yet, with their sizes.
        self._inbox: deque[tuple[dict[str, Any], int]] = deque()
        self._buffered = 0
        self._input_paused = False
        self._waiter: Waiter | None = None
        self._connected_sent = False
        self._app_closed = False
        self._close_code: int | None = None
        self._close_reason = ""
        self._counted = False  # in the open-WebSockets gauge
        #: The peer has gone (or the WebSocket is closed): receive reports disconnect.
        self.disconnected = False
        #: Set by an HTTP/2 owner while flow control holds this stream's output.
        self.send_blocked = False

    # --- what an HTTP/2 owner reads (the same names as an HTTPStream's) -----------------

    @property
    def response_complete(self) -> bool:
        return self._state == _CLOSED

    @property
    def body_complete(self) -> bool:
        return self.disconnected

    # --- the app invocation ------------------------------------------------------------

    async def run(self, app: ASGIApp) -> None:
        try:
            await app(self.scope, self.receive, self.send)
        except Exception as exc:
            self._app_finished(exc)
        except BaseException:
            if self._state != _CLOSED:
                self._state = _CLOSED
                self.disconnected = True
                self._uncount()
                self._owner.ws_end(self)
            raise
        else:
            self._app_finished(None)
        finally:
            self._owner.app_finished(self)

    def _describe(self) -> str:
        return escape_log_text(f"WebSocket {self.scope.get('path', '')}")

    def _app_finished(self, exc: Exception | None) -> None:
        logger = self._owner.ctx.logger
        state = self._state
        if isinstance(exc, ClientDisconnected) or (exc is not None and self.disconnected):
            logger.debug("Client went away during %s", self._describe())
            exc = None
        if exc is not None and not (isinstance(exc, LocalProtocolError) and state == _CLOSED):
            logger.error("Exception in ASGI application (%s)", self._describe(), exc_info=exc)
        if state == _HANDSHAKE:
            if exc is None:
                logger.error(
                    "ASGI app returned without accepting or closing the WebSocket (%s)",
                    self._describe(),
                )
            self._deny_with(500)
        elif state == _DENYING:
            # A denial response cut short: the client sees a truncated response.
            self._end()
        elif state == _CONNECTED:
            # RFC 6455 §7.4.1: 1011 for a server fault, 1000 for an app that simply ended.
            self._close_frame(1011 if exc is not None else _DEFAULT_CLOSE, "")
        elif state == _CLOSING and self.disconnected:
            self._end()

    # --- receive -------------------------------------------------------------------------

    async def receive(self) -> dict[str, Any]:
        if not self._connected_sent:
            self._connected_sent = True
            return {"type": "websocket.connect"}
        while True:
            inbox = self._inbox
            if inbox:
                message, size = inbox.popleft()
                self._buffered -= size
                if self._input_paused and self._buffered < self._owner.ctx.request_body_buffer:
                    self._input_paused = False
                    self._owner.resume_input(self)
                return message
            if self.disconnected:
                return self._disconnect_message()
            await self._wait()

    def _disconnect_message(self) -> dict[str, Any]:
        code = self._close_code if self._close_code is not None else 1006
        return {"type": "websocket.disconnect", "code": code, "reason": self._close_reason}

    async def _wait(self) -> None:
        waiter = self._waiter
        if waiter is None:
            waiter = self._waiter = self._owner.create_waiter()
        await waiter

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            waiter.wake()

    # --- send ----------------------------------------------------------------------------

    async def send(self, message: MutableMapping[str, Any]) -> None:
        if self.disconnected and self._state in (_CONNECTED, _CLOSING, _CLOSED):
            raise ClientDisconnected("the client has disconnected")
        try:
            rule = _SEND_RULES[self._state, message["type"]]
        except (KeyError, TypeError):
            raise self._refuse(self._unexpected(message)) from None
        rule(self, message)
        if self._state == _CONNECTED and (self.send_blocked or self._owner.write_paused):
            await self._owner.wait_writable(self)
            if self.disconnected:
                raise ClientDisconnected("the client has disconnected")

    def _unexpected(self, message: Any) -> str:
        try:
            kind = message["type"]
        except (KeyError, TypeError):
            return f"not an ASGI message: {message!r:.80}"
        if self._state in (_CLOSED, _CLOSING):
            return f"{kind!r} after the WebSocket was closed"
        return f"{kind!r} is not allowed here"

    def _refuse(self, problem: str) -> LocalProtocolError:
        """Log an invalid message once, end the WebSocket, return the error to raise."""
        if self._state != _CLOSED:
            self._owner.ctx.logger.error(
                "ASGI app sent an invalid message: %s (%s)", problem, self._describe()
            )
            if self._state == _HANDSHAKE:
                self._deny_with(500)
            elif self._state == _CONNECTED:
                self._close_frame(1011, "")
            else:
                self._end()
            self._state = _CLOSED
            self._uncount()
        return LocalProtocolError(problem)

    def _accept(self, message: MutableMapping[str, Any]) -> None:
        subprotocol = message.get("subprotocol")
        headers: list[tuple[bytes, bytes]] = []
        if subprotocol is not None:
            if not isinstance(subprotocol, str) or subprotocol not in self.scope["subprotocols"]:
                raise self._refuse(f"subprotocol {subprotocol!r} was not offered by the client")
            headers.append((b"sec-websocket-protocol", subprotocol.encode("latin-1")))
        if self._deflate_header is not None:
            headers.append((b"sec-websocket-extensions", self._deflate_header))
        try:
            extra, _ = check_response_headers(message.get("headers", ()))
        except LocalProtocolError as exc:
            raise self._refuse(str(exc)) from None
        handshake_names = {b"sec-websocket-protocol", b"sec-websocket-extensions"}
        headers += [(n, v) for n, v in extra if n.lower() not in handshake_names]
        config = self._owner.ctx.config
        self._decoder = FrameDecoder(config.websocket_max_message_size, self._deflate)
        if self._deflate is not None:
            self._deflater = Deflater(self._deflate)
        self._state = _CONNECTED
        metrics = self._owner.ctx.metrics
        if metrics is not None:
            metrics.websocket_opened()
            self._counted = True
        self._owner.ws_accept(self, headers)

    def _close_before_accept(self, message: MutableMapping[str, Any]) -> None:
        # ASGI: closing before accepting refuses the handshake with 403.
        self._app_closed = True
        self._deny_with(403)

    def _deny_with(self, status: int) -> None:
        body = b"Forbidden\n" if status == 403 else b"Internal Server Error\n"
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", b"%d" % len(body)),
        ]
        self._state = _CLOSED
        self.disconnected = True
        self._owner.ws_deny(self, status, headers)
        self._owner.ws_deny_body(self, body, False)
        self._wake()

    def _http_response_start(self, message: MutableMapping[str, Any]) -> None:
        status = message.get("status")
        if type(status) is not int or not 200 <= status <= 599:
            raise self._refuse(f"invalid denial status {status!r}")
        try:
            headers, _ = check_response_headers(message.get("headers", ()))
        except LocalProtocolError as exc:
            raise self._refuse(str(exc)) from None
        self._state = _DENYING
        self._owner.ws_deny(self, status, headers)

    def _http_response_body(self, message: MutableMapping[str, Any]) -> None:
        body = message.get("body", b"")
        if not isinstance(body, bytes | bytearray | memoryview):
            raise self._refuse(f"body must be a byte string, not {type(body).__name__}")
        more_body = bool(message.get("more_body", False))
        if not more_body:
            self._state = _CLOSED
            self.disconnected = True
            self._wake()
        self._owner.ws_deny_body(self, bytes(body), more_body)

    def _send_message(self, message: MutableMapping[str, Any]) -> None:
        data = message.get("bytes")
        text = message.get("text")
        if data is not None and text is None:
            if type(data) is not bytes:
                if not isinstance(data, bytearray | memoryview):
                    raise self._refuse(f"bytes must be a byte string, not {type(data).__name__}")
                data = bytes(data)
            payload: bytes | str = data
        elif text is not None and data is None:
            if not isinstance(text, str):
                raise self._refuse(f"text must be a str, not {type(text).__name__}")
            payload = text
        else:
            raise self._refuse("websocket.send needs exactly one of 'bytes' and 'text'")
        self._owner.ws_write(self, data_frame(payload, self._deflater))

    def _close(self, message: MutableMapping[str, Any]) -> None:
        code = message.get("code", _DEFAULT_CLOSE)
        reason = message.get("reason") or ""
        if type(code) is not int or not (code in _SENDABLE_CODES or 3000 <= code <= 4999):
            raise self._refuse(f"invalid close code {code!r}")
        if not isinstance(reason, str) or len(reason.encode("utf-8")) > 123:
            raise self._refuse("close reason must be a str of at most 123 UTF-8 bytes")
        self._app_closed = True
        self._close_frame(code, reason)

    # --- framing -------------------------------------------------------------------------

    def _close_frame(self, code: int, reason: str) -> None:
        """Send a Close frame; the WebSocket ends when the client answers (or at once)."""
        if self._decoder is None or self._state in (_CLOSING, _CLOSED):
            return
        self._owner.ws_write(self, close_frame(code, reason))
        if self._peer_closed or self.disconnected:
            # The client's Close came first; this was the answer.
            self._end()
        else:
            self._state = _CLOSING
            if self._close_code is None:
                self._close_code = code
            self._owner.ws_closing(self)

    def _end(self) -> None:
        if self._state != _CLOSED:
            self._state = _CLOSED
            self.disconnected = True
            self._uncount()
            self._owner.ws_end(self)
            self._wake()

    def _uncount(self) -> None:
        if self._counted:
            self._counted = False
            metrics = self._owner.ctx.metrics
            if metrics is not None:
                metrics.websocket_closed()

    def feed(self, data: bytes) -> None:
        """WebSocket bytes from the client."""
        decoder = self._decoder
        if decoder is None or self._state == _CLOSED:
            return
        for event in decoder.feed(data):
            kind = type(event)
            if kind is Message:
                self._on_message(event)  # type: ignore[arg-type]
            elif kind is Ping:
                self._owner.ws_write(self, encode_frame(PONG, event.payload))  # type: ignore[union-attr]
            elif kind is Close:
                self._on_close(event)  # type: ignore[arg-type]
            elif kind is Failure:
                self._fail(event.code, event.reason)  # type: ignore[union-attr]
            if self._state == _CLOSED:
                return

    def _on_message(self, event: Message) -> None:
        if self._state != _CONNECTED:
            return  # after our Close: RFC 6455 §5.5.1, data is discarded
        if event.text:
            message = {"type": "websocket.receive", "text": event.data}
        else:
            message = {"type": "websocket.receive", "bytes": event.data}
        self._buffered += event.size
        self._inbox.append((message, event.size))
        if not self._input_paused and self._buffered >= self._owner.ctx.request_body_buffer:
            self._input_paused = True
            self._owner.pause_input(self)
        self._wake()

    def _on_close(self, event: Close) -> None:
        code = event.code
        self._peer_closed = True
        self._close_code = code
        self._close_reason = event.reason
        self.disconnected = True
        if self._state == _CLOSING:
            self._end()  # the answer to our Close: the closing handshake is complete
            return
        # The client closes: echo its code (RFC 6455 §5.5.1; a Close without one is answered
        # without one), then end.
        self._owner.ws_write(self, close_frame(code))
        self._end()

    def _fail(self, code: int, reason: str) -> None:
        """Fail the WebSocket (RFC 6455 §7.1.7): a Close frame with ``code``, then the end."""
        self._owner.ctx.logger.info(
            "Closing WebSocket (%s) with %d: %s", self._describe(), code, reason
        )
        if self._state in (_CONNECTED, _CLOSING):
            self._owner.ws_write(self, close_frame(code))
        self._close_code = code
        self._end()

    # --- what the owner tells the stream -------------------------------------------------

    def client_disconnected(self) -> None:
        """The connection (or HTTP/2 stream) is gone."""
        self.disconnected = True
        if self._state != _CLOSED:
            self._state = _CLOSED
        self._uncount()
        self._wake()

    def going_away(self) -> None:
        """Server shutdown: close with 1001 and wait for the client's answer."""
        if self._state == _CONNECTED:
            self._close_frame(_GOING_AWAY, "")

    def ping(self) -> None:
        """Send a Ping (keep-alive); any data from the client counts as the answer."""
        if self._decoder is not None and self._state == _CONNECTED:
            self._owner.ws_write(self, encode_frame(PING, b"hypercorn"))

    def closing_timed_out(self) -> None:
        """The client did not answer our Close in time."""
        if self._state == _CLOSING:
            self._end()

    @property
    def closing(self) -> bool:
        return self._state == _CLOSING

    @property
    def accepted(self) -> bool:
        return self._decoder is not None


_SEND_RULES: dict[tuple[int, str], Callable[[WSStream, MutableMapping[str, Any]], None]] = {
    (_HANDSHAKE, "websocket.accept"): WSStream._accept,
    (_HANDSHAKE, "websocket.close"): WSStream._close_before_accept,
    (_HANDSHAKE, "websocket.http.response.start"): WSStream._http_response_start,
    (_DENYING, "websocket.http.response.body"): WSStream._http_response_body,
    (_CONNECTED, "websocket.send"): WSStream._send_message,
    (_CONNECTED, "websocket.close"): WSStream._close,
}
