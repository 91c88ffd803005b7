"""HTTP/1.1 request parsing: one interface, two backends, one set of rules.

``HttptoolsParser`` drives llhttp (C) and is the default. ``H11Parser`` is pure Python: h11
checks the grammar of the request line and field lines, and this module frames the body
itself. Both hand every request head to :func:`finish_request_head`, which holds the
semantic rules (RFC 9112 §3, §6; RFC 9110 §7.2, §10.1.1) in one place, so the two backends
reach the same verdict on every input. ``tests/protocol/test_h1_differential.py`` holds
them to that on a corpus of valid, malformed and smuggling-shaped requests.

Where llhttp and h11 disagree, the stricter reading wins, because a server that accepts what
a proxy in front of it reads differently is how request smuggling happens: bare LF, bare CR,
obs-fold, control characters in values, duplicate or list-valued Content-Length, and
Content-Length beside Transfer-Encoding are all rejected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

import h11
import httptools

from .errors import RemoteProtocolError
from .events import END_OF_MESSAGE, Event, ParseFailure, RequestHead

__all__ = [
    "KNOWN_METHODS",
    "H11Parser",
    "HttptoolsParser",
    "ParserLimits",
    "RequestParser",
    "create_parser",
    "finish_request_head",
]


@dataclass(frozen=True, slots=True)
class ParserLimits:
    """How much of a request head a client may make the server hold."""

    #: Request line, without its CRLF (answered with 414).
    max_request_line_size: int = 8192
    #: Sum of the field names and values of the header section (answered with 431).
    max_header_size: int = 32768
    #: Number of field lines in the header section (answered with 431).
    max_header_count: int = 100

    @property
    def max_head_size(self) -> int:
        # Raw bytes a head may occupy before it is complete. Counted per feed rather than per
        # byte, so it bounds memory and the work llhttp bindings do re-joining a field value
        # split across reads; the precise limits are checked on the parsed head.
        return self.max_request_line_size + 2 * self.max_header_size


# The methods llhttp accepts in an HTTP/1.x request line. Both backends accept exactly these,
# so a method llhttp rejects is not smuggled through by h11 (which accepts any token).
KNOWN_METHODS = frozenset(
    b"DELETE GET HEAD POST PUT CONNECT OPTIONS TRACE COPY LOCK MKCOL MOVE PROPFIND "
    b"PROPPATCH SEARCH UNLOCK BIND REBIND UNBIND ACL REPORT MKACTIVITY CHECKOUT MERGE "
    b"M-SEARCH NOTIFY SUBSCRIBE UNSUBSCRIBE PATCH PURGE MKCALENDAR LINK UNLINK SOURCE "
    b"QUERY".split()
)
_METHOD_NAMES = {method: method.decode("ascii") for method in KNOWN_METHODS}
# Every non-empty prefix of a known method, so a partial request line that can no longer
# become one fails at once (TLS sent to a plain port, say) as it does in llhttp.
_METHOD_PREFIXES = frozenset(m[:i] for m in KNOWN_METHODS for i in range(1, len(m) + 1))

# The versions llhttp's request-line grammar admits; of these only 1.0 and 1.1 are served.
_PARSEABLE_VERSIONS = frozenset({"0.9", "1.0", "1.1", "2.0"})

# Names whose values decide framing, persistence or routing; everything else passes through.
_CONTROL_FIELDS = frozenset(
    {b"host", b"content-length", b"transfer-encoding", b"connection", b"expect", b"upgrade"}
)

# RFC 9110 §7.2 / RFC 3986 §3.2.2: uri-host [ ":" port ], where uri-host is an IP-literal or a
# reg-name / IPv4 address. An empty value is allowed (the URI has no authority).
_HOST_RE = re.compile(rb"(?:\[[0-9A-Fa-f:.]+(?:%[\w.~-]+)?\]|[\w!$&'()*+,;=.~%-]*)(?::[0-9]*)?")
_DIGITS_RE = re.compile(rb"[0-9]+")
# Larger than any body this server could receive; also the bound llhttp's 64-bit counter sets.
_MAX_CONTENT_LENGTH = 2**63 - 1


def finish_request_head(
    method: bytes,
    target: bytes,
    http_version: str,
    headers: list[tuple[bytes, bytes]],
    limits: ParserLimits,
) -> RequestHead:
    """Apply the rules every backend shares and build the :class:`RequestHead`.

    ``headers`` must already have lower-cased names and stripped values. Raises
    :class:`RemoteProtocolError` with the status to answer.
    """
    method_name = _METHOD_NAMES.get(method)
    if method_name is None:
        raise RemoteProtocolError("unknown method")
    if http_version not in {"1.1", "1.0"}:
        raise RemoteProtocolError(f"HTTP/{http_version} is not served", 505)
    if len(method) + len(target) + 10 > limits.max_request_line_size:
        raise RemoteProtocolError("request line too long", 414)
    if len(headers) > limits.max_header_count:
        raise RemoteProtocolError("too many header fields", 431)

    size = 0
    host_count = 0
    host = b""
    content_length: bytes | None = None
    transfer_codings: list[bytes] | None = None
    connection_tokens: list[bytes] = []
    expect: bytes | None = None
    upgrade: bytes | None = None
    for name, value in headers:
        size += len(name) + len(value)
        if name in _CONTROL_FIELDS:
            if name == b"host":
                host_count += 1
                host = value
            elif name == b"content-length":
                # RFC 9110 §8.6 lets a recipient merge identical repeats; rejecting them is
                # also allowed and leaves nothing for a proxy to read differently.
                if content_length is not None:
                    raise RemoteProtocolError("duplicate Content-Length")
                content_length = value
            elif name == b"transfer-encoding":
                if transfer_codings is None:
                    transfer_codings = []
                transfer_codings.extend(_split_tokens(value))
            elif name == b"connection":
                connection_tokens.extend(_split_tokens(value))
            elif name == b"expect":
                expect = value
            else:
                upgrade = value
    if size > limits.max_header_size:
        raise RemoteProtocolError("header section too large", 431)

    # RFC 9112 §3.2: exactly one valid Host in HTTP/1.1, at most one in HTTP/1.0.
    if host_count > 1:
        raise RemoteProtocolError("more than one Host header")
    if host_count == 0 and http_version == "1.1":
        raise RemoteProtocolError("missing Host header")
    if host_count and _HOST_RE.fullmatch(host) is None:
        raise RemoteProtocolError("invalid Host header")

    if method_name == "CONNECT":
        # A tunnel needs a proxy; an ASGI app cannot be one (RFC 9110 §9.3.6).
        raise RemoteProtocolError("CONNECT is not supported", 501)
    first = target[:1]
    if first != b"/":
        if target == b"*":
            # RFC 9112 §3.2.4: asterisk-form is only for a server-wide OPTIONS.
            if method_name != "OPTIONS":
                raise RemoteProtocolError("asterisk-form target outside OPTIONS")
        elif not target[:8].lower().startswith((b"http://", b"https://")):
            raise RemoteProtocolError("invalid request target")

    chunked = False
    length = 0
    if transfer_codings is not None:
        # RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means the framing is faulty.
        if http_version == "1.0":
            raise RemoteProtocolError("Transfer-Encoding in an HTTP/1.0 request")
        # RFC 9112 §6.1: both headers is a smuggling shape; answer, then close.
        if content_length is not None:
            raise RemoteProtocolError("both Content-Length and Transfer-Encoding")
        # RFC 9112 §6.3: chunked must be last, or the length cannot be known.
        if not transfer_codings or transfer_codings[-1] != b"chunked":
            raise RemoteProtocolError("chunked is not the final transfer coding")
        if b"chunked" in transfer_codings[:-1]:
            raise RemoteProtocolError("chunked applied more than once")
        if len(transfer_codings) > 1:
            # RFC 9112 §6.1: a coding the server does not implement (gzip, ...).
            raise RemoteProtocolError("unsupported transfer coding", 501)
        chunked = True
    elif content_length is not None:
        if _DIGITS_RE.fullmatch(content_length) is None:
            raise RemoteProtocolError("invalid Content-Length")
        length = int(content_length)
        if length > _MAX_CONTENT_LENGTH:
            raise RemoteProtocolError("Content-Length too large")

    if http_version == "1.1":
        keep_alive = b"close" not in connection_tokens
    else:
        keep_alive = b"keep-alive" in connection_tokens and b"close" not in connection_tokens
    expect_continue = (
        expect is not None and http_version == "1.1" and expect.lower() == b"100-continue"
    )
    if upgrade is not None and b"upgrade" not in connection_tokens:
        upgrade = None
    return RequestHead(
        method_name,
        target,
        http_version,
        headers,
        keep_alive,
        expect_continue,
        chunked,
        length,
        upgrade,
    )


def _split_tokens(value: bytes) -> list[bytes]:
    return [
        token
        for token in value.lower().replace(b"\t", b" ").replace(b" ", b"").split(b",")
        if token
    ]


class RequestParser(Protocol):
    """What the HTTP/1.1 connection needs from a parser backend."""

    def feed(self, data: bytes) -> list[Event]:
        """Parse ``data`` and return the events it completes, in wire order.

        Never raises for malformed input: a :class:`ParseFailure` ends the list instead, and
        the parser returns no further events.
        """
        ...

    @property
    def head_in_progress(self) -> bool:
        """Whether part of a request head has arrived but not all of it."""
        ...

    @property
    def holding(self) -> bool:
        """Whether the parser stopped after an upgrade request and is holding what followed.

        After a request with ``Connection: upgrade`` and no body, what follows may be
        another protocol (the client may not wait for the 101). The parser keeps those
        bytes unparsed until the connection decides: :meth:`take_held` if it switches,
        :meth:`release` if it stays on HTTP/1.1.
        """
        ...

    def take_held(self) -> bytes:
        """The bytes held since the upgrade request; the parser is finished afterwards."""
        ...

    def release(self) -> list[Event]:
        """Parse the held bytes as HTTP/1.1 after all, returning their events."""
        ...


def create_parser(backend: str, limits: ParserLimits) -> RequestParser:
    """A parser for ``backend``: ``"httptools"`` or ``"h11"``."""
    if backend == "httptools":
        return HttptoolsParser(limits)
    if backend == "h11":
        return H11Parser(limits)
    raise ValueError(f"unknown HTTP/1.1 parser {backend!r}")


class HttptoolsParser:
    """llhttp through httptools' callbacks."""

    __slots__ = (
        "_body_bytes",
        "_chunks",
        "_completed",
        "_dead",
        "_events",
        "_framing_bytes",
        "_head_bytes",
        "_headers",
        "_held",
        "_in_body",
        "_in_head",
        "_last_head",
        "_limits",
        "_parser",
        "_skip_end",
        "_suppress_head",
        "_trailer_count",
        "_trailer_size",
        "_url",
    )

    def __init__(self, limits: ParserLimits) -> None:
        self._limits = limits
        self._parser = httptools.HttpRequestParser(self)
        self._events: list[Event] = []
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._in_head = False
        self._head_bytes = 0
        self._in_body = False
        self._framing_bytes = 0
        self._body_bytes = 0
        self._chunks = 0
        self._completed = 0
        self._trailer_count = 0
        self._trailer_size = 0
        self._dead = False
        self._skip_end = False
        self._suppress_head = False
        self._last_head: RequestHead | None = None
        self._held: bytearray | None = None

    def feed(self, data: bytes) -> list[Event]:
        if self._dead:
            return []
        if self._held is not None:
            self._held += data
            return []
        events = self._events = []
        self._feed(data)
        return events

    @property
    def holding(self) -> bool:
        return self._held is not None

    def take_held(self) -> bytes:
        held = bytes(self._held or b"")
        self._held = None
        self._dead = True
        return held

    def release(self) -> list[Event]:
        held = bytes(self._held or b"")
        self._held = None
        return self.feed(held)

    def _feed(self, data: bytes) -> None:
        was_in_head = self._in_head
        was_in_body = self._in_body
        body_before = self._body_bytes
        self._completed = 0
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            self._resume_after_upgrade(data[upgrade.args[0] :])
            return
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, RemoteProtocolError):
                self._fail(cause.status, cause.reason)
            else:  # pragma: no cover - a bug in this module's callbacks
                raise
            return
        except httptools.HttpParserError as exc:
            self._fail(400, str(exc) or type(exc).__name__)
            return
        if self._completed:
            # This read finished a message; what it holds of the next one is at most one
            # read, which bounds it, and its split between the two messages is unknown.
            return
        limits = self._limits
        if self._in_head and (was_in_head or not was_in_body):
            # Every byte of this read belongs to the head in progress (bar leading CRLFs).
            self._head_bytes += len(data)
            line = len(self._parser.get_method()) + len(self._url) + 10
            if line > limits.max_request_line_size and not self._headers:
                self._fail(414, "request line too long")
            elif self._head_bytes > limits.max_head_size:
                self._fail(431, "request head too large")
        elif self._in_body and was_in_body:
            self._framing_bytes += len(data) - (self._body_bytes - body_before)
            if self._framing_bytes > _framing_allowance(limits, self._chunks):
                self._fail(400, "chunk framing too large")

    def _fail(self, status: int, reason: str) -> None:
        self._events.append(ParseFailure(status, reason))
        self._dead = True

    @property
    def head_in_progress(self) -> bool:
        return self._in_head and not self._dead

    # httptools callbacks ------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._in_head = True
        self._head_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._in_body:
            # A trailer field (RFC 9112 §7.1.2): counted against the limits, then dropped,
            # because ASGI has no request trailers.
            self._trailer_count += 1
            self._trailer_size += len(name) + len(value)
            limits = self._limits
            if (
                self._trailer_count > limits.max_header_count
                or self._trailer_size > limits.max_header_size
            ):
                raise RemoteProtocolError("trailer section too large", 431)
            return
        # llhttp strips leading whitespace from values but keeps trailing whitespace.
        self._headers.append((name.lower(), value.rstrip(b" \t")))

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._in_body = True
        self._framing_bytes = 0
        self._body_bytes = 0
        self._chunks = 0
        self._trailer_count = 0
        self._trailer_size = 0
        if self._suppress_head:
            self._suppress_head = False
            return
        parser = self._parser
        head = finish_request_head(
            parser.get_method(), self._url, parser.get_http_version(), self._headers, self._limits
        )
        self._events.append(head)
        self._last_head = head
        if parser.should_upgrade() and (head.chunked or head.content_length):
            # httptools tells llhttp that an upgrade request has no body; the body is framed
            # by a fresh parser in _resume_after_upgrade instead.
            self._skip_end = True

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        self._events.append(body)

    def on_chunk_header(self) -> None:
        self._chunks += 1

    def on_message_complete(self) -> None:
        self._in_body = False
        self._completed += 1
        if self._skip_end:
            self._skip_end = False
        else:
            self._events.append(END_OF_MESSAGE)

    def _resume_after_upgrade(self, rest: bytes) -> None:
        """Continue after a request llhttp treated as a protocol switch.

        Switching protocols is the connection's decision, made later; until it is made, the
        request is an ordinary one. If it has a body, llhttp was told to skip it, so a fresh
        parser is primed with a synthetic head carrying the same framing and reads the body
        (and whatever follows) from ``rest``.
        """
        head = self._last_head
        self._parser = httptools.HttpRequestParser(self)
        if head is not None and head.upgrade is not None and not head.has_body:
            self._held = bytearray(rest)
            return
        if head is not None and (head.chunked or head.content_length):
            if head.chunked:
                framing = b"Transfer-Encoding: chunked"
            else:
                framing = b"Content-Length: %d" % head.content_length
            self._suppress_head = True
            self._parser.feed_data(b"PUT / HTTP/1.1\r\nHost: x\r\n" + framing + b"\r\n\r\n")
        if rest:
            self._feed(rest)


def _framing_allowance(limits: ParserLimits, chunks: int) -> int:
    # Bytes of chunked framing (size lines, extensions, CRLFs, trailers) tolerated beside the
    # body data: a trailer section's worth plus 64 per chunk. No honest client comes near it,
    # and it stops a stream of chunk extensions that carries no data (the shape of Node.js
    # CVE-2024-22019), which llhttp would otherwise skip through for ever.
    return limits.max_header_size + 64 * chunks


# --- the pure-Python backend --------------------------------------------------------------

(
    _HEAD,
    _BODY_LENGTH,
    _CHUNK_SIZE,
    _CHUNK_DATA,
    _CHUNK_DATA_END,
    _TRAILERS,
    _CLOSED,
    _DEAD,
    _HELD,
) = range(9)

# Control characters other than HTAB, CR and LF (RFC 9110 §5.5 allows none of them in a field
# value; RFC 9112 §3 none in a request line). CR and LF are checked separately.
_CTL_RE = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# RFC 9112 §7.1: chunk-size [ chunk-ext ], where chunk-ext = *( ";" name [ "=" value ] ), with
# token names and token or quoted-string values; llhttp rejects whitespace around them.
_TOKEN = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+"
_QUOTED = rb'"(?:[^"\\\x00-\x08\x0a-\x1f\x7f]|\\.)*"'
# llhttp also accepts an empty extension name (";=v"); extensions are ignored either way.
_CHUNK_LINE_RE = re.compile(
    rb"([0-9A-Fa-f]+)((?:;(?:" + _TOKEN + rb")?(?:=(?:" + _TOKEN + rb"|" + _QUOTED + rb"))?)*)"
)
_TARGET_RE = re.compile(rb"[\x21-\x7e]+")
_TRAILER_LINE_RE = re.compile(_TOKEN + rb":[ \t]*[^\x00-\x08\x0a-\x1f\x7f]*")
_MAX_CHUNK_SIZE = 2**64 - 1  # llhttp's counter is 64 bits; larger sizes overflow there


class H11Parser:
    """h11 for the request line and field-line grammar; framing done here.

    h11 is given each complete head on a fresh ``h11.Connection`` (creating one costs under
    a microsecond) with the framing fields removed, because this module, not h11, decides
    framing, and h11 normalises away the duplicates it must see. Body framing (Content-Length
    and chunked) is decoded below, as strictly as llhttp does it.
    """

    __slots__ = (
        "_buffer",
        "_chunks",
        "_framing_bytes",
        "_hold_after",
        "_keep_alive",
        "_limits",
        "_remaining",
        "_state",
        "_trailer_count",
        "_trailer_size",
    )

    def __init__(self, limits: ParserLimits) -> None:
        self._limits = limits
        self._buffer = bytearray()
        self._state = _HEAD
        self._keep_alive = True
        self._remaining = 0
        self._chunks = 0
        self._framing_bytes = 0
        self._trailer_count = 0
        self._trailer_size = 0
        self._hold_after = False

    def feed(self, data: bytes) -> list[Event]:
        if self._state == _DEAD:
            return []
        self._buffer += data
        if self._state == _HELD:
            return []
        events: list[Event] = []
        try:
            self._parse(events)
        except RemoteProtocolError as exc:
            events.append(ParseFailure(exc.status, exc.reason))
            self._state = _DEAD
            self._buffer.clear()
        return events

    @property
    def head_in_progress(self) -> bool:
        return self._state == _HEAD and bool(self._buffer)

    @property
    def holding(self) -> bool:
        return self._state == _HELD

    def take_held(self) -> bytes:
        held = bytes(self._buffer)
        self._buffer.clear()
        self._state = _DEAD
        return held

    def release(self) -> list[Event]:
        self._state = _HEAD if self._keep_alive else _CLOSED
        return self.feed(b"")

    def _parse(self, events: list[Event]) -> None:
        buffer = self._buffer
        while True:
            state = self._state
            if state == _HELD:
                return
            if state == _CLOSED:
                # As llhttp: after a message that ends the connection, only stray line
                # breaks may follow.
                if buffer.strip(b"\r\n"):
                    raise RemoteProtocolError("data after Connection: close")
                buffer.clear()
                return
            if state == _HEAD:
                # RFC 9112 §2.2: ignore empty lines before a request line (llhttp skips any
                # run of CR and LF here, so this does too).
                start = 0
                while start < len(buffer) and buffer[start] in b"\r\n":
                    start += 1
                if start:
                    del buffer[:start]
                if not buffer:
                    return
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    self._check_partial_head()
                    return
                head = bytes(buffer[: end + 2])
                del buffer[: end + 4]
                request = self._parse_head(head)
                events.append(request)
                self._keep_alive = request.keep_alive
                self._hold_after = request.upgrade is not None and not request.has_body
                self._framing_bytes = 0
                if request.chunked:
                    self._state = _CHUNK_SIZE
                    self._chunks = 0
                    self._trailer_count = 0
                    self._trailer_size = 0
                elif request.content_length:
                    self._state = _BODY_LENGTH
                    self._remaining = request.content_length
                else:
                    self._end_message(events)
            elif state == _BODY_LENGTH:
                if not buffer:
                    return
                take = min(self._remaining, len(buffer))
                events.append(bytes(buffer[:take]))
                del buffer[:take]
                self._remaining -= take
                if self._remaining == 0:
                    self._end_message(events)
            elif state == _CHUNK_DATA:
                if not buffer:
                    return
                take = min(self._remaining, len(buffer))
                events.append(bytes(buffer[:take]))
                del buffer[:take]
                self._remaining -= take
                if self._remaining == 0:
                    self._state = _CHUNK_DATA_END
            else:
                line_end = buffer.find(b"\r\n")
                if line_end < 0:
                    self._check_partial_framing()
                    return
                line = bytes(buffer[:line_end])
                del buffer[: line_end + 2]
                self._framing_line(line, events)

    def _end_message(self, events: list[Event]) -> None:
        events.append(END_OF_MESSAGE)
        if self._hold_after:
            self._state = _HELD
            return
        self._state = _HEAD if self._keep_alive else _CLOSED

    def _check_partial_head(self) -> None:
        buffer = self._buffer
        # A lone LF, or a CR followed by anything but LF, can never start a valid head;
        # llhttp fails on them at once, so this does not wait for more data either.
        if buffer.count(b"\n") != buffer.count(b"\r\n"):
            raise RemoteProtocolError("bare LF in request head")
        if buffer.count(b"\r") - buffer.endswith(b"\r") != buffer.count(b"\r\n"):
            raise RemoteProtocolError("bare CR in request head")
        space = buffer.find(b" ", 0, 16)
        method = bytes(buffer[:space] if space >= 0 else buffer[:16])
        if (method not in KNOWN_METHODS) if space >= 0 else (method not in _METHOD_PREFIXES):
            raise RemoteProtocolError("unknown method")
        limits = self._limits
        if b"\r\n" not in buffer:
            # The same measure as the llhttp backend's: method, target and " HTTP/1.1".
            if len(buffer) + 9 > limits.max_request_line_size:
                raise RemoteProtocolError("request line too long", 414)
        elif len(buffer) > limits.max_head_size:
            raise RemoteProtocolError("request head too large", 431)

    def _parse_head(self, head: bytes) -> RequestHead:
        # ``head`` ends with the CRLF of its last line; the blank line is already removed.
        if head.count(b"\n") != head.count(b"\r\n") or head.count(b"\r") != head.count(b"\r\n"):
            raise RemoteProtocolError("bare CR or LF in request head")
        if _CTL_RE.search(head) is not None:
            raise RemoteProtocolError("control character in request head")
        lines = head[:-2].split(b"\r\n")
        # llhttp accepts runs of spaces between the request-line parts (RFC 9112 §3 lets a
        # recipient split on whitespace), but not before the method or after the version.
        parts = lines[0].split(b" ")
        if len(parts) > 3 and parts[0] and parts[-1]:
            parts = [part for part in parts if part]
        if (
            len(parts) == 2
            and parts[0] in KNOWN_METHODS
            and parts[1][:1] == b"/"
            and _TARGET_RE.fullmatch(parts[1])
        ):
            raise RemoteProtocolError("HTTP/0.9 is not served", 505)  # "GET /" and no version
        request_line = b" ".join(parts)
        headers: list[tuple[bytes, bytes]] = []
        grammar_lines = [request_line]
        has_host = False
        for line in lines[1:]:
            if line[:1] in (b" ", b"\t"):
                # RFC 9112 §5.2: obs-fold may be rejected; a proxy may unfold it differently.
                raise RemoteProtocolError("obsolete line folding")
            name, colon, value = line.partition(b":")
            if not colon:
                raise RemoteProtocolError("field line without a colon")
            lower = name.lower()
            headers.append((lower, value.strip(b" \t")))
            if lower == b"host":
                has_host = True
            if lower not in {b"content-length", b"transfer-encoding"}:
                grammar_lines.append(line)
        if not has_host:
            # h11 insists on Host in HTTP/1.1 before the version is judged; the shared rules
            # judge the version first, so h11 is given a stand-in and Host is checked there.
            grammar_lines.append(b"Host: x")
        grammar_lines.append(b"\r\n")
        connection = h11.Connection(h11.SERVER, max_incomplete_event_size=len(head) + 64)
        connection.receive_data(b"\r\n".join(grammar_lines))
        try:
            request = connection.next_event()
        except h11.RemoteProtocolError as exc:
            raise RemoteProtocolError(str(exc)) from None
        if not isinstance(request, h11.Request):  # pragma: no cover - a complete head
            raise RemoteProtocolError("incomplete request head")
        version = request.http_version.decode("ascii")
        if version not in _PARSEABLE_VERSIONS:
            raise RemoteProtocolError(f"invalid HTTP version {version}")
        return finish_request_head(request.method, request.target, version, headers, self._limits)

    def _framing_line(self, line: bytes, events: list[Event]) -> None:
        self._framing_bytes += len(line) + 2
        state = self._state
        if state == _CHUNK_DATA_END:
            if line:
                raise RemoteProtocolError("missing CRLF after chunk data")
            self._state = _CHUNK_SIZE
        elif state == _CHUNK_SIZE:
            match = _CHUNK_LINE_RE.fullmatch(line)
            if match is None:
                raise RemoteProtocolError("invalid chunk size line")
            size = int(match[1], 16)
            if size > _MAX_CHUNK_SIZE:
                raise RemoteProtocolError("chunk size overflow")
            self._chunks += 1
            if size:
                self._remaining = size
                self._state = _CHUNK_DATA
            else:
                self._state = _TRAILERS
        else:  # _TRAILERS
            if not line:
                self._end_message(events)
                return
            if _TRAILER_LINE_RE.fullmatch(line) is None:
                raise RemoteProtocolError("invalid trailer field")
            self._trailer_count += 1
            name, _, value = line.partition(b":")
            self._trailer_size += len(name) + len(value.strip(b" \t"))
            limits = self._limits
            if (
                self._trailer_count > limits.max_header_count
                or self._trailer_size > limits.max_header_size
            ):
                raise RemoteProtocolError("trailer section too large", 431)

    def _check_partial_framing(self) -> None:
        buffer = self._buffer
        if b"\n" in buffer:
            raise RemoteProtocolError("bare LF in chunked framing")
        if self._state == _CHUNK_DATA_END and buffer and buffer != b"\r":
            raise RemoteProtocolError("missing CRLF after chunk data")
        if self._framing_bytes + len(buffer) > _framing_allowance(self._limits, self._chunks):
            raise RemoteProtocolError("chunk framing too large")
