"""permessage-deflate (RFC 7692): offers, strict checking of the server's answer, and the codec.

The client side of RFC 7692 as a test needs it: build an offer (well-formed or deliberately
not), decide which offers a server is *allowed* to accept (§5, §7.1), check that the server's
response is one it may give for one of them, and then compress/decompress messages with exactly
the negotiated window and context-takeover rules, so a server that oversteps them produces data
this side cannot decode.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from .frames import ProtocolViolation

__all__ = [
    "EXTENSION_NAME",
    "DeflateOffer",
    "DeflateParams",
    "MessageCompressor",
    "MessageDecompressor",
    "format_extension",
    "negotiate",
    "parse_extension_header",
]

EXTENSION_NAME = "permessage-deflate"

# RFC 7692 §7.2.1: the sender removes this tail of an empty stored block; §7.2.2: the receiver
# appends it back before inflating.
_TAIL = b"\x00\x00\xff\xff"

# RFC 7230 §3.2.6 token and quoted-string, as RFC 6455 §9.1 uses them.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
# RFC 7692 §7.1.2.1: window bits are 8..15 written without leading zeros.
_WINDOW_BITS = re.compile(r"8|9|1[0-5]")
_KNOWN_PARAMS = frozenset(
    {
        "server_no_context_takeover",
        "client_no_context_takeover",
        "server_max_window_bits",
        "client_max_window_bits",
    }
)

Params = tuple[tuple[str, str | None], ...]


def parse_extension_header(values: Sequence[str]) -> list[tuple[str, Params]]:
    """Parse Sec-WebSocket-Extensions values (RFC 6455 §9.1) into (name, params) pairs.

    Several header lines are one comma-separated list (RFC 9110 §5.3). Raises ValueError on
    anything outside the grammar.
    """
    text = ", ".join(values)
    extensions: list[tuple[str, Params]] = []
    position = 0

    def skip_space() -> None:
        nonlocal position
        while position < len(text) and text[position] in " \t":
            position += 1

    def token() -> str:
        nonlocal position
        match = _TOKEN.match(text, position)
        if match is None:
            raise ValueError(f"expected a token at {position} in {text!r}")
        position = match.end()
        return match.group()

    while True:
        skip_space()
        name = token()
        params: list[tuple[str, str | None]] = []
        skip_space()
        while position < len(text) and text[position] == ";":
            position += 1
            skip_space()
            key = token()
            skip_space()
            value: str | None = None
            if position < len(text) and text[position] == "=":
                position += 1
                skip_space()
                quoted = _QUOTED.match(text, position)
                if quoted is not None:
                    value = re.sub(r"\\(.)", r"\1", quoted.group(1))
                    position = quoted.end()
                else:
                    value = token()
                skip_space()
            params.append((key, value))
        extensions.append((name, tuple(params)))
        if position >= len(text):
            return extensions
        if text[position] != ",":
            raise ValueError(f"unexpected {text[position]!r} at {position} in {text!r}")
        position += 1


def format_extension(name: str, params: Params) -> str:
    parts = [name]
    parts.extend(key if value is None else f"{key}={value}" for key, value in params)
    return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class DeflateOffer:
    """One permessage-deflate offer, as the parameters go on the wire (legal or not)."""

    params: Params = ()

    @classmethod
    def build(
        cls,
        *,
        server_no_context_takeover: bool = False,
        client_no_context_takeover: bool = False,
        server_max_window_bits: int | None = None,
        client_max_window_bits: int | bool = False,
    ) -> DeflateOffer:
        """A well-formed offer; ``client_max_window_bits=True`` sends the bare parameter."""
        params: list[tuple[str, str | None]] = []
        if server_no_context_takeover:
            params.append(("server_no_context_takeover", None))
        if client_no_context_takeover:
            params.append(("client_no_context_takeover", None))
        if server_max_window_bits is not None:
            params.append(("server_max_window_bits", str(server_max_window_bits)))
        if client_max_window_bits is True:
            params.append(("client_max_window_bits", None))
        elif client_max_window_bits is not False:
            params.append(("client_max_window_bits", str(client_max_window_bits)))
        return cls(tuple(params))

    def header_value(self) -> str:
        return format_extension(EXTENSION_NAME, self.params)

    def must_decline(self) -> str | None:
        """Why RFC 7692 obliges a server to decline this offer, or None if it may accept it."""
        seen: set[str] = set()
        for key, value in self.params:
            if key not in _KNOWN_PARAMS:
                return f"§7: unknown parameter {key!r}"
            if key in seen:
                return f"§7: parameter {key!r} repeated"
            seen.add(key)
            if key.endswith("no_context_takeover") and value is not None:
                return f"§7.1.1: {key} takes no value"
            if key == "server_max_window_bits" and (
                value is None or not _WINDOW_BITS.fullmatch(value)
            ):
                return f"§7.1.2.1: server_max_window_bits={value!r} is not 8..15"
            if (
                key == "client_max_window_bits"
                and value is not None
                and not _WINDOW_BITS.fullmatch(value)
            ):
                return f"§7.1.2.2: client_max_window_bits={value!r} is not 8..15"
        return None

    def as_dict(self) -> dict[str, str | None]:
        return dict(self.params)


@dataclass(frozen=True, slots=True)
class DeflateParams:
    """What was agreed: the rules each side's compressor follows for the whole connection."""

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int = 15
    client_max_window_bits: int = 15
    response: str = ""


def _check_response(offer: DeflateOffer, response: Params) -> DeflateParams | str:
    """The agreement if ``response`` is a legal acceptance of ``offer`` (RFC 7692 §7.1)."""
    offered = offer.as_dict()
    seen: dict[str, str | None] = {}
    for key, value in response:
        if key not in _KNOWN_PARAMS:
            return f"§7: the response has unknown parameter {key!r}"
        if key in seen:
            return f"§7: the response repeats {key!r}"
        seen[key] = value
    for key in ("server_no_context_takeover", "client_no_context_takeover"):
        if key in seen and seen[key] is not None:
            return f"§7.1.1: {key} takes no value, got {seen[key]!r}"
    if "server_no_context_takeover" in offered and "server_no_context_takeover" not in seen:
        return "§7.1.1.1: server_no_context_takeover was offered, so accepting must include it"
    server_bits = 15
    if "server_max_window_bits" in seen:
        value = seen["server_max_window_bits"]
        if value is None or not _WINDOW_BITS.fullmatch(value):
            return f"§7.1.2.1: server_max_window_bits={value!r} is not 8..15"
        server_bits = int(value)
        limit = offered.get("server_max_window_bits")
        if limit is not None and server_bits > int(limit):
            return f"§7.1.2.1: server_max_window_bits={server_bits} exceeds the offered {limit}"
    elif "server_max_window_bits" in offered:
        return "§7.1.2.1: server_max_window_bits was offered, so accepting must include it"
    client_bits = 15
    if "client_max_window_bits" in seen:
        if "client_max_window_bits" not in offered:
            return "§7.1.2.2: client_max_window_bits in the response but not in the offer"
        value = seen["client_max_window_bits"]
        if value is None or not _WINDOW_BITS.fullmatch(value):
            return f"§7.1.2.2: client_max_window_bits={value!r} is not 8..15"
        client_bits = int(value)
        limit = offered["client_max_window_bits"]
        if limit is not None and client_bits > int(limit):
            return f"§7.1.2.2: client_max_window_bits={client_bits} exceeds the offered {limit}"
    elif offered.get("client_max_window_bits") is not None:
        # §7.1.2.2: the client then uses no more than what it offered.
        client_bits = int(offered["client_max_window_bits"] or 15)
    return DeflateParams(
        server_no_context_takeover="server_no_context_takeover" in seen,
        # §7.1.1.2: offering client_no_context_takeover is a promise this side keeps anyway.
        client_no_context_takeover=(
            "client_no_context_takeover" in seen or "client_no_context_takeover" in offered
        ),
        server_max_window_bits=server_bits,
        client_max_window_bits=client_bits,
        response=format_extension(EXTENSION_NAME, response),
    )


def negotiate(
    offers: Sequence[DeflateOffer], header_values: Sequence[str]
) -> DeflateParams | None:
    """Check the server's Sec-WebSocket-Extensions against what was offered.

    Returns the agreement, or None when the server declined. Raises ProtocolViolation for an
    answer RFC 6455 §9.1 / RFC 7692 forbid: an extension that was not offered, more than one
    permessage-deflate, or parameters that fit none of the offers the server may accept.
    """
    if not header_values:
        return None
    try:
        extensions = parse_extension_header(header_values)
    except ValueError as error:
        raise ProtocolViolation(
            f"RFC 6455 §9.1: unparseable Sec-WebSocket-Extensions: {error}"
        ) from None
    names = [name.lower() for name, _ in extensions]
    if not offers:
        raise ProtocolViolation(
            f"RFC 6455 §4.1: the server accepted extensions {names} that were never offered"
        )
    if names != [EXTENSION_NAME]:
        raise ProtocolViolation(
            f"RFC 6455 §9.1 / RFC 7692 §5: only one {EXTENSION_NAME} was offered, got {names}"
        )
    response = extensions[0][1]
    reasons: list[str] = []
    for offer in offers:
        decline = offer.must_decline()
        if decline is not None:
            reasons.append(f"offer {offer.header_value()!r} must be declined ({decline})")
            continue
        checked = _check_response(offer, response)
        if isinstance(checked, DeflateParams):
            return checked
        reasons.append(f"not a valid answer to {offer.header_value()!r}: {checked}")
    raise ProtocolViolation(
        f"RFC 7692: response {format_extension(EXTENSION_NAME, response)!r}: " + "; ".join(reasons)
    )


class MessageCompressor:
    """The client's side of RFC 7692 §7.2.1: compress one message at a time."""

    def __init__(self, params: DeflateParams) -> None:
        self._reset = params.client_no_context_takeover
        self._bits = params.client_max_window_bits
        self._compressor = self._new()

    def _new(self) -> zlib._Compress:
        if self._bits == 8:
            # zlib cannot deflate with a 256-byte window; Huffman-only output has no
            # back-references at all, so it honours any window the server asked for.
            return zlib.compressobj(6, zlib.DEFLATED, -9, 8, zlib.Z_HUFFMAN_ONLY)
        return zlib.compressobj(6, zlib.DEFLATED, -self._bits)

    def compress(self, data: bytes) -> bytes:
        if self._reset:
            # §7.1.1.2: no context takeover means each message starts from an empty window.
            self._compressor = self._new()
        output = self._compressor.compress(data) + self._compressor.flush(zlib.Z_SYNC_FLUSH)
        assert output.endswith(_TAIL)
        return output[: -len(_TAIL)]


class MessageDecompressor:
    """The client's side of RFC 7692 §7.2.2, holding the server to the negotiated window."""

    def __init__(self, params: DeflateParams) -> None:
        self._reset = params.server_no_context_takeover
        self._bits = params.server_max_window_bits
        self._decompressor = zlib.decompressobj(-self._bits)

    def decompress(self, data: bytes) -> bytes:
        if self._reset:
            # §7.1.1.1: with server_no_context_takeover the server's LZ77 window starts empty for
            # every message, so a back-reference into an earlier one fails to decode here.
            self._decompressor = zlib.decompressobj(-self._bits)
        try:
            output = self._decompressor.decompress(data + _TAIL)
        except zlib.error as error:
            raise ProtocolViolation(
                f"RFC 7692 §7.2.2: the server's compressed message does not inflate with "
                f"window bits {self._bits}"
                f"{' and no context takeover' if self._reset else ''}: {error}"
            ) from None
        if self._decompressor.eof:
            # §7.2.3.4: a block with BFINAL=1 ends the stream; the next message starts anew.
            self._decompressor = zlib.decompressobj(-self._bits)
        return output
