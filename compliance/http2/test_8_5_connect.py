"""RFC 9113 §8.5: the CONNECT method, and RFC 8441 extended CONNECT (:protocol)."""

from __future__ import annotations

import pytest
from hyperframe.frame import GoAwayFrame, RstStreamFrame

from .client import CLOSED, ExpectationFailed, H2Client, HeaderBlock, describe
from .frames import ErrorCode, Setting


def _send(conn: H2Client, headers: list[tuple[bytes, bytes]], *, end_stream: bool = False) -> int:
    stream_id = conn.next_stream_id()
    # A CONNECT stream normally stays open for the tunnel: no END_STREAM.
    conn.send_headers(stream_id, headers, raw=True, end_stream=end_stream)
    return stream_id


def _expect_not_malformed(conn: H2Client, stream_id: int) -> None:
    """A response of any status, or a reset that is not PROTOCOL_ERROR (a server may refuse
    to tunnel), but no sign that the request itself was malformed."""
    event = conn.wait_for(
        lambda e: (
            (isinstance(e, HeaderBlock | RstStreamFrame) and e.stream_id == stream_id)
            or isinstance(e, GoAwayFrame)
            or e is CLOSED
        ),
        f"a response on stream {stream_id}",
    )
    if isinstance(event, HeaderBlock):
        return
    if isinstance(event, RstStreamFrame) and event.error_code != ErrorCode.PROTOCOL_ERROR:
        return
    raise ExpectationFailed(f"a well-formed CONNECT was rejected: {describe(event)}")


def _connect_headers(conn: H2Client) -> list[tuple[bytes, bytes]]:
    return [(b":method", b"CONNECT"), (b":authority", conn.target.authority.encode())]


def _extended_headers(conn: H2Client) -> list[tuple[bytes, bytes]]:
    return [
        (b":method", b"CONNECT"),
        (b":protocol", b"websocket"),
        (b":scheme", conn.target.scheme.encode()),
        (b":path", b"/"),
        (b":authority", conn.target.authority.encode()),
        (b"sec-websocket-version", b"13"),
    ]


def _require_extended_connect(conn: H2Client) -> None:
    if conn.server_settings.get(Setting.ENABLE_CONNECT_PROTOCOL) != 1:
        pytest.skip("the server does not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL=1")


# -- RFC 9113 §8.5 plain CONNECT -----------------------------------------------------------


def test_connect_is_well_formed(conn: H2Client) -> None:
    """§8.5: CONNECT with only :method and :authority is a well-formed request."""
    # END_STREAM at once: a server that is no proxy can answer without waiting for a tunnel.
    _expect_not_malformed(conn, _send(conn, _connect_headers(conn), end_stream=True))


def test_connect_with_scheme(conn: H2Client) -> None:
    """§8.5: a plain CONNECT must omit :scheme; with it the request is malformed."""
    headers = [*_connect_headers(conn), (b":scheme", conn.target.scheme.encode())]
    conn.expect_malformed(_send(conn, headers))


def test_connect_with_path(conn: H2Client) -> None:
    """§8.5: a plain CONNECT must omit :path; with it the request is malformed."""
    conn.expect_malformed(_send(conn, [*_connect_headers(conn), (b":path", b"/")]))


def test_connect_without_authority(conn: H2Client) -> None:
    """§8.5: a CONNECT without :authority is malformed."""
    conn.expect_malformed(_send(conn, [(b":method", b"CONNECT")]))


# -- RFC 8441 extended CONNECT -------------------------------------------------------------


def test_extended_connect(conn: H2Client) -> None:
    """RFC 8441 §4: with SETTINGS_ENABLE_CONNECT_PROTOCOL=1, CONNECT + :protocol is valid."""
    _require_extended_connect(conn)
    _expect_not_malformed(conn, _send(conn, _extended_headers(conn)))


@pytest.mark.parametrize("missing", [b":scheme", b":path"], ids=lambda n: n.decode())
def test_extended_connect_missing_pseudo_header(conn: H2Client, missing: bytes) -> None:
    """RFC 8441 §4: an extended CONNECT must carry :scheme and :path; without one, malformed."""
    _require_extended_connect(conn)
    headers = [(k, v) for k, v in _extended_headers(conn) if k != missing]
    conn.expect_malformed(_send(conn, headers))


def test_protocol_with_other_method(conn: H2Client) -> None:
    """RFC 8441 §4/RFC 9113 §8.3: :protocol on a request other than CONNECT is malformed."""
    headers = [(k, b"GET" if k == b":method" else v) for k, v in _extended_headers(conn)]
    conn.expect_malformed(_send(conn, headers))


def test_protocol_when_not_advertised(conn: H2Client) -> None:
    """RFC 8441 §3/RFC 9113 §8.3: without the setting, :protocol is unknown: malformed."""
    if conn.server_settings.get(Setting.ENABLE_CONNECT_PROTOCOL) == 1:
        pytest.skip("the server supports extended CONNECT")
    conn.expect_malformed(_send(conn, _extended_headers(conn)))
