"""RFC 9113 §4.2: frame size limits."""

from __future__ import annotations

import pytest

from . import hpack_raw
from .client import H2Client, ServerProfile
from .frames import ErrorCode, Flag, FrameType, Setting, settings_payload


def test_data_frame_of_max_frame_size(conn: H2Client, server_profile: ServerProfile) -> None:
    """§4.2: a DATA frame of exactly SETTINGS_MAX_FRAME_SIZE (2^14) octets is accepted."""
    stream_id = conn.open_stream()
    body = b"x" * conn.server_setting(Setting.MAX_FRAME_SIZE)
    conn.send_data(stream_id, body, end_stream=True)
    response = conn.expect_response(stream_id)
    assert response.status == 200
    if server_profile.echoes_post:
        assert response.body == body


def test_data_frame_above_max_frame_size(conn: H2Client) -> None:
    """§4.2: a DATA frame larger than SETTINGS_MAX_FRAME_SIZE is a FRAME_SIZE_ERROR."""
    stream_id = conn.open_stream()
    limit = conn.server_setting(Setting.MAX_FRAME_SIZE)
    conn.send_frame(FrameType.DATA, b"x" * (limit + 1), stream_id=stream_id)
    conn.expect_stream_error(stream_id, ErrorCode.FRAME_SIZE_ERROR)


def test_headers_frame_above_max_frame_size(conn: H2Client) -> None:
    """§4.2: an oversized HEADERS frame (it alters connection state) is a connection error."""
    limit = conn.server_setting(Setting.MAX_FRAME_SIZE)
    block = conn.encode(conn.request_headers()) + hpack_raw.literal(
        b"x-padding", b"x" * (limit + 200)
    )
    conn.send_frame(
        FrameType.HEADERS, block, flags=Flag.END_STREAM | Flag.END_HEADERS, stream_id=1
    )
    conn.expect_connection_error(ErrorCode.FRAME_SIZE_ERROR)


def test_continuation_frame_above_max_frame_size(conn: H2Client) -> None:
    """§4.2: an oversized CONTINUATION frame is a connection error FRAME_SIZE_ERROR."""
    limit = conn.server_setting(Setting.MAX_FRAME_SIZE)
    block = conn.encode(conn.request_headers()) + hpack_raw.literal(
        b"x-padding", b"x" * (limit + 200)
    )
    conn.send_frame(FrameType.HEADERS, block[:100], flags=Flag.END_STREAM, stream_id=1)
    conn.send_frame(FrameType.CONTINUATION, block[100:], flags=Flag.END_HEADERS, stream_id=1)
    conn.expect_connection_error(ErrorCode.FRAME_SIZE_ERROR)


def test_settings_frame_above_max_frame_size(conn: H2Client) -> None:
    """§4.2: an oversized frame on stream 0 (here SETTINGS) is a connection error."""
    limit = conn.server_setting(Setting.MAX_FRAME_SIZE)
    count = limit // 6 + 1
    conn.send_frame(FrameType.SETTINGS, settings_payload([(0xF0F0, 0)] * count))
    conn.expect_connection_error(ErrorCode.FRAME_SIZE_ERROR)


def test_server_frames_fit_client_max_frame_size(
    conn: H2Client, server_profile: ServerProfile
) -> None:
    """§4.2: the server never sends a frame above the client's SETTINGS_MAX_FRAME_SIZE."""
    if not server_profile.echoes_post:
        pytest.skip("needs POST / to echo the body, to get a response larger than 2^14")
    conn.auto_window_update = True
    body = bytes(range(256)) * 160  # 40,960 octets: at least three frames of 2^14
    response = conn.expect_response(conn.request("POST", body=body))
    assert response.body == body
    # The size check itself runs on every frame the client reads (client.H2Client._pump).
    assert len(response.data_frames) >= 3
