"""RFC 9113 §6.5: SETTINGS frames, §6.5.2 defined settings, §6.5.3 synchronization."""

from __future__ import annotations

import pytest
from hyperframe.frame import PingFrame, SettingsFrame

from .client import Connector, H2Client, ServerProfile
from .frames import (
    MAX_FRAME_SIZE_LIMIT,
    MAX_WINDOW_SIZE,
    ErrorCode,
    Flag,
    FrameType,
    Setting,
    settings_payload,
)

# -- §6.5 the frame ------------------------------------------------------------------------


def test_settings_ack_with_payload(conn: H2Client) -> None:
    """§6.5: a SETTINGS ACK with a payload is a connection error FRAME_SIZE_ERROR."""
    payload = settings_payload([(Setting.ENABLE_PUSH, 0)])
    conn.send_frame(FrameType.SETTINGS, payload, flags=Flag.ACK)
    conn.expect_connection_error(ErrorCode.FRAME_SIZE_ERROR)


def test_settings_on_a_stream(conn: H2Client) -> None:
    """§6.5: SETTINGS on a stream other than 0 is a connection error PROTOCOL_ERROR."""
    payload = settings_payload([(Setting.ENABLE_PUSH, 0)])
    conn.send_frame(FrameType.SETTINGS, payload, stream_id=1)
    conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)


@pytest.mark.parametrize("length", [3, 7])
def test_settings_length_not_multiple_of_six(conn: H2Client, length: int) -> None:
    """§6.5: a SETTINGS length that is not a multiple of 6 is a connection FRAME_SIZE_ERROR."""
    payload = settings_payload([(Setting.ENABLE_PUSH, 0), (Setting.ENABLE_PUSH, 0)])
    conn.send_frame(FrameType.SETTINGS, payload[:length])
    conn.expect_connection_error(ErrorCode.FRAME_SIZE_ERROR)


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        (Setting.HEADER_TABLE_SIZE, 4096),
        (Setting.ENABLE_PUSH, 0),
        (Setting.ENABLE_PUSH, 1),
        (Setting.MAX_CONCURRENT_STREAMS, 100),
        (Setting.INITIAL_WINDOW_SIZE, 65_535),
        (Setting.MAX_FRAME_SIZE, 16_384),
        (Setting.MAX_FRAME_SIZE, MAX_FRAME_SIZE_LIMIT),
        (Setting.MAX_HEADER_LIST_SIZE, 65_536),
    ],
    ids=lambda v: v.name if isinstance(v, Setting) else str(v),
)
def test_valid_setting_is_acknowledged(conn: H2Client, setting: Setting, value: int) -> None:
    """§6.5/§6.5.2: a valid value of each defined setting is acknowledged."""
    conn.send_settings((setting, value))
    conn.expect_settings_ack()
    assert conn.get().status == 200


def test_empty_settings_is_acknowledged(conn: H2Client) -> None:
    """§6.5.3: an empty SETTINGS frame is acknowledged too."""
    conn.send_settings()
    conn.expect_settings_ack()


# -- §6.5.2 defined settings ---------------------------------------------------------------


def test_enable_push_invalid_value(conn: H2Client) -> None:
    """§6.5.2: SETTINGS_ENABLE_PUSH other than 0 or 1 is a connection error PROTOCOL_ERROR."""
    conn.send_settings((Setting.ENABLE_PUSH, 2))
    conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)


def test_initial_window_size_too_large(conn: H2Client) -> None:
    """§6.5.2: SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1 is a connection FLOW_CONTROL_ERROR."""
    conn.send_settings((Setting.INITIAL_WINDOW_SIZE, MAX_WINDOW_SIZE + 1))
    conn.expect_connection_error(ErrorCode.FLOW_CONTROL_ERROR)


def test_max_frame_size_too_small(conn: H2Client) -> None:
    """§6.5.2: SETTINGS_MAX_FRAME_SIZE below 2^14 is a connection error PROTOCOL_ERROR."""
    conn.send_settings((Setting.MAX_FRAME_SIZE, 2**14 - 1))
    conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)


def test_max_frame_size_too_large(conn: H2Client) -> None:
    """§6.5.2: SETTINGS_MAX_FRAME_SIZE above 2^24-1 is a connection error PROTOCOL_ERROR."""
    conn.send_settings((Setting.MAX_FRAME_SIZE, MAX_FRAME_SIZE_LIMIT + 1))
    conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)


def test_server_settings_are_valid(server_profile: ServerProfile) -> None:
    """§6.5.2: the server's own SETTINGS hold legal values (push never enabled by a server)."""
    settings = server_profile.settings
    assert settings.get(Setting.ENABLE_PUSH, 0) == 0, "a server must not send ENABLE_PUSH=1"
    max_frame = settings.get(Setting.MAX_FRAME_SIZE, 2**14)
    assert 2**14 <= max_frame <= MAX_FRAME_SIZE_LIMIT
    assert settings.get(Setting.INITIAL_WINDOW_SIZE, 0) <= MAX_WINDOW_SIZE
    # RFC 8441 §3: SETTINGS_ENABLE_CONNECT_PROTOCOL is 0 or 1.
    assert settings.get(Setting.ENABLE_CONNECT_PROTOCOL, 0) in (0, 1)


# -- §6.5.3 synchronization ----------------------------------------------------------------


def test_settings_acknowledged_before_later_frames(conn: H2Client) -> None:
    """§6.5.3: SETTINGS is acknowledged immediately, before a PING sent after it is answered."""
    conn.send_settings((Setting.MAX_CONCURRENT_STREAMS, 50))
    conn.send_ping(b"afterset")
    replies = [
        conn.wait_for(lambda e: isinstance(e, SettingsFrame | PingFrame), "SETTINGS ACK or PING")
        for _ in range(2)
    ]
    assert isinstance(replies[0], SettingsFrame), f"the PING was answered first: {replies}"
    assert "ACK" in replies[0].flags


def test_settings_values_processed_in_order(
    connect: Connector, server_profile: ServerProfile
) -> None:
    """§6.5.3: values are processed in order; the last INITIAL_WINDOW_SIZE (1) wins."""
    if server_profile.get_body_length < 2:
        pytest.skip("needs a GET / body of at least 2 octets")
    conn = connect([(Setting.INITIAL_WINDOW_SIZE, 100), (Setting.INITIAL_WINDOW_SIZE, 1)])
    data = conn.expect_data(conn.request("GET"))
    assert data.flow_controlled_length == 1
