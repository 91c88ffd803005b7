"""RFC 7541 §4.2 (maximum table size) and §6.3 (dynamic table size update)."""

from __future__ import annotations

from . import hpack_raw
from .client import DEFAULT_SETTINGS, Connector, H2Client
from .frames import ErrorCode, Setting
from .hpack_raw import Indexing

FIRST_DYNAMIC = hpack_raw.STATIC_TABLE_SIZE + 1


def _pseudo(conn: H2Client) -> bytes:
    return hpack_raw.literal_block(conn.request_headers())


def test_size_update_at_end_of_block(conn: H2Client) -> None:
    """§4.2: a size update must open a field block; one at the end is COMPRESSION_ERROR."""
    conn.send_header_block(1, _pseudo(conn) + hpack_raw.table_size_update(0), changes_table=True)
    conn.expect_connection_error(ErrorCode.COMPRESSION_ERROR)


def test_size_update_between_fields(conn: H2Client) -> None:
    """§4.2: a size update after the first field line is COMPRESSION_ERROR."""
    headers = conn.request_headers()
    block = (
        hpack_raw.literal_block(headers[:2])
        + hpack_raw.table_size_update(0)
        + hpack_raw.literal_block(headers[2:])
    )
    conn.send_header_block(1, block, changes_table=True)
    conn.expect_connection_error(ErrorCode.COMPRESSION_ERROR)


def test_size_update_above_settings(conn: H2Client) -> None:
    """§6.3: a size update above SETTINGS_HEADER_TABLE_SIZE is COMPRESSION_ERROR."""
    limit = conn.server_setting(Setting.HEADER_TABLE_SIZE)
    block = hpack_raw.table_size_update(limit + 1) + _pseudo(conn)
    conn.send_header_block(1, block, changes_table=True)
    conn.expect_connection_error(ErrorCode.COMPRESSION_ERROR)


def test_size_update_to_zero(conn: H2Client) -> None:
    """§6.3: a size update to 0 at the start of a block is valid."""
    conn.send_header_block(1, hpack_raw.table_size_update(0) + _pseudo(conn), changes_table=True)
    assert conn.expect_response(1).status == 200


def test_two_size_updates(conn: H2Client) -> None:
    """§4.2: two size updates (smallest first) may open a block."""
    limit = conn.server_setting(Setting.HEADER_TABLE_SIZE)
    updates = hpack_raw.table_size_update(0) + hpack_raw.table_size_update(limit)
    conn.send_header_block(1, updates + _pseudo(conn), changes_table=True)
    assert conn.expect_response(1).status == 200


def test_size_update_to_zero_evicts(conn: H2Client) -> None:
    """§4.3: shrinking the table to 0 evicts every entry; referencing one is COMPRESSION_ERROR."""
    limit = conn.server_setting(Setting.HEADER_TABLE_SIZE)
    inserted = hpack_raw.literal(b"x-dynamic", b"evict me", Indexing.INCREMENTAL)
    conn.send_header_block(1, _pseudo(conn) + inserted, changes_table=True)
    assert conn.expect_response(1).status == 200
    updates = hpack_raw.table_size_update(0) + hpack_raw.table_size_update(limit)
    conn.send_header_block(3, updates + _pseudo(conn) + hpack_raw.indexed(FIRST_DYNAMIC))
    conn.expect_connection_error(ErrorCode.COMPRESSION_ERROR)


def test_server_honours_zero_table_size(connect: Connector) -> None:
    """§4.2/RFC 9113 §6.5.2: with SETTINGS_HEADER_TABLE_SIZE 0 the server's blocks fit it."""
    conn = connect([*DEFAULT_SETTINGS, (Setting.HEADER_TABLE_SIZE, 0)])
    # The client's decoder rejects any block that breaks the limit (ServerViolation).
    for _ in range(3):
        assert conn.get().status == 200


def test_server_honours_reduced_table_size(conn: H2Client) -> None:
    """§4.2: after the client lowers SETTINGS_HEADER_TABLE_SIZE, the server signals the update."""
    for _ in range(2):
        assert conn.get().status == 200
    conn.send_settings((Setting.HEADER_TABLE_SIZE, 0))
    conn.expect_settings_ack()
    for _ in range(2):
        assert conn.get().status == 200
