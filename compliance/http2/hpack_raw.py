"""Hand-built HPACK (RFC 7541) representations, valid and invalid.

The ``hpack`` package's Encoder produces only correct, compact blocks, chosen by itself. The
tests need to pick the representation (RFC 7541 §6) and to produce the invalid ones (index 0, an
index past the tables, a size update in the wrong place, bad Huffman padding), so those bytes are
built here. The Huffman code table itself comes from ``hpack``.

Note that a block which inserts into the dynamic table (incremental indexing, §6.2.1) changes
the server's decoder state behind the back of the client's ``hpack.Encoder``; the client marks
itself accordingly (see ``H2Client.send_header_block``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH

# RFC 7541 Appendix A: the static table has 61 entries; dynamic entries start at 62.
STATIC_TABLE_SIZE = 61
# RFC 7541 Appendix B: EOS is symbol 256.
EOS_SYMBOL = 256


class Indexing(enum.Enum):
    """The three literal representations of RFC 7541 §6.2: (first-octet pattern, prefix bits)."""

    INCREMENTAL = (0x40, 6)  # §6.2.1
    WITHOUT = (0x00, 4)  # §6.2.2
    NEVER = (0x10, 4)  # §6.2.3


def integer(value: int, prefix_bits: int, pattern: int = 0) -> bytes:
    """RFC 7541 §5.1: ``value`` on an N-bit prefix; ``pattern`` gives the other high bits."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([pattern | value])
    out = bytearray([pattern | limit])
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def huffman_bits(data: bytes) -> tuple[int, int]:
    """The Huffman code of ``data`` (RFC 7541 Appendix B) as (bits, bit count), unpadded."""
    bits = 0
    count = 0
    for byte in data:
        bits = (bits << REQUEST_CODES_LENGTH[byte]) | REQUEST_CODES[byte]
        count += REQUEST_CODES_LENGTH[byte]
    return bits, count


def eos_bits() -> tuple[int, int]:
    """The 30-bit code of the EOS symbol, which must never appear in a string (RFC 7541 §5.2)."""
    return REQUEST_CODES[EOS_SYMBOL], REQUEST_CODES_LENGTH[EOS_SYMBOL]


def bits_to_bytes(bits: int, count: int) -> bytes:
    """``count`` bits, which must be a multiple of 8, as bytes."""
    if count % 8:
        raise ValueError(f"{count} bits is not a whole number of octets")
    return bits.to_bytes(count // 8, "big")


def huffman(data: bytes) -> bytes:
    """``data`` Huffman-coded and padded with the most significant bits of EOS (all ones)."""
    bits, count = huffman_bits(data)
    padding = -count % 8
    return bits_to_bytes((bits << padding) | ((1 << padding) - 1), count + padding)


def string(data: bytes, *, use_huffman: bool = False) -> bytes:
    """An RFC 7541 §5.2 string literal: H bit, 7-bit-prefix length, octets."""
    if use_huffman:
        coded = huffman(data)
        return integer(len(coded), 7, 0x80) + coded
    return integer(len(data), 7) + data


def raw_string(coded: bytes, *, huffman_flag: bool) -> bytes:
    """A string literal whose octets are given as is (to send Huffman codes that are invalid)."""
    return integer(len(coded), 7, 0x80 if huffman_flag else 0) + coded


def indexed(index: int) -> bytes:
    """RFC 7541 §6.1: an indexed header field."""
    return integer(index, 7, 0x80)


def literal(
    name: bytes | int,
    value: bytes,
    indexing: Indexing = Indexing.WITHOUT,
    *,
    use_huffman: bool = False,
) -> bytes:
    """RFC 7541 §6.2: a literal field; ``name`` is a table index or a new name."""
    pattern, prefix_bits = indexing.value
    if isinstance(name, int):
        return integer(name, prefix_bits, pattern) + string(value, use_huffman=use_huffman)
    return (
        bytes([pattern])
        + string(name, use_huffman=use_huffman)
        + string(value, use_huffman=use_huffman)
    )


def table_size_update(size: int) -> bytes:
    """RFC 7541 §6.3: a dynamic table size update."""
    return integer(size, 5, 0x20)


def literal_block(headers: Iterable[tuple[bytes, bytes]]) -> bytes:
    """A field block of literals without indexing and with new names, bytes exactly as given.

    Nothing is validated or lowercased, and the dynamic table is untouched, so this is how the
    tests send fields that a careful encoder would refuse (uppercase names, CR/LF, NUL).
    """
    return b"".join(literal(name, value) for name, value in headers)
