"""RFC 7541 §5: primitive types (integers §5.1, string literals and Huffman §5.2)."""

from __future__ import annotations

from . import hpack_raw
from .client import H2Client
from .frames import ErrorCode


def _request_with(conn: H2Client, representation: bytes) -> None:
    block = hpack_raw.literal_block(conn.request_headers()) + representation
    conn.send_header_block(1, block)


def _huffman_value(coded: bytes) -> bytes:
    """A literal without indexing, new name x-huffman, value given as raw Huffman octets."""
    return (
        b"\x00" + hpack_raw.string(b"x-huffman") + hpack_raw.raw_string(coded, huffman_flag=True)
    )


def test_huffman_value(conn: H2Client) -> None:
    """§5.2: a correctly Huffman-coded value (padded with EOS's high bits) is accepted."""
    _request_with(conn, _huffman_value(hpack_raw.huffman(b"huffman coded value")))
    assert conn.expect_response(1).status == 200


def test_huffman_padding_longer_than_seven_bits(conn: H2Client) -> None:
    """§5.2: Huffman padding strictly longer than 7 bits is a COMPRESSION_ERROR."""
    bits, count = hpack_raw.huffman_bits(b"a")  # 5 bits
    padding = 16 - count  # 11 bits of 1s
    coded = hpack_raw.bits_to_bytes((bits << padding) | ((1 << padding) - 1), 16)
    _request_with(conn, _huffman_value(coded))
    conn.expect_connection_error(ErrorCode.COMPRESSION_ERROR)


def test_huffman_padding_not_eos_prefix(conn: H2Client) -> None:
    """§5.2: padding that is not the high bits of EOS (here zeros) is a COMPRESSION_ERROR."""
    bits, count = hpack_raw.huffman_bits(b"a")  # 5 bits, then 3 zero bits
    coded = hpack_raw.bits_to_bytes(bits << (8 - count), 8)
    _request_with(conn, _huffman_value(coded))
    conn.expect_connection_error(ErrorCode.COMPRESSION_ERROR)


def test_huffman_string_containing_eos(conn: H2Client) -> None:
    """§5.2: a Huffman string that contains the EOS symbol is a COMPRESSION_ERROR."""
    bits, count = hpack_raw.huffman_bits(b"a")
    eos, eos_count = hpack_raw.eos_bits()
    total = count + eos_count
    padding = -total % 8
    value = (((bits << eos_count) | eos) << padding) | ((1 << padding) - 1)
    _request_with(conn, _huffman_value(hpack_raw.bits_to_bytes(value, total + padding)))
    conn.expect_connection_error(ErrorCode.COMPRESSION_ERROR)


def test_integer_beyond_any_limit(conn: H2Client) -> None:
    """§5.1: an integer past the decoder's limits (a 2^70 string length) is an error."""
    representation = b"\x00" + hpack_raw.integer(2**70, 7) + b"x-overflow"
    _request_with(conn, representation)
    conn.expect_connection_error(ErrorCode.COMPRESSION_ERROR)


def test_truncated_integer(conn: H2Client) -> None:
    """§5.1: a block ending inside a multi-octet integer is a COMPRESSION_ERROR."""
    _request_with(conn, hpack_raw.integer(1000, 7, 0x80)[:-1])
    conn.expect_connection_error(ErrorCode.COMPRESSION_ERROR)


def test_string_longer_than_block(conn: H2Client) -> None:
    """§5.2: a string length that runs past the end of the block is a COMPRESSION_ERROR."""
    _request_with(conn, b"\x00" + hpack_raw.integer(50, 7) + b"short")
    conn.expect_connection_error(ErrorCode.COMPRESSION_ERROR)
