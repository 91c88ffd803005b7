"""Take the client's address, scheme and host from the headers a trusted proxy adds.

Behind a reverse proxy every connection comes from the proxy, so the ASGI scope's
``client`` is the proxy's address and its ``scheme`` is whatever the proxy used to reach
this server. Proxies pass the original values on in headers: RFC 7239 ``Forwarded``
(``for=``, ``proto=``, ``host=``) or the older ``X-Forwarded-For``, ``X-Forwarded-Proto``
and ``X-Forwarded-Host``. :class:`ProxyFixMiddleware` rewrites the scope from them — but
only for a request whose immediate peer is a trusted proxy, because anyone can send these
headers.

Each proxy on the way appends the address it received the request from, so the list reads
client, proxy 1, proxy 2, ... from left to right. Only the entries that trusted proxies
appended are trustworthy, and those are at the right-hand end: everything to their left
came from the client, who can write anything there. So the walk starts at the right, skips
every hop that is one of our trusted proxies, and stops at the first address that is not:
the **right-most untrusted** address is the client. (If every hop is trusted, the left-most
one is the client.) An obfuscated identifier (``for=_hidden``), ``for=unknown`` or an
entry that is not an address also stops the walk; the client is then unknown and ``client``
becomes None, never the address of the proxy that hid it. The scheme and host come from the
same hop as the client.

Modes: ``"modern"`` reads only ``Forwarded``; ``"legacy"`` only the ``X-Forwarded-*``
family; ``"auto"`` whichever is present. When both are present in ``"auto"`` mode, a client
may have sent one of them and the proxy the other, and nothing says which, so they must
agree (on client address, scheme and host): if they do not, none of it is used and the
client becomes unknown. Configure the proxy to set (not pass through) the headers you read,
and prefer an explicit mode.

The scope is updated in place, so the server's access log shows the forwarded client too.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

__all__ = ["ForwardedInfo", "Mode", "ProxyFixMiddleware", "TrustedHosts", "read_forwarded"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Mode = Literal["auto", "modern", "legacy"]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

logger = logging.getLogger("hypercorn.error")

# RFC 9110 §5.6.2: the characters of a token.
_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
# RFC 9110 §7.2 / RFC 3986 §3.2.2: a Host value, uri-host [ ":" port ]; a reg-name is kept to
# the characters real host names use, so a forwarded host cannot smuggle a path or a list.
_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%-]+)(?::([0-9]{1,5}))?")
_HTTP_SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}
_WS_SCHEMES = {"http": "ws", "https": "wss"}
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_CACHE_SIZE = 1024  # distinct peer addresses remembered; a full cache is simply cleared


class TrustedHosts:
    """The peers whose forwarding headers (and PROXY protocol headers) are believed.

    ``entries`` are IP addresses and CIDR networks, IPv4 or IPv6, each of which may itself
    be a comma-separated list; ``"*"`` trusts every peer. An IPv4-mapped IPv6 address
    (``::ffff:10.0.0.1``, what a dual-stack socket reports) matches as its IPv4 address. A
    Unix-socket peer (no address) is always trusted: who may connect is up to the socket
    file's permissions, and only a local proxy can.
    """

    __slots__ = ("_cache", "_networks", "everyone")

    def __init__(self, entries: Iterable[str]) -> None:
        if isinstance(entries, str):
            entries = [entries]
        self.everyone = False
        networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in entries:
            for item in entry.split(","):
                text = item.strip()
                if not text:
                    continue
                if text == "*":
                    self.everyone = True
                    continue
                try:
                    networks.append(ipaddress.ip_network(text, strict=False))
                except ValueError:
                    raise ValueError(f"{text!r} is not an IP address or network") from None
        self._networks = tuple(networks)
        self._cache: dict[str, bool] = {}

    def __contains__(self, host: object) -> bool:
        if host is None or self.everyone:
            return True
        if not isinstance(host, str):
            return False
        found = self._cache.get(host)
        if found is None:
            address = _ip(host)
            found = address is not None and any(address in net for net in self._networks)
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            self._cache[host] = found
        return found

    def __repr__(self) -> str:
        listed = [str(network) for network in self._networks]
        return f"TrustedHosts({(['*'] if self.everyone else []) + listed!r})"


@dataclass(frozen=True, slots=True)
class ForwardedInfo:
    """What trusted proxies said about a request. A None field leaves the scope alone."""

    #: Whether :attr:`client` replaces the scope's client.
    has_client: bool = False
    #: The client as (ip, port) (port 0 when not forwarded); None when it is hidden or
    #: unknown (``for=_hidden``, ``for=unknown``, an entry that is not an address).
    client: tuple[str, int] | None = None
    #: ``http`` or ``https`` (or the ``ws``/``wss`` a proxy may report).
    scheme: str | None = None
    #: A Host header value: ``host`` or ``host:port``.
    host: str | None = None
    #: In ``auto`` mode: ``Forwarded`` and ``X-Forwarded-*`` disagreed, so neither is used
    #: and the client is unknown.
    conflict: bool = False

    def agrees_with(self, other: ForwardedInfo) -> bool:
        """Whether both say the same (client addresses compared without ports)."""
        mine = self.client[0] if self.client else None
        theirs = other.client[0] if other.client else None
        return (
            self.has_client == other.has_client
            and mine == theirs
            and _HTTP_SCHEMES.get(self.scheme or "") == _HTTP_SCHEMES.get(other.scheme or "")
            and (self.host or "").lower() == (other.host or "").lower()
        )


_UNKNOWN_CLIENT = ForwardedInfo(has_client=True)


def read_forwarded(
    headers: Iterable[tuple[bytes, bytes]], trusted: TrustedHosts, mode: Mode = "auto"
) -> ForwardedInfo | None:
    """What the forwarding headers in ``headers`` say, per ``mode``; None when there are none.

    The caller has already checked that the request's immediate peer is in ``trusted``.
    Several lines of one header are read in order, as if joined by commas (RFC 9110 §5.3).
    """
    forwarded: list[bytes] = []
    x_for: list[bytes] = []
    x_proto: list[bytes] = []
    x_host: list[bytes] = []
    for name, value in headers:
        if name == b"forwarded":
            forwarded.append(value)
        elif name == b"x-forwarded-for":
            x_for.append(value)
        elif name == b"x-forwarded-proto":
            x_proto.append(value)
        elif name == b"x-forwarded-host":
            x_host.append(value)
    has_legacy = bool(x_for or x_proto or x_host)
    if mode == "modern" or (mode == "auto" and not has_legacy):
        return _from_forwarded(forwarded, trusted) if forwarded else None
    legacy = _from_x_forwarded(x_for, x_proto, x_host, trusted) if has_legacy else None
    if mode == "legacy" or not forwarded:
        return legacy
    modern = _from_forwarded(forwarded, trusted)
    assert legacy is not None
    return modern if modern.agrees_with(legacy) else _CONFLICT


_CONFLICT = ForwardedInfo(has_client=True, conflict=True)


class ProxyFixMiddleware:
    """Rewrite ``client``, ``scheme`` and the Host of requests forwarded by trusted proxies.

    ``trusted`` lists the proxies' addresses and networks (see :class:`TrustedHosts`;
    ``["*"]`` trusts every peer, which lets any client choose its own address: only for a
    server no client can reach except through the proxy). ``mode`` is ``"modern"``
    (``Forwarded``), ``"legacy"`` (``X-Forwarded-For``/``-Proto``/``-Host``) or ``"auto"``
    (see the module docstring). Applies to ``http`` and ``websocket`` scopes; for a
    WebSocket a forwarded ``https`` becomes ``wss``. When the host is forwarded, the Host
    header is replaced and ``server`` becomes that host and its port.
    """

    def __init__(
        self,
        app: ASGIApp,
        trusted: Iterable[str] | TrustedHosts = ("127.0.0.1", "::1"),
        mode: Mode = "auto",
    ) -> None:
        if mode not in get_args(Mode):
            raise ValueError(f"mode must be 'auto', 'modern' or 'legacy', not {mode!r}")
        self.app = app
        self.trusted = trusted if isinstance(trusted, TrustedHosts) else TrustedHosts(trusted)
        self.mode: Mode = mode
        self._warned = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            self.apply(scope)
        await self.app(scope, receive, send)

    def apply(self, scope: Scope) -> None:
        """Update ``scope`` in place from its forwarding headers, if its peer is trusted."""
        peer = scope.get("client")
        if (peer[0] if peer else None) not in self.trusted:
            return
        info = read_forwarded(scope["headers"], self.trusted, self.mode)
        if info is None:
            return
        if info.conflict:
            if not self._warned:
                self._warned = True
                logger.warning(
                    "Forwarded and X-Forwarded-* headers disagree (a client may have sent"
                    " one of them), so neither is used and the client is unknown; set"
                    " proxy_headers_mode (mode=) to the kind your proxy sets"
                )
            scope["client"] = None
            return
        if info.has_client:
            scope["client"] = info.client
        scheme = info.scheme
        if scheme is not None:
            scheme = _HTTP_SCHEMES[scheme]
            scope["scheme"] = _WS_SCHEMES[scheme] if scope["type"] == "websocket" else scheme
        if info.host is not None:
            headers = [(name, value) for name, value in scope["headers"] if name != b"host"]
            headers.append((b"host", info.host.encode("ascii")))
            scope["headers"] = headers
            scope["server"] = _server(info.host, scope.get("scheme", "http"))


def _from_forwarded(lines: list[bytes], trusted: TrustedHosts) -> ForwardedInfo:
    # RFC 7239 §4: one element per proxy, appended in order. Each line is split on its own,
    # so an unterminated quoted string a client sent cannot swallow a later line.
    elements = [element for line in lines for element in _forwarded_elements(line)]
    for index in range(len(elements) - 1, -1, -1):
        element = elements[index]
        if element is None:
            return _UNKNOWN_CLIENT  # malformed: nothing in it can be read
        scheme = _scheme(element.get("proto"))
        host = _host(element.get("host"))
        node = element.get("for")
        if node is None:
            # This proxy did not say whom it serves; the walk cannot go on.
            return ForwardedInfo(False, None, scheme, host)
        client = _node(node)
        if client is not None and client[0] in trusted and index > 0:
            continue  # one of our proxies: the element to its left is its client's
        return ForwardedInfo(True, client, scheme, host)
    return ForwardedInfo()


def _from_x_forwarded(
    x_for: list[bytes], x_proto: list[bytes], x_host: list[bytes], trusted: TrustedHosts
) -> ForwardedInfo:
    hops = _list(x_for)
    chosen: int | None = None
    client: tuple[str, int] | None = None
    for index in range(len(hops) - 1, -1, -1):
        chosen = index
        client = _node(hops[index])
        if client is None or client[0] not in trusted:
            break
    # Proto and Host lists line up with X-Forwarded-For when every proxy appended to all of
    # them; otherwise the right-most value is the one the nearest (trusted) proxy set.
    return ForwardedInfo(
        chosen is not None,
        client,
        _scheme(_aligned(_list(x_proto), chosen, len(hops))),
        _host(_aligned(_list(x_host), chosen, len(hops))),
    )


def _list(lines: list[bytes]) -> list[str]:
    # RFC 9110 §5.6.1: a comma-separated list; empty elements are ignored.
    found = []
    for line in lines:
        for item in line.decode("latin-1").split(","):
            text = item.strip(" \t")
            if text:
                found.append(text)
    return found


def _aligned(values: list[str], index: int | None, count: int) -> str | None:
    if not values:
        return None
    if index is not None and len(values) == count:
        return values[index]
    return values[-1]


def _forwarded_elements(line: bytes) -> list[dict[str, str] | None]:
    """The elements of one ``Forwarded`` line: parameters by lowercase name, None if malformed."""
    text = line.decode("latin-1")
    if '"' not in text:
        raw = [element.split(";") for element in text.split(",")]
        elements = [_element(pairs) for pairs in raw]
    else:
        elements = _quoted_elements(text)
    return [element for element in elements if element != {}]


def _quoted_elements(text: str) -> list[dict[str, str] | None]:
    # The same split as above, but a comma or semicolon inside a quoted-string (with its
    # backslash escapes, RFC 9110 §5.6.4) does not separate anything.
    elements: list[dict[str, str] | None] = []
    pairs: list[str] = []
    start = 0
    quoted = escaped = False
    for position, char in enumerate(text):
        if quoted:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char in ",;":
            pairs.append(text[start:position])
            start = position + 1
            if char == ",":
                elements.append(_element(pairs))
                pairs = []
    pairs.append(text[start:])
    elements.append(None if quoted else _element(pairs))
    return elements


def _element(pairs: list[str]) -> dict[str, str] | None:
    # RFC 7239 §4: forwarded-pair = token "=" value; value = token / quoted-string; a
    # parameter "MUST NOT occur more than once per forwarded-element".
    element: dict[str, str] = {}
    for raw in pairs:
        pair = raw.strip(" \t")
        if not pair:
            continue
        name, equals, value = pair.partition("=")
        name = name.lower()
        if not equals or not name or not _TCHAR.issuperset(name) or name in element:
            return None
        if value[:1] == '"':
            if len(value) < 2 or value[-1] != '"':
                return None
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        elif not value or not _TCHAR.issuperset(value):
            return None
        element[name] = value
    return element


def _node(text: str) -> tuple[str, int] | None:
    """An address with an optional port, as (ip, port); None for anything else.

    Accepts RFC 7239 §6 nodes (``192.0.2.1``, ``192.0.2.1:80``, ``[2001:db8::1]:80``, the
    port possibly obfuscated) and what X-Forwarded-For carries (also a bare IPv6 address).
    ``unknown`` and obfuscated identifiers (``_hidden``) are not addresses.
    """
    colon = ""
    port_text = ""
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or rest[:1] not in ("", ":"):
            return None
        colon, port_text = rest[:1], rest[1:]
    elif text.count(":") == 1:
        host, colon, port_text = text.partition(":")
    else:
        host = text
    address = _ip(host)
    if address is None:
        return None
    port = 0
    if port_text.isdigit() and len(port_text) <= 5 and int(port_text) <= 65535:
        port = int(port_text)
    elif colon and not (port_text.startswith("_") and len(port_text) > 1):
        return None  # RFC 7239 §6: a port, or an obfuscated one ("_" and more)
    return (str(address), port)


def _ip(text: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(text.partition("%")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _scheme(value: str | None) -> str | None:
    if value is None:
        return None
    scheme = value.strip().lower()
    return scheme if scheme in _HTTP_SCHEMES else None


def _host(value: str | None) -> str | None:
    if value is None:
        return None
    host = value.strip()
    match = _HOST.fullmatch(host)
    if match is None or (match[2] is not None and int(match[2]) > 65535):
        return None
    return host


def _server(host: str, scheme: str) -> tuple[str, int]:
    match = _HOST.fullmatch(host)
    assert match is not None  # validated by _host
    name = match[1].strip("[]")
    return (name, int(match[2]) if match[2] else _DEFAULT_PORTS.get(scheme, 80))
