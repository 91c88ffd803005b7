"""RFC 7541 §2.3 (index address space) and §4.4 (eviction), through HTTP/2 requests."""

from __future__ import annotations

from . import hpack_raw
from .client import H2Client
from .frames import ErrorCode
from .hpack_raw import Indexing

FIRST_DYNAMIC = hpack_raw.STATIC_TABLE_SIZE + 1  # index 62


def _pseudo(conn: H2Client) -> bytes:
    return hpack_raw.literal_block(conn.request_headers())


def test_indexed_field_past_both_tables(conn: H2Client) -> None:
    """§2.3.3: an index past the static table with an empty dynamic table is COMPRESSION_ERROR."""
    conn.send_header_block(1, _pseudo(conn) + hpack_raw.indexed(FIRST_DYNAMIC))
    conn.expect_connection_error(ErrorCode.COMPRESSION_ERROR)


def test_indexed_field_far_past_both_tables(conn: H2Client) -> None:
    """§2.3.3: a huge index (multi-octet integer) is a decoding error: COMPRESSION_ERROR."""
    conn.send_header_block(1, _pseudo(conn) + hpack_raw.indexed(100_000))
    conn.expect_connection_error(ErrorCode.COMPRESSION_ERROR)


def test_literal_name_index_past_both_tables(conn: H2Client) -> None:
    """§2.3.3: a literal whose name index is past both tables is COMPRESSION_ERROR."""
    conn.send_header_block(1, _pseudo(conn) + hpack_raw.literal(70, b"value"))
    conn.expect_connection_error(ErrorCode.COMPRESSION_ERROR)


def test_static_table_indices(conn: H2Client) -> None:
    """§2.3.1/Appendix A: a request built from static-table indices is understood."""
    scheme = hpack_raw.indexed(7 if conn.target.tls else 6)  # :scheme https / http
    block = (
        hpack_raw.indexed(2)  # :method GET
        + scheme
        + hpack_raw.indexed(4)  # :path /
        + hpack_raw.literal(1, conn.target.authority.encode())  # :authority
        + hpack_raw.indexed(16)  # accept-encoding: gzip, deflate
    )
    conn.send_header_block(1, block)
    assert conn.expect_response(1).status == 200


def test_dynamic_entry_used_in_same_block(conn: H2Client) -> None:
    """§2.3.2: an entry inserted by a block can be referenced later in the same block."""
    inserted = hpack_raw.literal(b"x-dynamic", b"same block", Indexing.INCREMENTAL)
    block = _pseudo(conn) + inserted + hpack_raw.indexed(FIRST_DYNAMIC)
    conn.send_header_block(1, block, changes_table=True)
    assert conn.expect_response(1).status == 200


def test_dynamic_entry_used_in_later_block(conn: H2Client) -> None:
    """§2.3.2: the dynamic table persists across the field blocks of a connection."""
    inserted = hpack_raw.literal(b"x-dynamic", b"later block", Indexing.INCREMENTAL)
    conn.send_header_block(1, _pseudo(conn) + inserted, changes_table=True)
    assert conn.expect_response(1).status == 200
    conn.send_header_block(3, _pseudo(conn) + hpack_raw.indexed(FIRST_DYNAMIC))
    assert conn.expect_response(3).status == 200


def test_dynamic_name_reference(conn: H2Client) -> None:
    """§2.3.3: a literal may take its name from a dynamic-table entry."""
    inserted = hpack_raw.literal(b"x-dynamic", b"first", Indexing.INCREMENTAL)
    reference = hpack_raw.literal(FIRST_DYNAMIC, b"second")
    conn.send_header_block(1, _pseudo(conn) + inserted + reference, changes_table=True)
    assert conn.expect_response(1).status == 200


def test_dynamic_indices_shift_on_insert(conn: H2Client) -> None:
    """§2.3.3: newer entries take the lowest dynamic index; the older one moves to 63."""
    first = hpack_raw.literal(b"x-first", b"1", Indexing.INCREMENTAL)
    second = hpack_raw.literal(b"x-second", b"2", Indexing.INCREMENTAL)
    block = _pseudo(conn) + first + second + hpack_raw.indexed(FIRST_DYNAMIC + 1)
    conn.send_header_block(1, block, changes_table=True)
    assert conn.expect_response(1).status == 200
    # Index 64 does not exist: only two entries.
    conn.send_header_block(3, _pseudo(conn) + hpack_raw.indexed(FIRST_DYNAMIC + 2))
    conn.expect_connection_error(ErrorCode.COMPRESSION_ERROR)


def test_evicted_entry(conn: H2Client) -> None:
    """§4.4: inserting past the table size evicts the oldest entry; its index is then invalid."""
    # Each entry is 3 + 1 + 32 = 36 octets; a 64-octet table holds one.
    block = (
        hpack_raw.table_size_update(64)
        + _pseudo(conn)
        + hpack_raw.literal(b"x-a", b"1", Indexing.INCREMENTAL)
        + hpack_raw.literal(b"x-b", b"2", Indexing.INCREMENTAL)
        + hpack_raw.indexed(FIRST_DYNAMIC + 1)
    )
    conn.send_header_block(1, block, changes_table=True)
    conn.expect_connection_error(ErrorCode.COMPRESSION_ERROR)


def test_entry_larger_than_table(conn: H2Client) -> None:
    """§4.4: an entry larger than the table empties it, and is not an error itself."""
    oversized = hpack_raw.literal(b"x-big", b"v" * 100, Indexing.INCREMENTAL)
    block = hpack_raw.table_size_update(64) + _pseudo(conn) + oversized
    conn.send_header_block(1, block, changes_table=True)
    assert conn.expect_response(1).status == 200
    conn.send_header_block(3, _pseudo(conn) + hpack_raw.indexed(FIRST_DYNAMIC))
    conn.expect_connection_error(ErrorCode.COMPRESSION_ERROR)
