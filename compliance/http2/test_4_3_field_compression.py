"""RFC 9113 §4.3: field section compression and decompression (field blocks)."""

from __future__ import annotations

import pytest

from . import hpack_raw, streams
from .client import Connector, H2Client
from .frames import ErrorCode, Flag, FrameType
from .hpack_raw import Indexing


def test_invalid_field_block(conn: H2Client) -> None:
    """§4.3: a field block that does not decode is a connection error COMPRESSION_ERROR."""
    block = conn.encode(conn.request_headers())
    # A literal whose value claims 100 octets where the block ends after 3.
    broken = block + hpack_raw.literal(b"x-broken", b"")[:-1] + bytes([100]) + b"abc"
    conn.send_header_block(1, broken)
    conn.expect_connection_error(ErrorCode.COMPRESSION_ERROR)


def test_ping_inside_field_block(conn: H2Client) -> None:
    """§4.3: a field block is contiguous; a PING between HEADERS and CONTINUATION is an error."""
    block = conn.encode(conn.request_headers())
    conn.send_header_block(1, block[:5], end_headers=False)
    conn.send_ping(b"inblock!")
    conn.send_continuation(1, block[5:])
    conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)


def test_data_inside_field_block(conn: H2Client) -> None:
    """§4.3: a DATA frame on the same stream inside a field block is a PROTOCOL_ERROR."""
    block = conn.encode(conn.request_headers("POST"))
    conn.send_header_block(1, block[:5], end_stream=False, end_headers=False)
    conn.send_data(1, b"data")
    conn.send_continuation(1, block[5:])
    conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)


def test_field_block_split_inside_a_string(conn: H2Client) -> None:
    """§4.3: a field block may be split anywhere, even inside a string, across CONTINUATIONs."""
    block = conn.encode(conn.request_headers(extra=[("x-long", "v" * 100)]))
    middle = len(block) - 50
    conn.send_header_block(1, block[:middle], end_headers=False)
    conn.send_continuation(1, block[middle:])
    assert conn.expect_response(1).status == 200


def test_discarded_block_still_updates_the_dynamic_table(connect: Connector) -> None:
    """§4.3: a field block is decoded even when its frame is rejected, keeping HPACK in sync."""
    conn, stream_id = streams.half_closed_remote(connect)
    # HEADERS on a half-closed (remote) stream is a stream error (§5.1), but its block
    # inserts an entry that later blocks refer to.
    inserted = hpack_raw.literal(b"x-compliance", b"remembered", Indexing.INCREMENTAL)
    conn.send_header_block(stream_id, inserted, changes_table=True)
    conn.expect_stream_error(stream_id, ErrorCode.STREAM_CLOSED)
    if conn.goaway is not None or conn.closed:
        pytest.skip("the server answered with a connection error; nothing left to check")
    # The entry is index 62 now (RFC 7541 §2.3.3); the zero window holds back only DATA.
    pseudo = hpack_raw.literal_block(conn.request_headers())
    conn.send_header_block(3, pseudo + hpack_raw.indexed(62))
    assert conn.expect_headers(3).status == 200


def test_continuation_for_another_stream(conn: H2Client) -> None:
    """§4.3: a CONTINUATION on a stream other than its HEADERS' is a PROTOCOL_ERROR."""
    block = conn.encode(conn.request_headers())
    conn.send_header_block(1, block[:5], end_headers=False)
    conn.send_frame(FrameType.CONTINUATION, block[5:], flags=Flag.END_HEADERS, stream_id=3)
    conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)
