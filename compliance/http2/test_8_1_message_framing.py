"""RFC 9113 §8.1: HTTP message framing (requests, trailers, content-length)."""

from __future__ import annotations

from .client import H2Client, ServerProfile
from .frames import ErrorCode

TRAILERS = [("x-checksum", "12345")]


def test_get(conn: H2Client) -> None:
    """§8.1: a GET gets a complete, well-formed response with a body."""
    response = conn.get()
    assert response.status == 200
    assert response.body


def test_head(conn: H2Client) -> None:
    """§8.1/RFC 9110 §9.3.2: a HEAD gets the response header section and no content."""
    stream_id = conn.request("HEAD")
    response = conn.expect_response(stream_id, head=True)
    assert response.status == 200
    assert response.body == b""


def test_post(conn: H2Client, server_profile: ServerProfile) -> None:
    """§8.1: a POST with a body gets a response."""
    response = conn.expect_response(conn.request("POST", body=b"posted body"))
    assert response.status == 200
    if server_profile.echoes_post:
        assert response.body == b"posted body"


def test_post_with_trailers(conn: H2Client) -> None:
    """§8.1: a request may end with a trailer section (HEADERS with END_STREAM)."""
    stream_id = conn.open_stream(extra=[("te", "trailers")])
    conn.send_data(stream_id, b"body before trailers")
    conn.send_headers(stream_id, TRAILERS, end_stream=True)
    assert conn.expect_response(stream_id).status == 200


def test_trailers_without_end_stream(conn: H2Client) -> None:
    """§8.1: a second HEADERS without END_STREAM makes the request malformed."""
    stream_id = conn.open_stream()
    conn.send_data(stream_id, b"body")
    conn.send_headers(stream_id, TRAILERS, end_stream=False)
    conn.expect_malformed(stream_id)


def test_second_headers_without_end_stream(conn: H2Client) -> None:
    """§8.1: HEADERS then HEADERS, neither ending the stream, is a malformed request."""
    stream_id = conn.open_stream()
    conn.send_headers(stream_id, TRAILERS, end_stream=False)
    conn.expect_malformed(stream_id)


def test_data_after_trailers(conn: H2Client) -> None:
    """§8.1/§5.1: DATA after the trailers (which ended the stream) is STREAM_CLOSED."""
    stream_id = conn.open_stream()
    conn.send_headers(stream_id, TRAILERS, end_stream=True)
    conn.send_data(stream_id, b"late", end_stream=True)
    conn.expect_stream_error(stream_id, ErrorCode.STREAM_CLOSED)


def test_content_length_above_data(conn: H2Client) -> None:
    """§8.1.1: content-length larger than the DATA received is malformed."""
    stream_id = conn.open_stream(extra=[("content-length", "10")])
    conn.send_data(stream_id, b"short", end_stream=True)
    conn.expect_malformed(stream_id)


def test_content_length_below_data(conn: H2Client) -> None:
    """§8.1.1: DATA beyond the content-length is malformed."""
    stream_id = conn.open_stream(extra=[("content-length", "2")])
    conn.send_data(stream_id, b"much longer than two", end_stream=True)
    conn.expect_malformed(stream_id)


def test_content_length_below_data_before_end(conn: H2Client) -> None:
    """§8.1.1: DATA passing the content-length is malformed even before END_STREAM."""
    stream_id = conn.open_stream(extra=[("content-length", "2")])
    conn.send_data(stream_id, b"much longer than two")
    conn.expect_malformed(stream_id)


def test_content_length_against_several_frames(conn: H2Client) -> None:
    """§8.1.1: content-length must equal the sum of all DATA frames."""
    stream_id = conn.open_stream(extra=[("content-length", "12")])
    for part in (b"four", b"four", b"four!"):
        conn.send_data(stream_id, part)
    conn.send_data(stream_id, b"", end_stream=True)
    conn.expect_malformed(stream_id)


def test_content_length_without_data(conn: H2Client) -> None:
    """§8.1.1: a request ending with its HEADERS but announcing content-length 5 is malformed."""
    stream_id = conn.next_stream_id()
    conn.send_headers(stream_id, conn.request_headers("POST", extra=[("content-length", "5")]))
    conn.expect_malformed(stream_id)


def test_matching_content_length(conn: H2Client) -> None:
    """§8.1.1: a content-length equal to the DATA is fine."""
    stream_id = conn.open_stream(extra=[("content-length", "12")])
    conn.send_data(stream_id, b"four")
    conn.send_data(stream_id, b"eightoct", end_stream=True)
    assert conn.expect_response(stream_id).status == 200


def test_zero_content_length(conn: H2Client) -> None:
    """§8.1.1: content-length 0 with no DATA is fine."""
    stream_id = conn.next_stream_id()
    conn.send_headers(stream_id, conn.request_headers("POST", extra=[("content-length", "0")]))
    assert conn.expect_response(stream_id).status == 200
