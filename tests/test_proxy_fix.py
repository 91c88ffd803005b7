"""ProxyFixMiddleware: a table of forwarding headers in, scope client/scheme/host out.

The trusted proxies here are 127.0.0.1, 10.0.0.0/8 and 2001:db8::/32; the request arrives
from 127.0.0.1 unless a case says otherwise. 203.0.113.7 is the real client; 6.6.6.6 is
what a client writes into the headers to pass for someone else, and must never come out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import MutableMapping
from typing import Any

import pytest

from hypercorn.cli import parse
from hypercorn.config import Config, ConfigError
from hypercorn.middleware import ProxyFixMiddleware
from hypercorn.middleware.proxy_fix import ForwardedInfo, TrustedHosts, read_forwarded

TRUSTED = ["127.0.0.1", "10.0.0.0/8", "2001:db8::/32"]
PEER = ("127.0.0.1", 5000)
KEEP = "keep"  # the scope's value is left as it was
Headers = list[tuple[bytes, bytes]]


def h(*pairs: str) -> Headers:
    """Headers from "name: value" strings (lowercase names, as ASGI has them)."""
    found = []
    for pair in pairs:
        name, _, value = pair.partition(": ")
        found.append((name.lower().encode(), value.encode("latin-1")))
    return found


# (id, mode, headers, client, scheme, host)
CASES: list[tuple[str, str, Headers, Any, str, str]] = [
    # --- X-Forwarded-For: the right-most untrusted address -----------------------------
    ("xff one hop", "legacy", h("x-forwarded-for: 203.0.113.7"), ("203.0.113.7", 0), KEEP, KEEP),
    (
        "xff spoofed left entry loses",
        "legacy",
        h("x-forwarded-for: 6.6.6.6, 203.0.113.7"),
        ("203.0.113.7", 0),
        KEEP,
        KEEP,
    ),
    (
        "xff trusted hops skipped",
        "legacy",
        h("x-forwarded-for: 6.6.6.6, 203.0.113.7, 10.0.0.2, 10.1.2.3"),
        ("203.0.113.7", 0),
        KEEP,
        KEEP,
    ),
    (
        "xff untrusted hop stops the walk",
        "legacy",
        h("x-forwarded-for: 203.0.113.7, 198.51.100.1, 10.0.0.2"),
        ("198.51.100.1", 0),
        KEEP,
        KEEP,
    ),
    (
        "xff all trusted: left-most",
        "legacy",
        h("x-forwarded-for: 10.0.0.5, 10.0.0.2"),
        ("10.0.0.5", 0),
        KEEP,
        KEEP,
    ),
    (
        "xff lines combined in order",
        "legacy",
        h("x-forwarded-for: 6.6.6.6", "x-forwarded-for: 203.0.113.7, 10.0.0.2"),
        ("203.0.113.7", 0),
        KEEP,
        KEEP,
    ),
    (
        "xff a spoofed line first",
        "legacy",
        h("x-forwarded-for: 6.6.6.6, 6.6.6.7", "x-forwarded-for: 203.0.113.7"),
        ("203.0.113.7", 0),
        KEEP,
        KEEP,
    ),
    (
        "xff ipv4 with port",
        "legacy",
        h("x-forwarded-for: 203.0.113.7:4711"),
        ("203.0.113.7", 4711),
        KEEP,
        KEEP,
    ),
    (
        "xff bracketed ipv6 with port",
        "legacy",
        h("x-forwarded-for: [2001:db9::7]:443"),
        ("2001:db9::7", 443),
        KEEP,
        KEEP,
    ),
    (
        "xff bare ipv6",
        "legacy",
        h("x-forwarded-for: 2001:DB9:0::7, 2001:db8::1"),
        ("2001:db9::7", 0),
        KEEP,
        KEEP,
    ),
    (
        "xff ipv4-mapped trusted hop",
        "legacy",
        h("x-forwarded-for: 203.0.113.7, ::ffff:10.0.0.2"),
        ("203.0.113.7", 0),
        KEEP,
        KEEP,
    ),
    (
        "xff empty elements ignored",
        "legacy",
        h("x-forwarded-for: ,203.0.113.7 , ,"),
        ("203.0.113.7", 0),
        KEEP,
        KEEP,
    ),
    (
        "xff garbage right-most: unknown client",
        "legacy",
        h("x-forwarded-for: 6.6.6.6, garbage"),
        None,
        KEEP,
        KEEP,
    ),
    ("xff 'unknown'", "legacy", h("x-forwarded-for: unknown"), None, KEEP, KEEP),
    (
        "xff garbage left of the client is never read",
        "legacy",
        h("x-forwarded-for: garbage, 203.0.113.7"),
        ("203.0.113.7", 0),
        KEEP,
        KEEP,
    ),
    ("xff bad port", "legacy", h("x-forwarded-for: 203.0.113.7:99999"), None, KEEP, KEEP),
    ("xff empty port", "legacy", h("x-forwarded-for: 203.0.113.7:"), None, KEEP, KEEP),
    ("xff hostname", "legacy", h("x-forwarded-for: client.example"), None, KEEP, KEEP),
    # --- X-Forwarded-Proto / -Host -----------------------------------------------------
    (
        "xfp and xfh",
        "legacy",
        h(
            "x-forwarded-for: 203.0.113.7",
            "x-forwarded-proto: https",
            "x-forwarded-host: example.com",
        ),
        ("203.0.113.7", 0),
        "https",
        "example.com",
    ),
    ("xfp alone", "legacy", h("x-forwarded-proto: HTTPS"), KEEP, "https", KEEP),
    ("xfp not a web scheme", "legacy", h("x-forwarded-proto: ftp"), KEEP, KEEP, KEEP),
    ("xfp wss on http", "legacy", h("x-forwarded-proto: wss"), KEEP, "https", KEEP),
    (
        "xfp aligned with xff",
        "legacy",
        h("x-forwarded-for: 203.0.113.7, 10.0.0.2", "x-forwarded-proto: https, http"),
        ("203.0.113.7", 0),
        "https",
        KEEP,
    ),
    (
        "xfp not aligned: right-most",
        "legacy",
        h("x-forwarded-for: 203.0.113.7", "x-forwarded-proto: http, https"),
        ("203.0.113.7", 0),
        "https",
        KEEP,
    ),
    (
        "xfh with port",
        "legacy",
        h("x-forwarded-host: example.com:8443"),
        KEEP,
        KEEP,
        "example.com:8443",
    ),
    (
        "xfh ipv6",
        "legacy",
        h("x-forwarded-host: [2001:db8::1]:8080"),
        KEEP,
        KEEP,
        "[2001:db8::1]:8080",
    ),
    ("xfh with a path", "legacy", h("x-forwarded-host: evil.example/x"), KEEP, KEEP, KEEP),
    ("xfh with a space", "legacy", h("x-forwarded-host: a b"), KEEP, KEEP, KEEP),
    ("xfh with userinfo", "legacy", h("x-forwarded-host: user@evil.example"), KEEP, KEEP, KEEP),
    ("xfh bad port", "legacy", h("x-forwarded-host: example.com:70000"), KEEP, KEEP, KEEP),
    # --- Forwarded (RFC 7239) ------------------------------------------------------------
    (
        "forwarded one element",
        "modern",
        h("forwarded: for=203.0.113.7;proto=https;host=example.com"),
        ("203.0.113.7", 0),
        "https",
        "example.com",
    ),
    (
        "forwarded spoofed left element loses",
        "modern",
        h("forwarded: for=6.6.6.6;proto=https;host=evil.example, for=203.0.113.7"),
        ("203.0.113.7", 0),
        KEEP,
        KEEP,
    ),
    (
        "forwarded proto and host from the client's hop",
        "modern",
        h("forwarded: for=203.0.113.7;proto=https;host=example.com, for=10.0.0.2;proto=http"),
        ("203.0.113.7", 0),
        "https",
        "example.com",
    ),
    (
        "forwarded lines combined in order",
        "modern",
        h("forwarded: for=6.6.6.6", "forwarded: for=203.0.113.7", "forwarded: for=10.0.0.2"),
        ("203.0.113.7", 0),
        KEEP,
        KEEP,
    ),
    (
        "forwarded quoted ipv6 with port",
        "modern",
        h('forwarded: for="[2001:db9::7]:4711"'),
        ("2001:db9::7", 4711),
        KEEP,
        KEEP,
    ),
    (
        "forwarded quoted ipv4 with port",
        "modern",
        h('forwarded: for="203.0.113.7:4711"'),
        ("203.0.113.7", 4711),
        KEEP,
        KEEP,
    ),
    (
        "forwarded obfuscated port",
        "modern",
        h('forwarded: for="203.0.113.7:_p1"'),
        ("203.0.113.7", 0),
        KEEP,
        KEEP,
    ),
    (
        "forwarded trusted ipv6 hop skipped",
        "modern",
        h('forwarded: for=203.0.113.7, for="[2001:db8::5]"'),
        ("203.0.113.7", 0),
        KEEP,
        KEEP,
    ),
    (
        "forwarded obfuscated client",
        "modern",
        h("forwarded: for=_hidden;proto=https"),
        None,
        "https",
        KEEP,
    ),
    ("forwarded unknown client", "modern", h("forwarded: for=unknown"), None, KEEP, KEEP),
    (
        "forwarded obfuscated stops the walk",
        "modern",
        h("forwarded: for=6.6.6.6, for=_hidden, for=10.0.0.2"),
        None,
        KEEP,
        KEEP,
    ),
    (
        "forwarded obfuscated left of the client is never read",
        "modern",
        h("forwarded: for=_hidden, for=203.0.113.7"),
        ("203.0.113.7", 0),
        KEEP,
        KEEP,
    ),
    (
        "forwarded names and proto are case-insensitive",
        "modern",
        h("forwarded: For=203.0.113.7;PROTO=HTTPS"),
        ("203.0.113.7", 0),
        "https",
        KEEP,
    ),
    (
        "forwarded whitespace around pairs",
        "modern",
        h("forwarded: for=203.0.113.7 ; proto=https ,for=10.0.0.2"),
        ("203.0.113.7", 0),
        "https",
        KEEP,
    ),
    (
        "forwarded by= is ignored",
        "modern",
        h("forwarded: for=203.0.113.7;by=10.0.0.2"),
        ("203.0.113.7", 0),
        KEEP,
        KEEP,
    ),
    (
        "forwarded without for=: client kept",
        "modern",
        h("forwarded: proto=https;host=example.com"),
        KEEP,
        "https",
        "example.com",
    ),
    (
        "forwarded comma inside a quoted string",
        "modern",
        h('forwarded: for="6.6.6.6, for=1.1.1.1";host="a,b", for=203.0.113.7'),
        ("203.0.113.7", 0),
        KEEP,
        KEEP,
    ),
    (
        "forwarded escaped quote",
        "modern",
        h(r'forwarded: for="_x\"y", for=203.0.113.7'),
        ("203.0.113.7", 0),
        KEEP,
        KEEP,
    ),
    (
        "forwarded unterminated quote swallows the rest",
        "modern",
        h('forwarded: for="6.6.6.6, for=203.0.113.7'),
        None,
        KEEP,
        KEEP,
    ),
    (
        "forwarded unterminated quote stays in its line",
        "modern",
        h('forwarded: for="6.6.6.6', "forwarded: for=203.0.113.7"),
        ("203.0.113.7", 0),
        KEEP,
        KEEP,
    ),
    (
        "forwarded duplicate parameter is malformed",
        "modern",
        h("forwarded: for=6.6.6.6;for=203.0.113.7"),
        None,
        KEEP,
        KEEP,
    ),
    ("forwarded unquoted ipv6", "modern", h("forwarded: for=[2001:db9::7]"), None, KEEP, KEEP),
    ("forwarded empty value", "modern", h("forwarded: for="), None, KEEP, KEEP),
    ("forwarded no equals", "modern", h("forwarded: for"), None, KEEP, KEEP),
    (
        "forwarded bad host",
        "modern",
        h('forwarded: for=203.0.113.7;host="evil.example/x"'),
        ("203.0.113.7", 0),
        KEEP,
        KEEP,
    ),
    (
        "forwarded empty elements",
        "modern",
        h("forwarded: ,, for=203.0.113.7 ,"),
        ("203.0.113.7", 0),
        KEEP,
        KEEP,
    ),
    # --- which headers each mode reads -------------------------------------------------
    (
        "legacy ignores forwarded",
        "legacy",
        h("forwarded: for=6.6.6.6;proto=https", "x-forwarded-for: 203.0.113.7"),
        ("203.0.113.7", 0),
        KEEP,
        KEEP,
    ),
    (
        "modern ignores x-forwarded",
        "modern",
        h("x-forwarded-for: 6.6.6.6", "x-forwarded-proto: https"),
        KEEP,
        KEEP,
        KEEP,
    ),
    (
        "auto with forwarded only",
        "auto",
        h("forwarded: for=203.0.113.7;proto=https"),
        ("203.0.113.7", 0),
        "https",
        KEEP,
    ),
    (
        "auto with x-forwarded only",
        "auto",
        h("x-forwarded-for: 203.0.113.7", "x-forwarded-proto: https"),
        ("203.0.113.7", 0),
        "https",
        KEEP,
    ),
    (
        "auto with both agreeing",
        "auto",
        h(
            'forwarded: for="203.0.113.7:4711";proto=https;host=example.com',
            "x-forwarded-for: 203.0.113.7",
            "x-forwarded-proto: https",
            "x-forwarded-host: EXAMPLE.com",
        ),
        ("203.0.113.7", 4711),
        "https",
        "example.com",
    ),
    (
        "auto: a client's forwarded beside the proxy's x-forwarded-for",
        "auto",
        h("forwarded: for=6.6.6.6", "x-forwarded-for: 6.6.6.6, 203.0.113.7"),
        None,
        KEEP,
        KEEP,
    ),
    (
        "auto: a client's x-forwarded-for beside the proxy's forwarded",
        "auto",
        h("x-forwarded-for: 6.6.6.6", "forwarded: for=203.0.113.7"),
        None,
        KEEP,
        KEEP,
    ),
    (
        "auto: a client's own address with a forged proto",
        "auto",
        h(
            "forwarded: for=203.0.113.7;proto=https;host=evil.example",
            "x-forwarded-for: 203.0.113.7",
            "x-forwarded-proto: http",
        ),
        None,
        KEEP,
        KEEP,
    ),
    ("no headers", "auto", h("user-agent: x"), KEEP, KEEP, KEEP),
]


def run(
    headers: Headers,
    *,
    mode: Any = "auto",
    peer: Any = PEER,
    trusted: Any = TRUSTED,
    kind: str = "http",
    server: Any = ("127.0.0.1", 8000),
) -> MutableMapping[str, Any]:
    seen: list[MutableMapping[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)

    async def receive() -> Any:
        return {}

    async def send(message: Any) -> None:
        pass

    scope: dict[str, Any] = {
        "type": kind,
        "scheme": "http" if kind == "http" else "ws",
        "client": peer,
        "server": server,
        "headers": [(b"host", b"internal:8000"), *headers],
    }
    asyncio.run(ProxyFixMiddleware(app, trusted, mode=mode)(scope, receive, send))
    assert seen == [scope]  # updated in place: the access log sees the same values
    return scope


def host_header(scope: MutableMapping[str, Any]) -> str:
    values = [value for name, value in scope["headers"] if name == b"host"]
    assert len(values) == 1
    return str(values[0].decode())


@pytest.mark.parametrize(
    ("mode", "headers", "client", "scheme", "host"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_forwarding_headers(
    mode: str, headers: Headers, client: Any, scheme: str, host: str
) -> None:
    scope = run(headers, mode=mode)
    assert scope["client"] == (PEER if client == KEEP else client)
    assert scope["scheme"] == ("http" if scheme == KEEP else scheme)
    assert host_header(scope) == ("internal:8000" if host == KEEP else host)
    if host == KEEP:
        assert scope["server"] == ("127.0.0.1", 8000)
    # Every header other than Host is passed on untouched.
    assert [pair for pair in scope["headers"] if pair[0] != b"host"] == [
        pair for pair in headers if pair[0] != b"host"
    ]


@pytest.mark.parametrize(
    ("peer", "applied"),
    [
        (("203.0.113.9", 1), False),  # not a proxy of ours: headers ignored
        (("6.6.6.6", 1), False),
        (("10.200.0.1", 1), True),
        (("::1", 1), False),  # not in this list
        (("::ffff:127.0.0.1", 1), True),  # a dual-stack socket's view of 127.0.0.1
        (("2001:db8::9", 1), True),
        (("fe80::1%eth0", 1), False),
        (None, True),  # a Unix socket: only local processes can connect
        (("not-an-ip", 1), False),
    ],
)
def test_only_a_trusted_peer_is_believed(peer: Any, applied: bool) -> None:
    headers = h("x-forwarded-for: 203.0.113.7", "x-forwarded-proto: https")
    scope = run(headers, peer=peer)
    assert scope["client"] == (("203.0.113.7", 0) if applied else peer)
    assert scope["scheme"] == ("https" if applied else "http")


def test_everyone_trusted_lets_the_left_most_entry_win() -> None:
    # Why "*" is dangerous: with every hop trusted, a client's own entry is the answer.
    scope = run(h("x-forwarded-for: 6.6.6.6, 203.0.113.7"), peer=("198.51.100.1", 1), trusted="*")
    assert scope["client"] == ("6.6.6.6", 0)


@pytest.mark.parametrize(
    ("proto", "scheme"), [("https", "wss"), ("http", "ws"), ("wss", "wss"), ("ws", "ws")]
)
def test_websocket_schemes(proto: str, scheme: str) -> None:
    scope = run(h(f"x-forwarded-proto: {proto}"), kind="websocket")
    assert scope["scheme"] == scheme


@pytest.mark.parametrize(
    ("headers", "server"),
    [
        (h("x-forwarded-host: example.com"), ("example.com", 80)),
        (h("x-forwarded-host: example.com", "x-forwarded-proto: https"), ("example.com", 443)),
        (h("x-forwarded-host: example.com:8443"), ("example.com", 8443)),
        (h("x-forwarded-host: [2001:db8::1]"), ("2001:db8::1", 80)),
        (h("forwarded: host=example.com;proto=https"), ("example.com", 443)),
    ],
)
def test_a_forwarded_host_sets_server(headers: Headers, server: tuple[str, int]) -> None:
    scope = run(headers, server=("/run/app.sock", None))
    assert scope["server"] == server


def test_lifespan_passes_through() -> None:
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)

    scope = {"type": "lifespan"}
    asyncio.run(ProxyFixMiddleware(app)(scope, None, None))  # type: ignore[arg-type]
    assert seen == [{"type": "lifespan"}]


def test_a_conflict_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("hypercorn.error")
    propagate, logger.propagate = logger.propagate, True
    try:
        caplog.set_level(logging.WARNING, logger="hypercorn.error")
        middleware = ProxyFixMiddleware(lambda *args: asyncio.sleep(0), TRUSTED)
        headers = [(b"forwarded", b"for=6.6.6.6"), (b"x-forwarded-for", b"203.0.113.7")]
        for _ in range(3):
            scope = {"type": "http", "scheme": "http", "client": PEER, "headers": headers}
            middleware.apply(scope)
            assert scope["client"] is None
    finally:
        logger.propagate = propagate
    assert [record.getMessage() for record in caplog.records].count(
        caplog.records[0].getMessage()
    ) == 1
    assert "proxy_headers_mode" in caplog.records[0].getMessage()


def test_read_forwarded_reports_what_it_found() -> None:
    trusted = TrustedHosts(TRUSTED)
    assert read_forwarded([], trusted) is None
    assert read_forwarded(h("forwarded: for=203.0.113.7"), trusted, "legacy") is None
    assert read_forwarded(h("forwarded: proto=https"), trusted) == ForwardedInfo(scheme="https")
    conflict = read_forwarded(h("forwarded: for=1.1.1.1", "x-forwarded-for: 2.2.2.2"), trusted)
    assert conflict is not None and conflict.conflict


@pytest.mark.parametrize(
    ("entries", "inside", "outside"),
    [
        (["127.0.0.1"], ["127.0.0.1", "::ffff:127.0.0.1", None], ["127.0.0.2", "::1"]),
        (["10.0.0.0/8,192.168.1.1"], ["10.255.0.1", "192.168.1.1"], ["192.168.1.2"]),
        ([" 10.0.0.1/8 "], ["10.9.9.9"], ["11.0.0.1"]),  # host bits set: the network
        (["2001:db8::/32"], ["2001:db8:1::1", "2001:DB8::1"], ["2001:db9::1", "10.0.0.1"]),
        (["*"], ["6.6.6.6", "::1", "anything"], []),
        ([], [None], ["127.0.0.1"]),
    ],
)
def test_trusted_hosts(entries: list[str], inside: list[Any], outside: list[Any]) -> None:
    trusted = TrustedHosts(entries)
    for host in inside:
        assert host in trusted
    for host in outside:
        assert host not in trusted


@pytest.mark.parametrize("entry", ["localhost", "10.0.0.0/33", "1.2.3", "::1/129", "*.example"])
def test_bad_trusted_entries_are_errors(entry: str) -> None:
    with pytest.raises(ValueError, match="not an IP address or network"):
        TrustedHosts([entry])
    with pytest.raises(ConfigError, match="forwarded_allow_ips"):
        Config(forwarded_allow_ips=["127.0.0.1", entry])


def test_bad_mode_is_an_error() -> None:
    with pytest.raises(ValueError, match="mode"):
        ProxyFixMiddleware(lambda *args: asyncio.sleep(0), mode="rfc7239")  # type: ignore[arg-type]


def test_command_line() -> None:
    config, _ = parse(
        [
            "app:app",
            "--proxy-headers",
            "--proxy-headers-mode",
            "legacy",
            "--forwarded-allow-ips",
            "10.0.0.0/8,fd00::/8",
            "--forwarded-allow-ips",
            "192.0.2.1",
            "--proxy-protocol",
            "v2",
        ]
    )
    assert config.proxy_headers is True
    assert config.proxy_headers_mode == "legacy"
    assert config.proxy_protocol == "v2"
    assert "fd00::1" in TrustedHosts(config.forwarded_allow_ips)
    assert "192.0.2.1" in TrustedHosts(config.forwarded_allow_ips)
    with pytest.raises(ConfigError, match=r"'10\.0\.0\.300'"):
        parse(["app:app", "--forwarded-allow-ips", "10.0.0.300"])


def test_config_defaults() -> None:
    config = Config()
    assert config.proxy_headers is False
    assert config.proxy_protocol == "off"
    assert config.proxy_headers_mode == "auto"
    assert config.forwarded_allow_ips == ["127.0.0.1", "::1"]
