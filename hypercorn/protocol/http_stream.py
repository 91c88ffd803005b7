"""One HTTP request/response exchange as the ASGI app sees it.

:class:`HTTPStream` implements the app's ``receive`` and ``send`` for the ``http`` scope and
is the one place the ASGI message rules live: which message may follow which
(:data:`_SEND_RULES`), what a valid status, header and body are, and what happens when the
app breaks a rule, raises or returns early. It is shared by every HTTP version; framing the
response on the wire is the :class:`StreamOwner`'s job (HTTP/1.1 today).

``receive`` and ``send`` are coroutines because ASGI requires them to be, but they suspend
only on a :class:`~.interface.Waiter` the owner provides, so no event loop is imported here.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any, Protocol
from urllib.parse import unquote

from ..logs import escape_log_text
from .context import ASGIApp, ServerContext
from .errors import ClientDisconnected, LocalProtocolError
from .interface import ConnectionInfo, Waiter

__all__ = ["HTTPStream", "StreamOwner", "check_response_headers"]


class StreamOwner(Protocol):
    """The connection that frames a stream's response (one implementation per HTTP version)."""

    ctx: ServerContext
    #: True while the transport's buffer is over its high-water mark.
    write_paused: bool

    def send_head(
        self,
        stream: HTTPStream,
        status: int,
        headers: list[tuple[bytes, bytes]],
        info: ResponseInfo,
        body: bytes,
        more_body: bool,
    ) -> None:
        """Send the response head with the first piece of body (possibly empty)."""
        ...

    def send_body(self, stream: HTTPStream, body: bytes, more_body: bool) -> None:
        """Send a further piece of body; ``more_body=False`` completes the response."""
        ...

    def send_trailers(self, stream: HTTPStream, headers: list[tuple[bytes, bytes]]) -> None:
        """Complete a response whose last body piece was sent with ``more_body=True``.

        The owner sends ``headers`` as trailers where the client accepts them (HTTP/2, or
        chunked HTTP/1.1 after ``TE: trailers``) and simply ends the response otherwise.
        """
        ...

    def send_continue(self, stream: HTTPStream) -> None:
        """Send ``100 Continue``: the app is waiting for a body the client is holding back."""
        ...

    def send_early_hint(self, stream: HTTPStream, links: list[bytes]) -> None:
        """Send ``103 Early Hints`` with these Link values, if the response has not started."""
        ...

    def push(self, stream: HTTPStream, path: str, headers: list[tuple[bytes, bytes]]) -> None:
        """Push ``path`` to the client if it accepts pushes (HTTP/2); otherwise do nothing."""
        ...

    def request_body_wanted(self, stream: HTTPStream) -> None:
        """The app is waiting for body data and none is buffered."""
        ...

    def pause_request_body(self, stream: HTTPStream) -> None:
        """The stream's body buffer is full: stop reading from the client."""
        ...

    def resume_request_body(self, stream: HTTPStream) -> None: ...

    def abort_response(self, stream: HTTPStream) -> None:
        """The response cannot be completed correctly: end the exchange abruptly."""
        ...

    def wait_writable(self, stream: HTTPStream) -> Awaitable[None]:
        """Wait until ``stream`` may send again (or the client has gone).

        Called when :attr:`write_paused` or the stream's ``send_blocked`` is set.
        """
        ...

    def app_finished(self, stream: HTTPStream) -> None:
        """The app invocation for ``stream`` has returned (or raised)."""
        ...

    def create_waiter(self) -> Waiter: ...

    def call_soon(self, callback: Callable[[], None]) -> None: ...


# Response states. Legal messages per state are the keys of _SEND_RULES; anything else is
# refused with a LocalProtocolError.
_IDLE = 0  # nothing sent yet
_HEAD = 1  # http.response.start received; head not yet on the wire
_BODY = 2  # head on the wire; more body to come
_DONE = 3  # response complete
_FAILED = 4  # the app broke a rule; every further message is refused
_TRAILERS = 5  # the body is complete; http.response.trailers is owed

# What a response header name means to the server.
_ORDINARY, _CONTENT_LENGTH, _CONNECTION, _TRANSFER_ENCODING, _DEFAULTED = range(5)
_SPECIAL_NAMES = {
    b"content-length": _CONTENT_LENGTH,
    b"connection": _CONNECTION,
    b"transfer-encoding": _TRANSFER_ENCODING,
    b"date": _DEFAULTED,
    b"server": _DEFAULTED,
}
_TOKEN_RE = re.compile(rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
# RFC 9110 §5.5: no control characters but HTAB in a field value. CR and LF above all: a
# value carrying them would let an app (or whoever feeds it) split the response.
_INVALID_VALUE_RE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_DIGITS_RE = re.compile(rb"[0-9]+")
# Validated names, so the common ones cost one dict lookup. Bounded so an app that invents
# names per request cannot grow it without limit.
_NAME_KINDS: dict[bytes, int] = {}
_NAME_CACHE_SIZE = 4096

#: Flags in :attr:`ResponseInfo.flags`.
APP_CLOSE = 1  # the app sent ``connection: close``

#: The ASGI extensions every HTTP connection offers (HTTP/2 adds server push); see
#: https://asgi.readthedocs.io/en/latest/extensions.html.
HTTP_EXTENSIONS: dict[str, dict[str, Any]] = {
    "http.response.early_hint": {},
    "http.response.trailers": {},
}


def register_default_header(name: bytes) -> None:
    """Mark ``name`` (lower-case) as a header the server adds unless the app sets it."""
    _SPECIAL_NAMES[name] = _DEFAULTED
    _NAME_KINDS.clear()


class ResponseInfo:
    """What the server needs to know about the app's response headers to frame them."""

    __slots__ = ("content_length", "flags", "overridden")

    def __init__(
        self, content_length: int | None, flags: int, overridden: frozenset[bytes] | None
    ) -> None:
        #: The app's Content-Length, if it sent one.
        self.content_length = content_length
        self.flags = flags
        #: Default headers (Date, Server, ...) the app supplied itself.
        self.overridden = overridden


_PLAIN = ResponseInfo(None, 0, None)


def _classify(name: Any) -> int:
    if type(name) is not bytes:
        raise LocalProtocolError(f"header name {name!r} is not a byte string")
    if _TOKEN_RE.fullmatch(name) is None:
        raise LocalProtocolError(f"invalid header name {name!r}")
    kind = _SPECIAL_NAMES.get(name.lower(), _ORDINARY)
    if len(_NAME_KINDS) < _NAME_CACHE_SIZE:
        _NAME_KINDS[name] = kind
    return kind


def check_response_headers(
    raw: Iterable[Iterable[bytes]],
) -> tuple[list[tuple[bytes, bytes]], ResponseInfo]:
    """Validate an app's response headers and pick out the ones that affect framing.

    Returns the headers to send (``connection`` and ``transfer-encoding`` removed: framing
    and persistence are the server's to decide) and their :class:`ResponseInfo`. Raises
    :class:`LocalProtocolError` naming the offending header.
    """
    headers: list[tuple[bytes, bytes]] = []
    content_length: int | None = None
    flags = 0
    overridden: set[bytes] | None = None
    try:
        for name, value in raw:
            kind = _NAME_KINDS.get(name)
            if kind is None:
                kind = _classify(name)
            if _INVALID_VALUE_RE.search(value) is not None:
                raise LocalProtocolError(
                    f"header {name!r} has a control character in its value {value!r}"
                )
            if kind:
                if kind == _CONTENT_LENGTH:
                    if _DIGITS_RE.fullmatch(value) is None:
                        raise LocalProtocolError(f"invalid Content-Length {value!r}")
                    length = int(value)
                    if content_length is not None and length != content_length:
                        raise LocalProtocolError("conflicting Content-Length headers")
                    if content_length is not None:
                        continue
                    content_length = length
                elif kind == _CONNECTION:
                    if b"close" in value.lower():
                        flags |= APP_CLOSE
                    continue
                elif kind == _TRANSFER_ENCODING:
                    continue
                else:
                    if overridden is None:
                        overridden = set()
                    overridden.add(name.lower())
            headers.append((name, value))
    except (TypeError, ValueError) as exc:
        if isinstance(exc, LocalProtocolError):
            raise
        raise LocalProtocolError(
            f"headers must be [name, value] byte-string pairs ({exc})"
        ) from None
    if content_length is None and not flags and overridden is None:
        return headers, _PLAIN
    return headers, ResponseInfo(
        content_length, flags, frozenset(overridden) if overridden is not None else None
    )


_DISCONNECT: dict[str, Any] = {"type": "http.disconnect"}


def http_scope(
    ctx: ServerContext,
    info: ConnectionInfo,
    http_version: str,
    method: str,
    raw_path: bytes,
    query: bytes,
    headers: list[tuple[bytes, bytes]],
    extensions: dict[str, Any],
) -> dict[str, Any]:
    """The ASGI ``http`` scope of one request, the same for every HTTP version."""
    path = raw_path.decode("latin-1")
    if "%" in path:
        path = unquote(path)
    root_path = ctx.root_path
    if root_path:
        path = root_path + path
        raw_path = root_path.encode("utf-8") + raw_path
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": http_version,
        "server": info.server,
        "client": info.client,
        "scheme": "https" if info.tls is not None else "http",
        "method": method,
        "root_path": root_path,
        "path": path,
        "raw_path": raw_path,
        "query_string": query,
        "headers": headers,
        "extensions": extensions.copy(),
    }
    state = ctx.lifespan_state
    if state is not None:
        scope["state"] = state.copy()
    return scope


def connection_extensions(info: ConnectionInfo, *, push: bool = False) -> dict[str, Any]:
    """The scope's ``extensions`` for requests on one connection."""
    extensions = dict(HTTP_EXTENSIONS)
    if push:
        extensions["http.response.push"] = {}
    if info.tls is not None:
        extensions["tls"] = info.tls
    return extensions


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


class HTTPStream:
    """The ASGI side of one request/response exchange."""

    __slots__ = (
        "_body_allowed",
        "_body_chunks",
        "_body_complete",
        "_body_delivered",
        "_buffered",
        "_expect_continue",
        "_headers",
        "_info",
        "_owner",
        "_reading_paused",
        "_receive_closed",
        "_received",
        "_remaining",
        "_sent",
        "_started_at",
        "_state",
        "_status",
        "_trailer_headers",
        "_trailers",
        "_waiter",
        "disconnected",
        "scope",
        "send_blocked",
    )

    def __init__(
        self,
        owner: StreamOwner,
        scope: Scope,
        *,
        body_complete: bool,
        expect_continue: bool,
        started_at: float = 0.0,
    ) -> None:
        self.scope = scope
        self._owner = owner
        self._state = _IDLE
        self._status = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._info = _PLAIN
        self._remaining = -1  # response bytes still owed to Content-Length, or -1
        self._body_allowed = True
        self._sent = 0
        self._body_chunks: list[bytes] = []
        self._buffered = 0
        self._received = 0
        self._body_complete = body_complete
        self._body_delivered = False
        self._reading_paused = False
        self._expect_continue = expect_continue
        self._waiter: Waiter | None = None
        self._started_at = started_at
        #: The client has gone; ``receive`` returns ``http.disconnect``, ``send`` raises.
        self.disconnected = False
        #: The client will send nothing more; ``receive`` returns ``http.disconnect``.
        self._receive_closed = False
        #: The app promised ``http.response.trailers`` after the body.
        self._trailers = False
        self._trailer_headers: list[tuple[bytes, bytes]] = []
        #: Set by the owner while this stream's own output is held back (HTTP/2 flow
        #: control), so ``send`` waits in :meth:`StreamOwner.wait_writable`.
        self.send_blocked = False

    # --- what the owner reads ----------------------------------------------------------

    @property
    def response_started(self) -> bool:
        """Whether any of the response is on the wire (so a 4xx/5xx can no longer replace it)."""
        return self._state not in (_IDLE, _HEAD)

    @property
    def response_complete(self) -> bool:
        return self._state in (_DONE, _FAILED)

    @property
    def body_complete(self) -> bool:
        """Whether the whole request body has been received from the client."""
        return self._body_complete

    @property
    def bytes_received(self) -> int:
        return self._received

    # --- the app invocation ------------------------------------------------------------

    async def run(self, app: ASGIApp) -> None:
        """Call the app and settle the response whatever it does."""
        try:
            await app(self.scope, self.receive, self.send)
        except Exception as exc:
            self._app_finished(exc)
        except BaseException:
            # Cancelled (forced shutdown) or interrupted: no 500, just end the exchange.
            if not self.response_complete and not self.disconnected:
                self._state = _FAILED
                self._owner.abort_response(self)
            raise
        else:
            self._app_finished(None)
        finally:
            self._owner.app_finished(self)

    def _describe(self) -> str:
        scope = self.scope
        return escape_log_text(f"{scope.get('method', '')} {scope.get('path', '')}")

    def _app_finished(self, exc: Exception | None) -> None:
        logger = self._owner.ctx.logger
        state = self._state
        if isinstance(exc, ClientDisconnected) or (exc is not None and self.disconnected):
            logger.debug("Client went away during %s", self._describe())
            return
        if isinstance(exc, LocalProtocolError) and state == _FAILED:
            return  # already logged and answered when the message was refused
        if state in (_DONE, _FAILED):
            if exc is not None:
                logger.error(
                    "Exception in ASGI application after its response (%s)",
                    self._describe(),
                    exc_info=exc,
                )
            return
        if self.disconnected:
            return
        if exc is None and self._receive_closed:
            # receive() said http.disconnect (the client half-closed, or fully closed and the
            # server has not yet found out by writing) and the app stopped, as Quart does.
            # Nothing went wrong in the app: no error line, and no 500 to a client that may
            # be gone; the exchange is cut short by closing.
            logger.debug("Client stopped sending during %s; closing", self._describe())
            self._state = _FAILED
            self._owner.abort_response(self)
            self._wake()
            return
        if exc is None:
            problem = (
                "returned without starting a response"
                if state == _IDLE
                else "returned without completing its response"
            )
            logger.error("ASGI app %s (%s)", problem, self._describe())
        else:
            logger.error("Exception in ASGI application (%s)", self._describe(), exc_info=exc)
        self._settle_failure()

    def _settle_failure(self) -> None:
        # Nothing on the wire yet: a 500 can still be the answer. Otherwise the exchange can
        # only be cut short, so the client sees a truncated response, not a complete wrong one.
        if self._state in (_IDLE, _HEAD):
            self._state = _FAILED
            self._send_error(500)
        else:
            self._state = _FAILED
            self._owner.abort_response(self)
            self._wake()

    def _send_error(self, status: int) -> None:
        body = b"Internal Server Error\n" if status == 500 else b""
        self._status = status
        self._info = _PLAIN
        self._sent = len(body)
        self._owner.send_head(
            self, status, [(b"content-type", b"text/plain; charset=utf-8")], _PLAIN, body, False
        )
        self._log_access()

    def _refuse(self, problem: str) -> LocalProtocolError:
        """Refuse an invalid message: log it once, settle the response, return the error."""
        if self._state != _FAILED:
            self._owner.ctx.logger.error(
                "ASGI app sent an invalid message: %s (%s)", problem, self._describe()
            )
            if self._state != _DONE:
                self._settle_failure()
            self._state = _FAILED
        return LocalProtocolError(problem)

    # --- send ----------------------------------------------------------------------------

    async def send(self, message: Message) -> None:
        if self.disconnected:
            raise ClientDisconnected("the client has disconnected")
        try:
            rule = _SEND_RULES[self._state, message["type"]]
        except (KeyError, TypeError):
            raise self._refuse(self._unexpected(message)) from None
        rule(self, message)
        if self._state == _BODY and (self.send_blocked or self._owner.write_paused):
            await self._owner.wait_writable(self)
            if self.disconnected:
                raise ClientDisconnected("the client has disconnected")

    def _unexpected(self, message: Any) -> str:
        try:
            kind = message["type"]
        except (KeyError, TypeError):
            return f"not an ASGI message: {message!r:.80}"
        if self._state == _FAILED:
            return f"{kind!r} after an invalid message"
        if self._state == _DONE:
            return f"{kind!r} after the response was complete"
        expected = {
            _IDLE: "http.response.start",
            _HEAD: "http.response.body",
            _BODY: "http.response.body",
            _TRAILERS: "http.response.trailers",
        }[self._state]
        return f"{kind!r} where {expected!r} was expected"

    def _start(self, message: Message) -> None:
        status = message.get("status")
        if type(status) is not int or not 200 <= status <= 599:
            raise self._refuse(f"invalid status {status!r}")
        try:
            self._headers, self._info = check_response_headers(message.get("headers", ()))
        except LocalProtocolError as exc:
            raise self._refuse(str(exc)) from None
        self._status = status
        self._trailers = bool(message.get("trailers", False))
        method = self.scope["method"]
        self._body_allowed = method != "HEAD" and status not in {204, 304}
        length = self._info.content_length
        self._remaining = length if length is not None and self._body_allowed else -1
        self._state = _HEAD
        # The head waits for the first body message so both leave in one write; if the app
        # does not send one straight away, the head goes out on the next loop turn.
        self._owner.call_soon(self._flush_head)

    def _flush_head(self) -> None:
        if self._state == _HEAD and not self.disconnected:
            self._state = _BODY
            self._owner.send_head(self, self._status, self._headers, self._info, b"", True)

    def _body(self, message: Message) -> tuple[bytes, bool]:
        body = message.get("body", b"")
        if type(body) is not bytes:
            if not isinstance(body, bytearray | memoryview):
                raise self._refuse(f"body must be a byte string, not {type(body).__name__}")
            body = bytes(body)
        more_body = bool(message.get("more_body", False))
        if not self._body_allowed:
            return body, more_body  # the owner sends none of it, but HEAD needs its length
        if self._remaining >= 0:
            self._remaining -= len(body)
            if self._remaining < 0:
                raise self._refuse("response body longer than its Content-Length")
            if not more_body and self._remaining:
                raise self._refuse("response body shorter than its Content-Length")
        self._sent += len(body)
        return body, more_body

    def _first_body(self, message: Message) -> None:
        body, more_body = self._body(message)
        self._state = self._state_after(more_body)
        # With trailers to come, the owner must not end the response yet.
        owed = more_body or self._trailers
        self._owner.send_head(self, self._status, self._headers, self._info, body, owed)
        if self._state == _DONE:
            self._log_access()

    def _more_body(self, message: Message) -> None:
        body, more_body = self._body(message)
        self._state = self._state_after(more_body)
        self._owner.send_body(self, body, more_body or self._trailers)
        if self._state == _DONE:
            self._log_access()

    def _state_after(self, more_body: bool) -> int:
        if more_body:
            return _BODY
        return _TRAILERS if self._trailers else _DONE

    def _send_trailers(self, message: Message) -> None:
        try:
            headers, _ = check_response_headers(message.get("headers", ()))
        except LocalProtocolError as exc:
            raise self._refuse(f"trailers: {exc}") from None
        self._trailer_headers += headers
        if not message.get("more_trailers", False):
            self._state = _DONE
            self._owner.send_trailers(self, self._trailer_headers)
            self._log_access()

    def _early_hint(self, message: Message) -> None:
        links = message.get("links", ())
        try:
            values = [bytes(link) for link in links]
        except TypeError:
            raise self._refuse("early hint links must be byte strings") from None
        for value in values:
            if _INVALID_VALUE_RE.search(value) is not None:
                raise self._refuse(f"early hint link {value!r} has a control character")
        if values and self._state != _BODY:
            self._owner.send_early_hint(self, values)

    def _push(self, message: Message) -> None:
        path = message.get("path")
        if type(path) is not str or not path.startswith("/"):
            raise self._refuse(f"push path {path!r} is not an absolute path")
        try:
            headers, _ = check_response_headers(message.get("headers", ()))
        except LocalProtocolError as exc:
            raise self._refuse(f"push: {exc}") from None
        self._owner.push(self, path, headers)

    def _log_access(self) -> None:
        """The response is complete: log and count it, and release a waiting ``receive``."""
        # ASGI: after the response, receive() reports http.disconnect instead of waiting.
        self._wake()
        ctx = self._owner.ctx
        if ctx.timing:
            duration = time.perf_counter() - self._started_at
            if ctx.access_log is not None:
                ctx.access_log.log(self.scope, self._status, self._headers, self._sent, duration)
            if ctx.metrics is not None:
                ctx.metrics.response(self._status, self.scope["http_version"], duration)

    # --- receive -------------------------------------------------------------------------

    async def receive(self) -> Message:
        while True:
            if self._buffered:
                chunks = self._body_chunks
                body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                self._body_chunks = []
                self._buffered = 0
                if self._reading_paused:
                    self._reading_paused = False
                    self._owner.resume_request_body(self)
                more_body = not self._body_complete
                if not more_body:
                    self._body_delivered = True
                return {"type": "http.request", "body": body, "more_body": more_body}
            if self._body_complete:
                if not self._body_delivered:
                    self._body_delivered = True
                    return {"type": "http.request", "body": b"", "more_body": False}
                # ASGI: after the body, receive blocks until the client disconnects or the
                # response is complete, then reports http.disconnect.
                if self._receive_closed or self.response_complete:
                    return dict(_DISCONNECT)
            elif self._receive_closed:
                return dict(_DISCONNECT)
            else:
                if self._expect_continue:
                    # RFC 9110 §10.1.1: the client holds the body back until told to send it;
                    # tell it only now that the app has asked for the body.
                    self._expect_continue = False
                    if not self.response_started:
                        self._owner.send_continue(self)
                self._owner.request_body_wanted(self)
            await self._wait()

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

    # --- what the owner tells the stream -------------------------------------------------

    def feed_body(self, data: bytes) -> None:
        """A piece of request body arrived."""
        if self._body_delivered:
            return  # the response is settled and the rest of the body is being discarded
        self._body_chunks.append(data)
        self._buffered += len(data)
        self._received += len(data)
        if self._buffered >= self._owner.ctx.request_body_buffer and not self._reading_paused:
            self._reading_paused = True
            self._owner.pause_request_body(self)
        self._wake()

    def end_body(self) -> None:
        """The request body is complete."""
        self._body_complete = True
        self._wake()

    def discard_body(self) -> None:
        """The app will never read the rest of the body: drop it as it arrives."""
        self._body_chunks = []
        self._buffered = 0
        self._body_delivered = True
        if self._reading_paused:
            self._reading_paused = False
            self._owner.resume_request_body(self)

    def client_disconnected(self) -> None:
        """The client has gone (or the exchange was cut short by the server)."""
        self.disconnected = True
        self._receive_closed = True
        self._wake()

    def client_done_sending(self) -> None:
        """The client half-closed: ``receive`` reports a disconnect, but ``send`` still works.

        A client that shuts down its side after the request still reads the response; one
        that closed completely is found out at the next write.
        """
        self._receive_closed = True
        self._wake()

    def response_finished_elsewhere(self) -> None:
        """The owner answered for the app (a timeout): refuse anything the app sends now."""
        self._state = _FAILED
        self.disconnected = True
        self._receive_closed = True
        self._wake()


_SEND_RULES: dict[tuple[int, str], Callable[[HTTPStream, Message], None]] = {
    (_IDLE, "http.response.start"): HTTPStream._start,
    (_HEAD, "http.response.body"): HTTPStream._first_body,
    (_BODY, "http.response.body"): HTTPStream._more_body,
    (_TRAILERS, "http.response.trailers"): HTTPStream._send_trailers,
    # Extensions. An early hint after the head has gone can no longer be sent and is
    # dropped; a push is allowed until the response is complete.
    (_IDLE, "http.response.early_hint"): HTTPStream._early_hint,
    (_HEAD, "http.response.early_hint"): HTTPStream._early_hint,
    (_BODY, "http.response.early_hint"): HTTPStream._early_hint,
    (_IDLE, "http.response.push"): HTTPStream._push,
    (_HEAD, "http.response.push"): HTTPStream._push,
    (_BODY, "http.response.push"): HTTPStream._push,
}
