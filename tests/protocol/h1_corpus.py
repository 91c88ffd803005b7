"""Requests both HTTP/1.1 parser backends must agree on, with the verdict each must reach.

Each case is ``(name, raw bytes, expected)``: ``expected`` is the number of complete requests
the input holds when it is valid, or the error status (400, 414, 431, 501, 505) when it is
not. ``CASES`` is the hand-written corpus (valid requests, malformed ones and the classic
request-smuggling shapes); ``generated_cases()`` adds one case per byte value in a header
name, a header value and a request target, where the two libraries' character tables could
drift apart.
"""

from __future__ import annotations

from hypercorn.protocol.h1_parse import KNOWN_METHODS

H = b"Host: example.com\r\n"

Case = tuple[str, bytes, int]


def get(target: bytes = b"/", extra: bytes = b"", version: bytes = b"1.1") -> bytes:
    host = H if version == b"1.1" else b""
    return b"GET " + target + b" HTTP/" + version + b"\r\n" + host + extra + b"\r\n"


def post(framing: bytes, body: bytes) -> bytes:
    return b"POST /submit HTTP/1.1\r\n" + H + framing + b"\r\n" + body


CHUNKED = b"Transfer-Encoding: chunked\r\n"

CASES: list[Case] = [
    # --- valid requests -------------------------------------------------------------------
    ("simple GET", get(), 1),
    ("query string", get(b"/search?q=a+b&x=%20"), 1),
    ("deep path", get(b"/a/b/c/d.html"), 1),
    ("double slash path", get(b"//x//y"), 1),
    ("percent-encoded path", get(b"/caf%C3%A9"), 1),
    ("percent-encoded NUL is just text", get(b"/%00"), 1),
    ("reserved characters", get(b"/a;b,c=d:e@f!$&'()*+"), 1),
    ("unusual but allowed target characters", get(b"/a|b{c}^d`e"), 1),
    ("fragment in the target", get(b"/a#frag"), 1),
    ("absolute-form http", get(b"http://example.com/a?b"), 1),
    ("absolute-form https", get(b"https://example.com:8443/"), 1),
    ("absolute-form upper-case scheme", get(b"HTTP://example.com/"), 1),
    ("absolute-form with empty path", get(b"http://example.com"), 1),
    ("OPTIONS asterisk-form", b"OPTIONS * HTTP/1.1\r\n" + H + b"\r\n", 1),
    ("HTTP/1.0 without Host", get(version=b"1.0"), 1),
    ("HTTP/1.0 with Host", get(extra=H, version=b"1.0"), 1),
    ("HTTP/1.0 keep-alive", get(extra=b"Connection: keep-alive\r\n", version=b"1.0"), 1),
    ("many headers", get(extra=b"".join(b"X-H%d: v%d\r\n" % (i, i) for i in range(50))), 1),
    (
        "exactly the header count limit",
        get(extra=b"".join(b"X-%d: v\r\n" % i for i in range(99))),
        1,
    ),
    ("empty header value", get(extra=b"X-Empty:\r\n"), 1),
    ("header value of spaces", get(extra=b"X-Spaces:    \r\n"), 1),
    ("no space after colon", get(extra=b"X-Tight:value\r\n"), 1),
    ("whitespace around value", get(extra=b"X-Padded: \t value \t\r\n"), 1),
    ("tab inside value", get(extra=b"X-Tab: a\tb\r\n"), 1),
    ("obs-text in value", get(extra=b"X-Latin: caf\xe9\r\n"), 1),
    ("UTF-8 in value", get(extra=b"X-Utf8: caf\xc3\xa9\r\n"), 1),
    ("mixed-case header names", get(extra=b"X-MiXeD-CaSe: 1\r\ncontent-TYPE: text/plain\r\n"), 1),
    ("token punctuation in a name", get(extra=b"X!#$%&'*+-.^_`|~: 1\r\n"), 1),
    ("repeated ordinary header", get(extra=b"Accept: a\r\nAccept: b\r\n"), 1),
    ("Connection: close", get(extra=b"Connection: close\r\n"), 1),
    ("Connection list with close", get(extra=b"Connection: foo, close\r\n"), 1),
    ("Connection: Keep-Alive on 1.1", get(extra=b"Connection: Keep-Alive\r\n"), 1),
    ("Upgrade without Connection: upgrade", get(extra=b"Upgrade: websocket\r\n"), 1),
    ("Upgrade with Connection: upgrade", get(extra=b"Connection: Upgrade\r\nUpgrade: foo\r\n"), 1),
    (
        "Upgrade request with a body",
        post(b"Connection: upgrade\r\nUpgrade: h2c\r\nContent-Length: 3\r\n", b"abc"),
        1,
    ),
    (
        "Upgrade request with a chunked body, then another request",
        post(b"Connection: upgrade\r\nUpgrade: foo\r\n" + CHUNKED, b"3\r\nabc\r\n0\r\n\r\n")
        + get(),
        2,
    ),
    ("Expect: 100-continue", post(b"Expect: 100-continue\r\nContent-Length: 2\r\n", b"ok"), 1),
    (
        "Expect: 100-continue on 1.0 is ignored",
        b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
        1,
    ),
    ("unknown expectation", post(b"Expect: teapot\r\nContent-Length: 0\r\n", b""), 1),
    ("leading CRLF before the request line", b"\r\n" + get(), 1),
    ("several leading empty lines", b"\r\n\r\n\n" + get(), 1),
    ("Host with port", b"GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", 1),
    ("Host IPv6 literal", b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", 1),
    ("Host IPv4", b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 1),
    ("empty Host", b"GET / HTTP/1.1\r\nHost:\r\n\r\n", 1),
    ("Content-Length: 0", post(b"Content-Length: 0\r\n", b""), 1),
    ("Content-Length body", post(b"Content-Length: 11\r\n", b"hello world"), 1),
    ("Content-Length with leading zeros", post(b"Content-Length: 007\r\n", b"1234567"), 1),
    ("Content-Length with padding", post(b"Content-Length:  3 \r\n", b"abc"), 1),
    ("GET with a body", get(extra=b"Content-Length: 4\r\n") + b"body", 1),
    ("binary body", post(b"Content-Length: 256\r\n", bytes(range(256))), 1),
    ("chunked body", post(CHUNKED, b"5\r\nhello\r\n0\r\n\r\n"), 1),
    ("chunked, several chunks", post(CHUNKED, b"1\r\na\r\n2\r\nbc\r\n3\r\ndef\r\n0\r\n\r\n"), 1),
    ("chunked, upper-case hex", post(CHUNKED, b"A\r\n0123456789\r\n0\r\n\r\n"), 1),
    ("chunked, lower-case hex", post(CHUNKED, b"a\r\n0123456789\r\n0\r\n\r\n"), 1),
    ("chunked, size with leading zeros", post(CHUNKED, b"0005\r\nhello\r\n0\r\n\r\n"), 1),
    ("chunked, last chunk of zeros", post(CHUNKED, b"5\r\nhello\r\n000\r\n\r\n"), 1),
    ("chunked, extension", post(CHUNKED, b"5;name=value\r\nhello\r\n0\r\n\r\n"), 1),
    ("chunked, bare extension", post(CHUNKED, b"5;flag\r\nhello\r\n0;last\r\n\r\n"), 1),
    ("chunked, quoted extension", post(CHUNKED, b'5;n="a b;c"\r\nhello\r\n0\r\n\r\n'), 1),
    ("chunked, several extensions", post(CHUNKED, b"5;a=1;b=2\r\nhello\r\n0\r\n\r\n"), 1),
    ("chunked, trailers", post(CHUNKED, b"5\r\nhello\r\n0\r\nX-T: 1\r\nX-U: 2\r\n\r\n"), 1),
    ("chunked, empty body", post(CHUNKED, b"0\r\n\r\n"), 1),
    (
        "Transfer-Encoding case-insensitive",
        post(b"Transfer-Encoding: Chunked\r\n", b"0\r\n\r\n"),
        1,
    ),
    (
        "Transfer-Encoding with trailing space",
        post(b"Transfer-Encoding: chunked \r\n", b"0\r\n\r\n"),
        1,
    ),
    ("two pipelined GETs", get(b"/1") + get(b"/2"), 2),
    ("three pipelined mixed", get(b"/1") + post(b"Content-Length: 3\r\n", b"abc") + get(b"/3"), 3),
    ("pipelined after chunked", post(CHUNKED, b"3\r\nabc\r\n0\r\n\r\n") + get(), 2),
    # Nothing may follow a request that ends the connection (llhttp enforces it; the
    # connection would never read it anyway), except stray line breaks.
    ("Connection: close then another request", get(extra=b"Connection: close\r\n") + get(), 400),
    ("Connection: close then CRLF", get(extra=b"Connection: close\r\n") + b"\r\n", 1),
    ("HTTP/1.0 then another request", get(version=b"1.0") + get(version=b"1.0"), 400),
    (
        "HTTP/1.0 keep-alive then another",
        get(extra=b"Connection: keep-alive\r\n", version=b"1.0") + get(version=b"1.0"),
        2,
    ),
    ("long but allowed target", get(b"/" + b"a" * 8000), 1),
    ("large but allowed header", get(extra=b"X-Big: " + b"v" * 32000 + b"\r\n"), 1),
    ("PURGE method", b"PURGE / HTTP/1.1\r\n" + H + b"\r\n", 1),
    ("QUERY method", b"QUERY / HTTP/1.1\r\n" + H + b"Content-Length: 0\r\n\r\n", 1),
    ("M-SEARCH method", b"M-SEARCH * HTTP/1.1\r\n" + H + b"\r\n", 400),
    # --- request smuggling shapes ---------------------------------------------------------
    ("CL then TE", post(b"Content-Length: 4\r\n" + CHUNKED, b"0\r\n\r\n"), 400),
    ("TE then CL", post(CHUNKED + b"Content-Length: 4\r\n", b"0\r\n\r\n"), 400),
    ("CL 0 with TE", post(b"Content-Length: 0\r\n" + CHUNKED, b"0\r\n\r\n"), 400),
    ("duplicate identical CL", post(b"Content-Length: 3\r\nContent-Length: 3\r\n", b"abc"), 400),
    ("conflicting CL", post(b"Content-Length: 3\r\nContent-Length: 4\r\n", b"abcd"), 400),
    ("CL list of identical values", post(b"Content-Length: 3, 3\r\n", b"abc"), 400),
    ("CL list of different values", post(b"Content-Length: 3, 4\r\n", b"abcd"), 400),
    ("negative CL", post(b"Content-Length: -1\r\n", b""), 400),
    ("CL with plus sign", post(b"Content-Length: +3\r\n", b"abc"), 400),
    ("hex CL", post(b"Content-Length: 0x3\r\n", b"abc"), 400),
    ("CL with inner space", post(b"Content-Length: 1 2\r\n", b"a" * 12), 400),
    ("CL with letters", post(b"Content-Length: 3a\r\n", b"abc"), 400),
    ("empty CL", post(b"Content-Length:\r\n", b""), 400),
    ("CL past 2^63", post(b"Content-Length: 9223372036854775808\r\n", b""), 400),
    ("CL past 2^64", post(b"Content-Length: 18446744073709551616\r\n", b""), 400),
    ("TE gzip, chunked", post(b"Transfer-Encoding: gzip, chunked\r\n", b"0\r\n\r\n"), 501),
    ("TE chunked, gzip", post(b"Transfer-Encoding: chunked, gzip\r\n", b"0\r\n\r\n"), 400),
    ("TE identity", post(b"Transfer-Encoding: identity\r\n", b""), 400),
    ("TE gzip alone", post(b"Transfer-Encoding: gzip\r\n", b""), 400),
    (
        "TE chunked twice in a list",
        post(b"Transfer-Encoding: chunked, chunked\r\n", b"0\r\n\r\n"),
        400,
    ),
    ("TE chunked in two headers", post(CHUNKED + CHUNKED, b"0\r\n\r\n"), 400),
    ("TE xchunked", post(b"Transfer-Encoding: xchunked\r\n", b"0\r\n\r\n"), 400),
    ("TE chunkedx", post(b"Transfer-Encoding: chunkedx\r\n", b"0\r\n\r\n"), 400),
    (
        "TE with a space before the colon",
        post(b"Transfer-Encoding : chunked\r\n", b"0\r\n\r\n"),
        400,
    ),
    (
        "TE as an obs-fold continuation",
        post(b"X: a\r\n Transfer-Encoding: chunked\r\n", b"0\r\n\r\n"),
        400,
    ),
    ("TE in HTTP/1.0", b"POST / HTTP/1.0\r\n" + CHUNKED + b"\r\n0\r\n\r\n", 400),
    ("TE with a vertical tab", post(b"Transfer-Encoding:\x0bchunked\r\n", b"0\r\n\r\n"), 400),
    ("empty TE", post(b"Transfer-Encoding:\r\n", b""), 400),
    ("chunk data without its CRLF", post(CHUNKED, b"3\r\nabcX\r\n0\r\n\r\n"), 400),
    ("chunk data with only LF after", post(CHUNKED, b"3\r\nabc\n0\r\n\r\n"), 400),
    ("chunk size with bare LF", post(CHUNKED, b"3\nabc\r\n0\r\n\r\n"), 400),
    ("chunk size not hex", post(CHUNKED, b"g\r\nabc\r\n0\r\n\r\n"), 400),
    ("chunk size 0x prefix", post(CHUNKED, b"0x3\r\nabc\r\n0\r\n\r\n"), 400),
    ("chunk size with trailing space", post(CHUNKED, b"3 \r\nabc\r\n0\r\n\r\n"), 400),
    ("chunk size with leading space", post(CHUNKED, b" 3\r\nabc\r\n0\r\n\r\n"), 400),
    ("negative chunk size", post(CHUNKED, b"-3\r\nabc\r\n0\r\n\r\n"), 400),
    ("chunk size overflow", post(CHUNKED, b"FFFFFFFFFFFFFFFFF\r\n"), 400),
    ("empty chunk size", post(CHUNKED, b"\r\nabc\r\n0\r\n\r\n"), 400),
    ("chunk extension with a space", post(CHUNKED, b"3; a=b\r\nabc\r\n0\r\n\r\n"), 400),
    # llhttp accepts an empty extension name; extensions are ignored, so no harm.
    ("chunk extension without a name", post(CHUNKED, b"3;=b\r\nabc\r\n0\r\n\r\n"), 1),
    ("chunk extension with a control byte", post(CHUNKED, b"3;a=\x01\r\nabc\r\n0\r\n\r\n"), 400),
    ("trailer without a colon", post(CHUNKED, b"0\r\nbad trailer\r\n\r\n"), 400),
    ("trailer with a space before the colon", post(CHUNKED, b"0\r\nX-T : 1\r\n\r\n"), 400),
    # --- malformed heads ------------------------------------------------------------------
    ("bare LF line endings", b"GET / HTTP/1.1\nHost: example.com\n\n", 400),
    ("bare LF after the request line", b"GET / HTTP/1.1\nHost: example.com\r\n\r\n", 400),
    ("bare LF after a header", b"GET / HTTP/1.1\r\nHost: example.com\n\r\n", 400),
    ("bare LF inside a value", get(extra=b"X: a\nb\r\n"), 400),
    ("bare CR inside a value", get(extra=b"X: a\rb\r\n"), 400),
    ("bare CR line endings", b"GET / HTTP/1.1\rHost: example.com\r\r", 400),
    ("CR CR LF", b"GET / HTTP/1.1\r\r\nHost: example.com\r\n\r\n", 400),
    ("obs-fold with a space", get(extra=b"X-Folded: a\r\n b\r\n"), 400),
    ("obs-fold with a tab", get(extra=b"X-Folded: a\r\n\tb\r\n"), 400),
    ("obs-fold on the first field", b"GET / HTTP/1.1\r\n X: a\r\n" + H + b"\r\n", 400),
    ("NUL in a value", get(extra=b"X: a\x00b\r\n"), 400),
    ("NUL in a name", get(extra=b"X\x00: a\r\n"), 400),
    ("space in a name", get(extra=b"X Y: a\r\n"), 400),
    ("space before the colon", get(extra=b"X : a\r\n"), 400),
    ("tab before the colon", get(extra=b"X\t: a\r\n"), 400),
    ("empty name", get(extra=b": a\r\n"), 400),
    ("no colon", get(extra=b"NoColon\r\n"), 400),
    ("non-ASCII name", get(extra=b"X-\xc3\xa9: a\r\n"), 400),
    ("DEL in a value", get(extra=b"X: a\x7fb\r\n"), 400),
    ("escape in a value", get(extra=b"X: a\x1bb\r\n"), 400),
    ("lower-case method", b"get / HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("unknown method", b"BREW / HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("method with a trailing dash", b"GET- / HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("RTSP method", b"DESCRIBE / HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400),
    (
        "TLS ClientHello on a plain port",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 32,
        400,
    ),
    ("no version: an HTTP/0.9 request", b"GET /\r\n" + H + b"\r\n", 505),
    ("missing target", b"GET HTTP/1.1\r\n" + H + b"\r\n", 400),
    # RFC 9112 §3 lets a recipient split the request line on runs of whitespace.
    ("two spaces before the target", b"GET  / HTTP/1.1\r\n" + H + b"\r\n", 1),
    ("two spaces before the version", b"GET /  HTTP/1.1\r\n" + H + b"\r\n", 1),
    ("space before the method", b" GET / HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("tab as a separator", b"GET\t/ HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("trailing space after the version", b"GET / HTTP/1.1 \r\n" + H + b"\r\n", 400),
    ("space inside the target", get(b"/a b"), 400),
    ("tab inside the target", get(b"/a\tb"), 400),
    ("control byte in the target", get(b"/a\x01b"), 400),
    ("DEL in the target", get(b"/a\x7f"), 400),
    ("non-ASCII target", get(b"/caf\xc3\xa9"), 400),
    ("relative target", get(b"a/b"), 400),
    ("ftp absolute-form", get(b"ftp://example.com/"), 400),
    ("authority-form outside CONNECT", get(b"example.com:80"), 400),
    ("asterisk-form outside OPTIONS", get(b"*"), 400),
    ("lower-case http version", b"GET / http/1.1\r\n" + H + b"\r\n", 400),
    ("HTTP/1 without minor", b"GET / HTTP/1\r\n" + H + b"\r\n", 400),
    ("HTTP/1.2", get(version=b"1.2"), 400),
    ("HTTP/3.0", get(version=b"3.0"), 400),
    ("HTTP/1.10", get(version=b"1.10"), 400),
    ("HTTP/2.0 is parsed but not served", b"GET / HTTP/2.0\r\n" + H + b"\r\n", 505),
    ("HTTP/0.9 is parsed but not served", b"GET / HTTP/0.9\r\n\r\n", 505),
    ("CONNECT", b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 501),
    ("missing Host in 1.1", b"GET / HTTP/1.1\r\n\r\n", 400),
    ("two Hosts", get(extra=b"Host: other.com\r\n"), 400),
    ("Host with a space", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
    ("Host with a path", b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
    ("Host with an open bracket", b"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400),
    ("Host with userinfo", b"GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", 400),
    ("Host with a bad port", b"GET / HTTP/1.1\r\nHost: a:b\r\n\r\n", 400),
    # --- limits ---------------------------------------------------------------------------
    ("request line too long", get(b"/" + b"a" * 8200), 414),
    ("header section too large", get(extra=b"X-Big: " + b"v" * 33000 + b"\r\n"), 431),
    (
        "header section too large in small fields",
        get(extra=b"".join(b"X-%02d: " % i + b"v" * 400 + b"\r\n" for i in range(90))),
        431,
    ),
    ("too many header fields", get(extra=b"".join(b"X-%d: v\r\n" % i for i in range(101))), 431),
    (
        "too many trailer fields",
        post(CHUNKED, b"0\r\n" + b"".join(b"T-%d: v\r\n" % i for i in range(101)) + b"\r\n"),
        431,
    ),
    # --- a valid request followed by a malformed one --------------------------------------
    ("good then garbage", get() + b"garbage\r\n\r\n", 400),
    ("good then CL+TE", get() + post(b"Content-Length: 4\r\n" + CHUNKED, b"0\r\n\r\n"), 400),
]

METHOD_CASES: list[Case] = [
    (
        f"method {method.decode()}",
        method + (b" * " if method == b"OPTIONS" else b" / ") + b"HTTP/1.1\r\n" + H + b"\r\n",
        501 if method == b"CONNECT" else 1,
    )
    for method in sorted(KNOWN_METHODS)
]


def _verdict(byte: int, valid: bytes) -> int:
    return 1 if byte in valid else 400


_TCHAR = b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def generated_cases() -> list[Case]:
    """One case per byte value in a field name, a field value and a request target.

    The expected verdict is written from the RFCs, not from either library: a name is a
    token; a value may hold HTAB, SP, VCHAR and obs-text; a target is visible ASCII.
    """
    cases: list[Case] = []
    value_ok = bytes([0x09, 0x20, *range(0x21, 0x7F), *range(0x80, 0x100)])
    target_ok = bytes(range(0x21, 0x7F))
    for byte in range(256):
        char = bytes([byte])
        # A colon ends the name early ("X:Y: v" is X with the value "Y: v").
        name_verdict = 1 if byte == ord(":") else _verdict(byte, _TCHAR)
        cases.append(
            (f"name byte {byte:#04x}", get(extra=b"X" + char + b"Y: v\r\n"), name_verdict)
        )
        # CR and LF end the line early, which is its own kind of malformed; the verdict is
        # the same, so they stay in the table.
        cases.append(
            (
                f"value byte {byte:#04x}",
                get(extra=b"X: a" + char + b"b\r\n"),
                _verdict(byte, value_ok),
            )
        )
        if byte == ord("#"):
            continue  # starts a fragment, covered above
        cases.append(
            (f"target byte {byte:#04x}", get(b"/a" + char + b"b"), _verdict(byte, target_ok))
        )
    return cases


ALL_CASES: list[Case] = CASES + METHOD_CASES + generated_cases()
