"""RFC 9113 §6.9: WINDOW_UPDATE and flow control (§6.9.1 windows, §6.9.2 initial size)."""

from __future__ import annotations

import pytest

from .client import DEFAULT_SETTINGS, Connector, H2Client, ServerProfile
from .frames import MAX_WINDOW_SIZE, ErrorCode, FrameType, Setting, window_update_payload

# -- §6.9 the frame ------------------------------------------------------------------------


def test_zero_increment_on_connection(conn: H2Client) -> None:
    """§6.9: a connection WINDOW_UPDATE of 0 is a connection error PROTOCOL_ERROR."""
    conn.send_window_update(0, 0)
    conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)


def test_zero_increment_on_stream(conn: H2Client) -> None:
    """§6.9: a stream WINDOW_UPDATE of 0 is a stream error PROTOCOL_ERROR."""
    stream_id = conn.open_stream()
    conn.send_window_update(stream_id, 0)
    conn.expect_stream_error(stream_id, ErrorCode.PROTOCOL_ERROR)


@pytest.mark.parametrize("length", [3, 5])
def test_window_update_with_wrong_length(conn: H2Client, length: int) -> None:
    """§6.9: a WINDOW_UPDATE that is not 4 octets is a connection error FRAME_SIZE_ERROR."""
    payload = (window_update_payload(1) + b"\x00")[:length]
    conn.send_frame(FrameType.WINDOW_UPDATE, payload)
    conn.expect_connection_error(ErrorCode.FRAME_SIZE_ERROR)


def test_window_update_on_connection(conn: H2Client) -> None:
    """§6.9: a WINDOW_UPDATE on stream 0 is accepted."""
    conn.send_window_update(0, 1000)
    conn.expect_alive()


def test_window_update_on_open_stream(conn: H2Client) -> None:
    """§6.9: a WINDOW_UPDATE on an open stream is accepted."""
    stream_id = conn.open_stream()
    conn.send_window_update(stream_id, 1000)
    conn.expect_alive(streams=[stream_id])
    conn.send_data(stream_id, b"", end_stream=True)
    assert conn.expect_response(stream_id).status == 200


# -- §6.9.1 the flow-control window --------------------------------------------------------


def test_initial_window_of_one(connect: Connector, server_profile: ServerProfile) -> None:
    """§6.9.1: with SETTINGS_INITIAL_WINDOW_SIZE 1 the server sends 1 octet of DATA, no more."""
    if server_profile.get_body_length < 2:
        pytest.skip("needs a GET / body of at least 2 octets")
    conn = connect([*DEFAULT_SETTINGS, (Setting.INITIAL_WINDOW_SIZE, 1)])
    stream_id = conn.request("GET")
    assert conn.expect_data(stream_id).flow_controlled_length == 1
    # Anything more before a WINDOW_UPDATE would fail the client's window check.
    conn.expect_alive()


def test_response_completes_through_small_windows(
    connect: Connector, server_profile: ServerProfile
) -> None:
    """§6.9.1: the server resumes after each WINDOW_UPDATE until the whole body is sent."""
    conn = connect([*DEFAULT_SETTINGS, (Setting.INITIAL_WINDOW_SIZE, 7)])
    stream_id = conn.request("GET")
    conn.expect_headers(stream_id)
    received = 0
    while received < server_profile.get_body_length:
        data = conn.expect_data(stream_id)
        received += len(data.data)
        if "END_STREAM" in data.flags:
            break
        if data.flow_controlled_length:
            conn.send_window_update(stream_id, data.flow_controlled_length)
            conn.send_window_update(0, data.flow_controlled_length)
    assert received == server_profile.get_body_length


def test_connection_window_overflow(conn: H2Client) -> None:
    """§6.9.1: a connection window above 2^31-1 is a connection error FLOW_CONTROL_ERROR."""
    conn.send_window_update(0, MAX_WINDOW_SIZE)
    conn.expect_connection_error(ErrorCode.FLOW_CONTROL_ERROR)


def test_connection_window_overflow_in_steps(conn: H2Client) -> None:
    """§6.9.1: the overflow counts across frames: two updates that pass 2^31-1 are an error."""
    conn.send_window_update(0, MAX_WINDOW_SIZE - 65_535)  # exactly the maximum
    conn.expect_alive()
    conn.send_window_update(0, 1)
    conn.expect_connection_error(ErrorCode.FLOW_CONTROL_ERROR)


def test_stream_window_overflow(conn: H2Client) -> None:
    """§6.9.1: a stream window above 2^31-1 is a stream error FLOW_CONTROL_ERROR."""
    stream_id = conn.open_stream()
    conn.send_window_update(stream_id, MAX_WINDOW_SIZE)
    conn.expect_stream_error(stream_id, ErrorCode.FLOW_CONTROL_ERROR)


def test_server_respects_connection_window(
    connect: Connector, server_profile: ServerProfile
) -> None:
    """§6.9.1/§6.9.2: a large stream window leaves the 65,535-octet connection window binding."""
    if not server_profile.echoes_post:
        pytest.skip("needs POST / to echo the body, to get a response above 65,535 octets")
    conn = connect([*DEFAULT_SETTINGS, (Setting.INITIAL_WINDOW_SIZE, 1_000_000)])
    body = bytes(range(256)) * 400  # 102,400 octets
    stream_id = conn.request("POST", body=body)
    conn.expect_headers(stream_id)
    received = b""
    while len(received) < 65_535:
        received += bytes(conn.expect_data(stream_id).data)
    # The client's window check fails the test if the server sends past 65,535 here.
    conn.expect_alive()
    conn.send_window_update(0, len(body))
    while len(received) < len(body):
        received += bytes(conn.expect_data(stream_id).data)
    assert received == body


def test_server_opens_its_window_for_large_bodies(
    conn: H2Client, server_profile: ServerProfile
) -> None:
    """§6.9: a request body larger than the initial window gets through (WINDOW_UPDATEs)."""
    body = b"z" * 200_000
    conn.auto_window_update = True
    response = conn.expect_response(conn.request("POST", body=body))
    assert response.status == 200
    if server_profile.echoes_post:
        assert response.body == body


# -- §6.9.2 the initial window size --------------------------------------------------------


def test_initial_window_change_applies_to_open_streams(
    connect: Connector, server_profile: ServerProfile
) -> None:
    """§6.9.2: raising SETTINGS_INITIAL_WINDOW_SIZE from 0 to 1 lets 1 octet of DATA out."""
    if server_profile.get_body_length < 2:
        pytest.skip("needs a GET / body of at least 2 octets")
    conn = connect([*DEFAULT_SETTINGS, (Setting.INITIAL_WINDOW_SIZE, 0)])
    stream_id = conn.request("GET")
    conn.expect_headers(stream_id)
    conn.send_settings((Setting.INITIAL_WINDOW_SIZE, 1))
    conn.expect_settings_ack()
    assert conn.expect_data(stream_id).flow_controlled_length == 1


def test_negative_window(connect: Connector, server_profile: ServerProfile) -> None:
    """§6.9.2: a window made negative by SETTINGS must get back above 0 before DATA flows."""
    if server_profile.get_body_length < 5:
        pytest.skip("needs a GET / body of at least 5 octets")
    conn = connect([*DEFAULT_SETTINGS, (Setting.INITIAL_WINDOW_SIZE, 3)])
    stream_id = conn.request("GET")
    sent = 0
    while sent < 3:
        sent += conn.expect_data(stream_id).flow_controlled_length
    conn.send_settings((Setting.INITIAL_WINDOW_SIZE, 2))  # window: 2 - 3 = -1
    conn.expect_settings_ack()
    conn.send_window_update(stream_id, 2)  # window: 1
    assert conn.expect_data(stream_id).flow_controlled_length == 1


def test_initial_window_change_overflowing_a_stream(conn: H2Client) -> None:
    """§6.9.2: a SETTINGS change pushing a stream window past 2^31-1 is FLOW_CONTROL_ERROR."""
    stream_id = conn.open_stream()
    initial = conn.local_setting(Setting.INITIAL_WINDOW_SIZE)
    conn.send_window_update(stream_id, MAX_WINDOW_SIZE - initial)  # exactly the maximum
    conn.expect_alive(streams=[stream_id])
    conn.send_settings((Setting.INITIAL_WINDOW_SIZE, initial + 1))
    conn.expect_connection_error(ErrorCode.FLOW_CONTROL_ERROR)
