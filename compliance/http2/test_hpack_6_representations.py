"""RFC 7541 §6: binary representations of fields (indexed, the three literal kinds)."""

from __future__ import annotations

import pytest

from . import hpack_raw
from .client import H2Client
from .frames import ErrorCode
from .hpack_raw import Indexing

USER_AGENT = 58  # Appendix A: user-agent, no value

REPRESENTATIONS = {
    f"{indexing.name.lower()}-{'indexed-name' if named else 'new-name'}"
    f"{'-huffman' if use_huffman else ''}": hpack_raw.literal(
        USER_AGENT if named else b"x-representation",
        b"compliance-suite/1.0",
        indexing,
        use_huffman=use_huffman,
    )
    for indexing in Indexing
    for named in (True, False)
    for use_huffman in (False, True)
}


def test_indexed_field_from_static_table(conn: H2Client) -> None:
    """§6.1: an indexed field referring to the static table is understood."""
    block = hpack_raw.literal_block(conn.request_headers()) + hpack_raw.indexed(16)
    conn.send_header_block(1, block)
    assert conn.expect_response(1).status == 200


@pytest.mark.parametrize(
    "representation", REPRESENTATIONS.values(), ids=list(REPRESENTATIONS.keys())
)
def test_literal_representation(conn: H2Client, representation: bytes) -> None:
    """§6.2: literals with/without/never indexing, indexed or new name, plain or Huffman."""
    block = hpack_raw.literal_block(conn.request_headers()) + representation
    conn.send_header_block(1, block, changes_table=True)
    assert conn.expect_response(1).status == 200


def test_indexed_field_zero(conn: H2Client) -> None:
    """§6.1: index 0 in an indexed field is a decoding error: COMPRESSION_ERROR."""
    block = hpack_raw.literal_block(conn.request_headers()) + hpack_raw.indexed(0)
    conn.send_header_block(1, block)
    conn.expect_connection_error(ErrorCode.COMPRESSION_ERROR)


def test_literal_name_index_zero_means_new_name(conn: H2Client) -> None:
    """§6.2.1: a literal with name index 0 is followed by a new name (it is not an error)."""
    representation = bytes([0x40]) + hpack_raw.string(b"x-new") + hpack_raw.string(b"value")
    block = hpack_raw.literal_block(conn.request_headers()) + representation
    conn.send_header_block(1, block, changes_table=True)
    assert conn.expect_response(1).status == 200
