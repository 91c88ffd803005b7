"""The PROXY protocol parser, sans IO: tables of header bytes in, header or error out.

Every valid header is also fed one byte at a time, and read the way a TLS listener reads it
(exactly ``read_size`` bytes at a time, from a stream that goes on past the header), which
must never take a byte of what follows.
"""

from __future__ import annotations

import ipaddress
import struct

import pytest

from hypercorn.protocol.proxy_protocol import (
    V2_SIGNATURE,
    ProxyHeader,
    ProxyHeaderParser,
    ProxyProtocolError,
)

PP2_TYPE_ALPN, PP2_TYPE_AUTHORITY, PP2_TYPE_CRC32C, PP2_TYPE_NOOP = 0x01, 0x02, 0x03, 0x04


def v2(
    command: int = 0x1,
    family: int = 0x11,
    block: bytes = b"",
    *,
    version: int = 0x2,
    length: int | None = None,
    signature: bytes = V2_SIGNATURE,
) -> bytes:
    size = len(block) if length is None else length
    return signature + bytes([version << 4 | command, family]) + struct.pack("!H", size) + block


def inet(source: str, destination: str, source_port: int, destination_port: int) -> bytes:
    return (
        ipaddress.ip_address(source).packed
        + ipaddress.ip_address(destination).packed
        + struct.pack("!HH", source_port, destination_port)
    )


def tlv(kind: int, value: bytes) -> bytes:
    return bytes([kind]) + struct.pack("!H", len(value)) + value


def unix(source: bytes, destination: bytes) -> bytes:
    return source.ljust(108, b"\x00") + destination.ljust(108, b"\x00")


TCP4_BLOCK = inet("192.0.2.1", "198.51.100.2", 56324, 443)
TCP6_BLOCK = inet("2001:db8::1", "2001:db8::2", 1, 65535)
LONGEST_V1 = b"PROXY UNKNOWN " + b":".join([b"ffff"] * 8) + b" " + b":".join([b"ffff"] * 8)
LONGEST_V1 += b" 65535 65535\r\n"
assert len(LONGEST_V1) == 107

VALID = [
    (
        b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
        ProxyHeader(1, "PROXY", "TCP4", ("192.168.0.1", 56324), ("192.168.0.11", 443)),
    ),
    (
        b"PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n",
        ProxyHeader(1, "PROXY", "TCP4", ("255.255.255.255", 65535), ("255.255.255.255", 65535)),
    ),
    (
        b"PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n",
        ProxyHeader(1, "PROXY", "TCP4", ("0.0.0.0", 0), ("0.0.0.0", 0)),
    ),
    (
        b"PROXY TCP6 2001:DB8::1 2001:db8:0:0:0:0:0:2 1 65535\r\n",
        ProxyHeader(1, "PROXY", "TCP6", ("2001:db8::1", 1), ("2001:db8::2", 65535)),
    ),
    (b"PROXY TCP6 :: :: 0 0\r\n", ProxyHeader(1, "PROXY", "TCP6", ("::", 0), ("::", 0))),
    (b"PROXY UNKNOWN\r\n", ProxyHeader(1, "PROXY", "UNKNOWN")),
    (LONGEST_V1, ProxyHeader(1, "PROXY", "UNKNOWN")),
    # "the receiver must ignore anything presented before the CRLF"
    (b"PROXY UNKNOWN whatever \x01 it is\r\n", ProxyHeader(1, "PROXY", "UNKNOWN")),
    (
        v2(block=TCP4_BLOCK),
        ProxyHeader(2, "PROXY", "TCP4", ("192.0.2.1", 56324), ("198.51.100.2", 443)),
    ),
    (
        v2(family=0x21, block=TCP6_BLOCK),
        ProxyHeader(2, "PROXY", "TCP6", ("2001:db8::1", 1), ("2001:db8::2", 65535)),
    ),
    (
        v2(family=0x31, block=unix(b"/run/client.sock", b"/run/app.sock")),
        ProxyHeader(2, "PROXY", "UNIX", "/run/client.sock", "/run/app.sock"),
    ),
    (
        v2(family=0x31, block=unix(b"\x00abstract", b"")),
        ProxyHeader(2, "PROXY", "UNIX", "@abstract", ""),
    ),
    # LOCAL (a health check): the block, whatever it holds, is skipped.
    (v2(command=0x0, family=0x00), ProxyHeader(2, "LOCAL", "UNKNOWN")),
    (v2(command=0x0, family=0x11, block=TCP4_BLOCK), ProxyHeader(2, "LOCAL", "UNKNOWN")),
    (v2(command=0x0, family=0xFF, block=b"\xff" * 9), ProxyHeader(2, "LOCAL", "UNKNOWN")),
    # UNSPEC, or a datagram protocol: the real addresses stand.
    (v2(family=0x00, block=b"ignored"), ProxyHeader(2, "PROXY", "UNKNOWN")),
    (v2(family=0x10, block=b"no layout"), ProxyHeader(2, "PROXY", "UNKNOWN")),
    (v2(family=0x12, block=TCP4_BLOCK), ProxyHeader(2, "PROXY", "UNKNOWN")),
    # TLVs are kept, in order, and none is interpreted (not even a wrong CRC32C).
    (
        v2(
            block=TCP4_BLOCK
            + tlv(PP2_TYPE_ALPN, b"h2")
            + tlv(PP2_TYPE_AUTHORITY, b"example.com")
            + tlv(PP2_TYPE_CRC32C, b"\x00\x00\x00\x00")
            + tlv(PP2_TYPE_NOOP, b"")
            + tlv(0xE0, b"\x00" * 300)
        ),
        ProxyHeader(
            2,
            "PROXY",
            "TCP4",
            ("192.0.2.1", 56324),
            ("198.51.100.2", 443),
            (
                (PP2_TYPE_ALPN, b"h2"),
                (PP2_TYPE_AUTHORITY, b"example.com"),
                (PP2_TYPE_CRC32C, b"\x00\x00\x00\x00"),
                (PP2_TYPE_NOOP, b""),
                (0xE0, b"\x00" * 300),
            ),
        ),
    ),
    # The largest header the length field allows.
    (
        v2(family=0x21, block=TCP6_BLOCK + tlv(0xEE, b"x" * (65535 - 36 - 3))),
        ProxyHeader(
            2,
            "PROXY",
            "TCP6",
            ("2001:db8::1", 1),
            ("2001:db8::2", 65535),
            ((0xEE, b"x" * (65535 - 36 - 3)),),
        ),
    ),
]
VALID_IDS = [f"{index}-{data[:24]!r}" for index, (data, _) in enumerate(VALID)]

INVALID = [
    # not the protocol at all
    (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", "signature"),
    (b"proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "signature"),
    (b"PROXY\r\n", "signature"),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", "signature"),  # a TLS ClientHello
    (b"\r\n\r\n\x00\r\nQUIT\r" + b"\x21\x11\x00\x00", "signature"),
    (b"\r\n\r\nGET / HTTP/1.1\r\n", "signature"),
    # version 1 line syntax
    (b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\n", "bare LF"),
    (b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\r\n", "CR"),
    (b"PROXY TCP4 192.168.0.1\r192.168.0.11 56324 443\r\n", "CR"),
    (b"PROXY TCP4  192.168.0.1 192.168.0.11 56324 443\r\n", "malformed"),
    (b"PROXY TCP4 192.168.0.1 192.168.0.11 56324\r\n", "malformed"),
    (b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443 1\r\n", "malformed"),
    (b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443 \r\n", "malformed"),
    (b"PROXY TCP5 192.168.0.1 192.168.0.11 56324 443\r\n", "malformed"),
    (b"PROXY tcp4 192.168.0.1 192.168.0.11 56324 443\r\n", "malformed"),
    (b"PROXY \r\n", "malformed"),
    (b"PROXY UNKNOWN " + b"f" * 92 + b"\r\n", "107"),  # 108 bytes
    (b"PROXY UNKNOWN " + b"a" * 200, "107"),
    # version 1 addresses and ports
    (b"PROXY TCP4 192.168.0.01 192.168.0.11 56324 443\r\n", "address"),
    (b"PROXY TCP4 192.168.0.256 192.168.0.11 56324 443\r\n", "address"),
    (b"PROXY TCP4 2001:db8::1 192.168.0.11 56324 443\r\n", "address"),
    (b"PROXY TCP6 192.168.0.1 2001:db8::2 56324 443\r\n", "address"),
    (b"PROXY TCP6 fe80::1%eth0 2001:db8::2 56324 443\r\n", "address"),
    (b"PROXY TCP4 example.com 192.168.0.11 56324 443\r\n", "address"),
    (b"PROXY TCP4 192.168.0.1 192.168.0.\xc2\xb9 56324 443\r\n", "address"),
    (b"PROXY TCP4 192.168.0.1 192.168.0.11 056324 443\r\n", "port"),
    (b"PROXY TCP4 192.168.0.1 192.168.0.11 65536 443\r\n", "port"),
    (b"PROXY TCP4 192.168.0.1 192.168.0.11 -1 443\r\n", "port"),
    (b"PROXY TCP4 192.168.0.1 192.168.0.11 +1 443\r\n", "port"),
    (b"PROXY TCP4 192.168.0.1 192.168.0.11 1 0x1\r\n", "port"),
    (b"PROXY TCP4 192.168.0.1 192.168.0.11 \xd9\xa1 1\r\n", "port"),  # Arabic-Indic 1
    # version 2 fixed header
    (v2(version=0x1, block=TCP4_BLOCK), "version 1, not 2"),
    (v2(version=0x3, block=TCP4_BLOCK), "version 3"),
    (v2(command=0x2, block=TCP4_BLOCK), "command"),
    (v2(command=0xF, block=TCP4_BLOCK), "command"),
    (v2(family=0x41, block=TCP4_BLOCK), "family"),
    (v2(family=0x13, block=TCP4_BLOCK), "family"),
    # version 2 address block and TLVs
    (v2(block=TCP4_BLOCK[:11]), "12 needed"),
    (v2(family=0x21, block=TCP4_BLOCK), "36 needed"),
    (v2(family=0x31, block=b"/tmp/x\x00"), "216 needed"),
    (v2(block=TCP4_BLOCK + b"\x01\x00"), "truncated TLV"),
    (v2(block=TCP4_BLOCK + b"\x01\x00\x05abc"), "longer than the header"),
    (v2(block=TCP4_BLOCK + tlv(0x01, b"h2") + b"\x02"), "truncated TLV"),
]
INVALID_IDS = [f"{index}-{reason}" for index, (_, reason) in enumerate(INVALID)]


def parse(data: bytes, versions: tuple[int, ...] = (1, 2)) -> tuple[ProxyHeader, bytes]:
    parser = ProxyHeaderParser(versions)
    header = parser.receive_data(data)
    assert header is not None
    return header, parser.trailing


@pytest.mark.parametrize(("data", "expected"), VALID, ids=VALID_IDS)
def test_valid_headers(data: bytes, expected: ProxyHeader) -> None:
    header, trailing = parse(data + b"GET / HTTP/1.1\r\n\r\n")
    assert header == ProxyHeader(
        expected.version,
        expected.command,
        expected.family,
        expected.source,
        expected.destination,
        expected.tlvs,
        len(data),
    )
    assert header.relayed == isinstance(expected.source, tuple | str)
    assert trailing == b"GET / HTTP/1.1\r\n\r\n"


@pytest.mark.parametrize(("data", "expected"), VALID, ids=VALID_IDS)
def test_valid_headers_byte_by_byte(data: bytes, expected: ProxyHeader) -> None:
    parser = ProxyHeaderParser()
    for index in range(len(data) - 1):
        assert parser.receive_data(data[index : index + 1]) is None
        assert parser.pending == index + 1
    header = parser.receive_data(data[-1:])
    assert header is not None
    assert (header.family, header.source, header.destination) == (
        expected.family,
        expected.source,
        expected.destination,
    )
    assert parser.trailing == b""
    assert parser.header is header


@pytest.mark.parametrize(("data", "expected"), VALID, ids=VALID_IDS)
def test_exact_reads_never_take_what_follows(data: bytes, expected: ProxyHeader) -> None:
    # How a TLS listener reads: only read_size bytes at a time, from a stream that goes on
    # (with a ClientHello that must be left for the handshake).
    stream = data + b"\x16\x03\x01" + b"\x00" * 200
    versions = (expected.version,) if expected.version == 2 else (1, 2)
    parser = ProxyHeaderParser(versions)
    offset = 0
    reads = 0
    header = None
    while header is None:
        size = parser.read_size
        assert size > 0
        header = parser.receive_data(stream[offset : offset + size])
        offset += size
        reads += 1
    assert offset == len(data)
    assert parser.trailing == b""
    assert header.family == expected.family
    # v2 takes two reads at most (the fixed part, then the rest); v1 stays well short of
    # one read per byte.
    assert reads <= (2 if expected.version == 2 else len(data) // 2 + 2)


@pytest.mark.parametrize(("data", "reason"), INVALID, ids=INVALID_IDS)
def test_invalid_headers(data: bytes, reason: str) -> None:
    with pytest.raises(ProxyProtocolError, match=reason):
        ProxyHeaderParser().receive_data(data)


@pytest.mark.parametrize(("data", "reason"), INVALID, ids=INVALID_IDS)
def test_invalid_headers_byte_by_byte(data: bytes, reason: str) -> None:
    # Fed a byte at a time, the error comes as soon as it is certain (and the same one).
    parser = ProxyHeaderParser()
    with pytest.raises(ProxyProtocolError, match=reason):
        for index in range(len(data)):
            parser.receive_data(data[index : index + 1])


def test_wrong_signature_is_refused_at_the_first_wrong_byte() -> None:
    parser = ProxyHeaderParser()
    assert parser.receive_data(b"PROX") is None
    with pytest.raises(ProxyProtocolError, match="signature"):
        parser.receive_data(b"I")
    parser = ProxyHeaderParser()
    assert parser.receive_data(V2_SIGNATURE[:4]) is None
    with pytest.raises(ProxyProtocolError, match="signature"):
        parser.receive_data(b"G")


def test_version_2_command_is_checked_before_the_block_arrives() -> None:
    parser = ProxyHeaderParser()
    with pytest.raises(ProxyProtocolError, match="command"):
        parser.receive_data(V2_SIGNATURE + b"\x25")


@pytest.mark.parametrize(
    ("versions", "data", "reason"),
    [
        ((1,), v2(block=TCP4_BLOCK), "only v1"),
        ((1,), V2_SIGNATURE[:1], "only v1"),
        ((2,), b"PROXY UNKNOWN\r\n", "only v2"),
        ((2,), b"P", "only v2"),
    ],
)
def test_only_the_configured_versions(versions: tuple[int, ...], data: bytes, reason: str) -> None:
    with pytest.raises(ProxyProtocolError, match=reason):
        ProxyHeaderParser(versions).receive_data(data)


def test_truncated_headers_need_more() -> None:
    for data, _ in VALID:
        for cut in sorted({1, 6, 12, 15, len(data) - 1} & set(range(1, len(data)))):
            parser = ProxyHeaderParser()
            assert parser.receive_data(data[:cut]) is None
            assert parser.read_size > 0


def test_oversized_version_1_line_is_refused_at_107_bytes() -> None:
    parser = ProxyHeaderParser()
    assert parser.receive_data(b"PROXY UNKNOWN " + b"f" * 92) is None  # 106 bytes, no CRLF
    with pytest.raises(ProxyProtocolError, match="107"):
        parser.receive_data(b"f")


def test_version_2_buffering_is_bounded_by_its_length_field() -> None:
    header = v2(block=TCP4_BLOCK + tlv(0xEE, b"x" * 1000))
    parser = ProxyHeaderParser()
    assert parser.receive_data(header[:16]) is None
    assert parser.read_size == len(header) - 16
    assert parser.receive_data(header[16:-1]) is None
    assert parser.read_size == 1
    assert parser.receive_data(header[-1:] + b"rest") is not None
    assert parser.trailing == b"rest"


def test_first_read_size() -> None:
    # The shortest headers: "PROXY UNKNOWN\r\n" (15 bytes) and a v2 LOCAL (16 bytes).
    assert ProxyHeaderParser().read_size == 15
    assert ProxyHeaderParser((1,)).read_size == 15
    assert ProxyHeaderParser((2,)).read_size == 16


def test_nothing_is_read_after_the_header() -> None:
    parser = ProxyHeaderParser()
    assert parser.receive_data(b"PROXY UNKNOWN\r\n") is not None
    with pytest.raises(ProxyProtocolError, match="already"):
        parser.receive_data(b"more")


@pytest.mark.parametrize("versions", [(), (3,), (1, 3)])
def test_versions_are_checked(versions: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="versions"):
        ProxyHeaderParser(versions)
