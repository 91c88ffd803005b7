"""RFC 9113 §6.1: DATA frames."""

from __future__ import annotations

from .client import H2Client, ServerProfile
from .frames import ErrorCode, Flag, FrameType, padded


def test_data_on_stream_zero(conn: H2Client) -> None:
    """§6.1: DATA on stream 0 is a connection error PROTOCOL_ERROR."""
    conn.send_frame(FrameType.DATA, b"stream zero", flags=Flag.END_STREAM, stream_id=0)
    conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)


def test_data_after_end_stream(conn: H2Client) -> None:
    """§6.1: DATA on a stream not "open" or "half-closed (local)" is STREAM_CLOSED."""
    stream_id = conn.open_stream()
    conn.send_data(stream_id, b"last", end_stream=True)
    conn.send_data(stream_id, b"one too many", end_stream=True)
    conn.expect_stream_error(stream_id, ErrorCode.STREAM_CLOSED)


def test_data_with_invalid_pad_length(conn: H2Client) -> None:
    """§6.1: a Pad Length as long as the payload or longer is a connection PROTOCOL_ERROR."""
    stream_id = conn.open_stream()
    payload = padded(b"data", 4, pad_length_field=9)  # 9 octets of payload, all claimed as pad
    conn.send_frame(
        FrameType.DATA, payload, flags=Flag.PADDED | Flag.END_STREAM, stream_id=stream_id
    )
    conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)


def test_padded_data_without_pad_length_octet(conn: H2Client) -> None:
    """§4.2/§6.1: a PADDED DATA frame too short to hold its Pad Length field is an error."""
    stream_id = conn.open_stream()
    conn.send_frame(FrameType.DATA, b"", flags=Flag.PADDED, stream_id=stream_id)
    conn.expect_stream_error(stream_id, ErrorCode.FRAME_SIZE_ERROR, ErrorCode.PROTOCOL_ERROR)


def test_single_data_frame(conn: H2Client, server_profile: ServerProfile) -> None:
    """§6.1: a request body in one DATA frame is received whole."""
    stream_id = conn.open_stream()
    conn.send_data(stream_id, b"single frame body", end_stream=True)
    response = conn.expect_response(stream_id)
    assert response.status == 200
    if server_profile.echoes_post:
        assert response.body == b"single frame body"


def test_multiple_data_frames(conn: H2Client, server_profile: ServerProfile) -> None:
    """§6.1: a body split over several DATA frames is received in order."""
    stream_id = conn.open_stream()
    for part in (b"one,", b"two,", b"three"):
        conn.send_data(stream_id, part)
    conn.send_data(stream_id, end_stream=True)
    response = conn.expect_response(stream_id)
    assert response.status == 200
    if server_profile.echoes_post:
        assert response.body == b"one,two,three"


def test_padded_data(conn: H2Client, server_profile: ServerProfile) -> None:
    """§6.1: padding is stripped; only the data reaches the request body."""
    stream_id = conn.open_stream()
    conn.send_data(stream_id, b"padded body", pad_length=20, end_stream=True)
    response = conn.expect_response(stream_id)
    assert response.status == 200
    if server_profile.echoes_post:
        assert response.body == b"padded body"


def test_data_that_is_all_padding(conn: H2Client) -> None:
    """§6.1: a DATA frame may carry padding and no data at all."""
    stream_id = conn.open_stream()
    conn.send_data(stream_id, b"", pad_length=255)
    conn.send_data(stream_id, b"", end_stream=True)
    assert conn.expect_response(stream_id).status == 200


def test_empty_data_with_end_stream(conn: H2Client) -> None:
    """§6.1: an empty DATA frame can end a request."""
    stream_id = conn.open_stream()
    conn.send_data(stream_id, b"", end_stream=True)
    assert conn.expect_response(stream_id).status == 200
