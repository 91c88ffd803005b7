"""RFC 9113 §3.4: the HTTP/2 connection preface."""

from __future__ import annotations

from hyperframe.frame import SettingsFrame

from .client import Connector, ExpectationFailed, describe
from .frames import PREFACE, ErrorCode, FrameType, Setting


def test_server_preface_is_settings_first(connect: Connector) -> None:
    """§3.4: the server's preface is a SETTINGS frame (not an ACK), the first frame it sends."""
    conn = connect(handshake=False)
    conn.send(PREFACE)
    conn.send_settings()
    first = conn.wait_for(lambda _: True, "the server's first frame")
    assert isinstance(first, SettingsFrame), first
    assert "ACK" not in first.flags


def test_client_preface_settings_are_acknowledged(connect: Connector) -> None:
    """§3.4: the SETTINGS in the client preface is acknowledged, and requests then work."""
    conn = connect(handshake=False)
    conn.handshake([(Setting.ENABLE_PUSH, 0), (Setting.MAX_CONCURRENT_STREAMS, 100)])
    assert conn.get().status == 200


def test_empty_settings_in_preface(connect: Connector) -> None:
    """§3.4: the client's preface SETTINGS may be empty; the server acknowledges it."""
    conn = connect([])
    assert conn.get().status == 200


def test_preface_and_request_in_one_flight(connect: Connector) -> None:
    """§3.4: the client may send frames right after its preface, before the server's SETTINGS."""
    conn = connect(handshake=False)
    conn.send(PREFACE)
    conn.send_settings()
    stream_id = conn.request("GET")
    assert conn.expect_response(stream_id).status == 200


def test_invalid_preface(connect: Connector) -> None:
    """§3.4: an invalid connection preface is a connection error PROTOCOL_ERROR (or a close)."""
    conn = connect(handshake=False)
    conn.send(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n")
    received = conn.read_until_closed()
    if len(received) >= 9 + 8 and received[3] == FrameType.GOAWAY:
        code = int.from_bytes(received[13:17], "big")
        assert code == ErrorCode.PROTOCOL_ERROR, f"GOAWAY with {code}"


def test_preface_not_followed_by_settings(connect: Connector) -> None:
    """§3.4: the preface must be followed by SETTINGS; a PING first is a PROTOCOL_ERROR."""
    conn = connect(handshake=False)
    conn.send(PREFACE)
    conn.send_ping(b"notsetgs")
    try:
        conn.expect_connection_error(ErrorCode.PROTOCOL_ERROR)
    except ExpectationFailed:
        # Name what happened instead: usually the PING was simply answered.
        answered = [describe(e) for e in conn.history if not isinstance(e, SettingsFrame)]
        raise ExpectationFailed(
            f"a preface without SETTINGS was accepted; the server sent {answered}"
        ) from None
