"""The PROXY protocol, versions 1 and 2, sans IO (HAProxy's ``proxy-protocol.txt``).

A load balancer that relays TCP connections (HAProxy's ``send-proxy``/``send-proxy-v2``,
AWS NLB, stunnel, ...) sends one header ahead of everything else on the connection, naming
the addresses of the client connection it relays. :class:`ProxyHeaderParser` reads that
header: bytes in, a :class:`ProxyHeader` out once it is complete (``None`` while more bytes
are needed), :class:`ProxyProtocolError` for anything that does not match the specification
exactly, which the caller answers by closing the connection (§2.1: "Any sequence which does
not exactly match the protocol must be discarded and cause the receiver to abort").

Buffering is bounded by the protocol itself: a version 1 line is at most 107 bytes (§2.1),
a version 2 header at most 16 + 65535 bytes (its 16-bit length field, §2.2).
:attr:`ProxyHeaderParser.read_size` says how many more bytes can be read without reading
past the header, so that a caller which must leave the bytes after it on the socket (a TLS
handshake that starts after the header) can read exactly the header and no more.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from .errors import RemoteProtocolError

__all__ = [
    "V1_MAX_LENGTH",
    "V2_SIGNATURE",
    "ProxyHeader",
    "ProxyHeaderParser",
    "ProxyProtocolError",
]

#: §2.2: the 12 bytes every version 2 header starts with.
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
_V2_FIXED = 16  # signature, version/command, family/protocol, 16-bit length
#: §2.1: "PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n", the longest line.
V1_MAX_LENGTH = 107
_V1_PREFIX = b"PROXY "
# §2.1: the shortest complete line of each kind, so a reader can take that many bytes at
# once: "PROXY UNKNOWN\r\n", "PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n", "PROXY TCP6 :: :: 0 0\r\n".
_V1_MIN_LENGTH = 15
_V1_MIN_BY_FAMILY = {b"PROXY TCP4 ": 32, b"PROXY TCP6 ": 22}

# §2.2: the 14th byte, address family (high nibble) and transport protocol (low nibble).
_AF_UNSPEC, _AF_INET, _AF_INET6, _AF_UNIX = 0x0, 0x1, 0x2, 0x3
_STREAM = 0x1
_ADDRESS_LENGTHS = {_AF_INET: 12, _AF_INET6: 36, _AF_UNIX: 216}
_UNIX_PATH = 108

Family = Literal["TCP4", "TCP6", "UNIX", "UNKNOWN"]
Address = tuple[str, int]


class ProxyProtocolError(RemoteProtocolError):
    """The bytes at the start of the connection are not a valid PROXY protocol header."""


@dataclass(frozen=True, slots=True)
class ProxyHeader:
    """One parsed PROXY protocol header.

    ``source``/``destination`` are the relayed connection's client and server: ``(host,
    port)`` for TCP, a socket path for UNIX, and None when the header does not carry them
    (v1 ``UNKNOWN``, the v2 ``LOCAL`` command of a health check, v2 ``UNSPEC`` or a datagram
    protocol), in which case the real connection's addresses stand (§2.1, §2.2).
    """

    version: Literal[1, 2]
    #: ``PROXY`` (relayed on behalf of a client) or ``LOCAL`` (the proxy's own connection).
    command: Literal["PROXY", "LOCAL"]
    family: Family
    source: Address | str | None = None
    destination: Address | str | None = None
    #: v2 Type-Length-Value vectors, as (type, value), in order; none are interpreted (§2.2:
    #: "a receiver may choose to skip over and ignore the TLVs"), so PP2_TYPE_CRC32C is not
    #: checked either.
    tlvs: tuple[tuple[int, bytes], ...] = ()
    #: The header's length on the wire.
    length: int = 0

    @property
    def relayed(self) -> bool:
        """Whether the header names the relayed connection's addresses."""
        return self.source is not None


class ProxyHeaderParser:
    """Reads one PROXY protocol header off the start of a connection.

    Feed received bytes to :meth:`receive_data` until it returns the header; the bytes that
    followed it in the last feed are then in :attr:`trailing`. ``versions`` are the
    versions accepted (a header of another version is an error, §2: the receiver must be
    configured for what it receives).
    """

    __slots__ = ("_buffer", "_header", "trailing", "versions")

    def __init__(self, versions: Collection[int] = (1, 2)) -> None:
        if not versions or not set(versions) <= {1, 2}:
            raise ValueError(f"PROXY protocol versions must be 1 and/or 2, not {versions!r}")
        self.versions = frozenset(versions)
        self._buffer = bytearray()
        self._header: ProxyHeader | None = None
        #: What followed the header in the bytes that completed it: the relayed stream.
        self.trailing = b""

    @property
    def header(self) -> ProxyHeader | None:
        return self._header

    @property
    def pending(self) -> int:
        """Bytes of an incomplete header received so far."""
        return len(self._buffer)

    def receive_data(self, data: bytes) -> ProxyHeader | None:
        """Add ``data``; the header once it is complete, else None.

        Raises :class:`ProxyProtocolError` as soon as the bytes cannot be a valid header.
        """
        if self._header is not None:
            raise ProxyProtocolError("the PROXY protocol header has already been read")
        buffer = self._buffer
        buffer += data
        version = self._version()
        if version is None:
            return None
        header = self._parse_v2(buffer) if version == 2 else self._parse_v1(buffer)
        if header is not None:
            self._header = header
            self.trailing = bytes(buffer[header.length :])
            buffer.clear()
        return header

    @property
    def read_size(self) -> int:
        """How many more bytes can surely be read without reading past the header."""
        buffer = self._buffer
        have = len(buffer)
        version = self._version()
        if version == 2:
            if have < _V2_FIXED:
                return _V2_FIXED - have
            return _V2_FIXED + int.from_bytes(buffer[14:16], "big") - have
        if version == 1:
            minimum = _V1_MIN_BY_FAMILY.get(bytes(buffer[:11]), _V1_MIN_LENGTH)
            # Past the shortest possible line, CRLF may come next: read 2 bytes (1 after CR).
            return max(minimum - have, 1 if buffer.endswith(b"\r") else 2)
        # Not known yet: the shorter of the two shortest headers.
        return (_V1_MIN_LENGTH if 1 in self.versions else _V2_FIXED) - have

    def _version(self) -> int | None:
        """Which version the bytes so far can only be; raises if they can be neither."""
        buffer = self._buffer
        have = min(len(buffer), len(V2_SIGNATURE))
        if have == 0:
            return None
        if buffer[:have] == V2_SIGNATURE[:have]:
            if 2 not in self.versions:
                raise ProxyProtocolError("a PROXY protocol v2 header, but only v1 is accepted")
            return 2 if have == len(V2_SIGNATURE) else None
        have = min(len(buffer), len(_V1_PREFIX))
        if buffer[:have] == _V1_PREFIX[:have]:
            if 1 not in self.versions:
                raise ProxyProtocolError("a PROXY protocol v1 header, but only v2 is accepted")
            return 1
        raise ProxyProtocolError("no PROXY protocol signature at the start of the connection")

    # --- version 1: one line of text (§2.1) ----------------------------------------------

    def _parse_v1(self, buffer: bytearray) -> ProxyHeader | None:
        end = buffer.find(b"\n", 0, V1_MAX_LENGTH)
        if end < 0:
            if len(buffer) >= V1_MAX_LENGTH:
                raise ProxyProtocolError("PROXY v1 line without CRLF in its first 107 bytes")
            if b"\r" in buffer[:-1]:
                raise ProxyProtocolError("PROXY v1 line with a CR not followed by LF")
            return None
        # §2.1: "The receiver must not tolerate a single CR or LF character to end the line".
        if end == 0 or buffer[end - 1] != 0x0D:
            raise ProxyProtocolError("PROXY v1 line ends in a bare LF")
        line = bytes(buffer[: end - 1])
        if b"\r" in line:
            raise ProxyProtocolError("PROXY v1 line with a CR not followed by LF")
        parts = line.split(b" ")
        length = end + 1
        if len(parts) >= 2 and parts[1] == b"UNKNOWN":
            # The receiver must ignore anything presented before the CRLF.
            return ProxyHeader(1, "PROXY", "UNKNOWN", length=length)
        if len(parts) != 6 or parts[1] not in (b"TCP4", b"TCP6"):
            raise ProxyProtocolError(f"malformed PROXY v1 line {line[:V1_MAX_LENGTH]!r}")
        family: Family = "TCP4" if parts[1] == b"TCP4" else "TCP6"
        source = (_v1_address(parts[2], family), _v1_port(parts[4]))
        destination = (_v1_address(parts[3], family), _v1_port(parts[5]))
        return ProxyHeader(1, "PROXY", family, source, destination, length=length)

    # --- version 2: binary (§2.2) --------------------------------------------------------

    def _parse_v2(self, buffer: bytearray) -> ProxyHeader | None:
        if len(buffer) < _V2_FIXED:
            if len(buffer) > len(V2_SIGNATURE):
                _v2_version_and_command(buffer[12])
            return None
        command = _v2_version_and_command(buffer[12])
        length = _V2_FIXED + int.from_bytes(buffer[14:16], "big")
        if len(buffer) < length:
            return None
        if command == "LOCAL":
            # The proxy's own connection (a health check): the receiver "must use the real
            # connection endpoints and discard the protocol block including the family".
            return ProxyHeader(2, "LOCAL", "UNKNOWN", length=length)
        family, protocol = buffer[13] >> 4, buffer[13] & 0x0F
        if family > _AF_UNIX or protocol > 0x2:
            raise ProxyProtocolError(f"PROXY v2 header with unknown family {buffer[13]:#04x}")
        if family == _AF_UNSPEC or protocol == 0:
            # UNSPEC: "The receiver should ignore address information", and the block has no
            # defined layout to find TLVs in.
            return ProxyHeader(2, "PROXY", "UNKNOWN", length=length)
        block = bytes(buffer[_V2_FIXED:length])
        address_length = _ADDRESS_LENGTHS[family]
        if len(block) < address_length:
            raise ProxyProtocolError(
                f"PROXY v2 address block of {len(block)} bytes, {address_length} needed"
            )
        tlvs = _v2_tlvs(block[address_length:])
        if protocol != _STREAM:
            # §2.2: a receiver may fall back to UNSPEC (the real addresses) for what it does
            # not support; this server speaks TCP, so a datagram source means nothing to it.
            return ProxyHeader(2, "PROXY", "UNKNOWN", tlvs=tlvs, length=length)
        if family == _AF_UNIX:
            return ProxyHeader(
                2,
                "PROXY",
                "UNIX",
                _unix_path(block[:_UNIX_PATH]),
                _unix_path(block[_UNIX_PATH : 2 * _UNIX_PATH]),
                tlvs,
                length,
            )
        size = 4 if family == _AF_INET else 16
        source_port, destination_port = struct.unpack("!HH", block[2 * size : 2 * size + 4])
        source_ip = ipaddress.ip_address(block[:size])
        destination_ip = ipaddress.ip_address(block[size : 2 * size])
        return ProxyHeader(
            2,
            "PROXY",
            "TCP4" if family == _AF_INET else "TCP6",
            (str(source_ip), source_port),
            (str(destination_ip), destination_port),
            tlvs,
            length,
        )


def _v1_address(text: bytes, family: Family) -> str:
    # §2.1: canonical forms only. ipaddress rejects leading zeros in IPv4 (Python 3.9.5+);
    # an IPv6 zone ("%eth0") is not part of the grammar.
    try:
        decoded = text.decode("ascii")
        if "%" in decoded:
            raise ValueError(decoded)
        address: ipaddress.IPv4Address | ipaddress.IPv6Address
        if family == "TCP4":
            address = ipaddress.IPv4Address(decoded)
        else:
            address = ipaddress.IPv6Address(decoded)
    except (UnicodeDecodeError, ValueError):
        raise ProxyProtocolError(f"PROXY v1 line with a bad {family} address {text!r}") from None
    return str(address)


def _v1_port(text: bytes) -> int:
    # §2.1: decimal, 0-65535, no leading zeros.
    if not text.isdigit() or len(text) > 5 or (len(text) > 1 and text[:1] == b"0"):
        raise ProxyProtocolError(f"PROXY v1 line with a bad port {text!r}")
    port = int(text)
    if port > 65535:
        raise ProxyProtocolError(f"PROXY v1 line with a bad port {text!r}")
    return port


def _v2_version_and_command(byte: int) -> Literal["PROXY", "LOCAL"]:
    if byte >> 4 != 2:
        raise ProxyProtocolError(f"PROXY v2 header with version {byte >> 4}, not 2")
    command = byte & 0x0F
    if command > 1:
        # "Receivers must drop connections presenting unexpected values here."
        raise ProxyProtocolError(f"PROXY v2 header with unknown command {command}")
    return "PROXY" if command else "LOCAL"


def _v2_tlvs(data: bytes) -> tuple[tuple[int, bytes], ...]:
    tlvs = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < 3:
            raise ProxyProtocolError("PROXY v2 header with a truncated TLV")
        kind = data[offset]
        size = int.from_bytes(data[offset + 1 : offset + 3], "big")
        offset += 3
        if offset + size > len(data):
            raise ProxyProtocolError("PROXY v2 header with a TLV longer than the header")
        tlvs.append((kind, data[offset : offset + size]))
        offset += size
    return tuple(tlvs)


def _unix_path(raw: bytes) -> str:
    # A NUL-padded sun_path; an abstract socket's name starts with NUL (shown as "@").
    if raw[:1] == b"\x00":
        name = raw[1:].rstrip(b"\x00")
        return "@" + name.decode("utf-8", "backslashreplace") if name else ""
    return raw.split(b"\x00", 1)[0].decode("utf-8", "backslashreplace")
