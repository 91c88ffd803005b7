"""The WebSocket frame codec: both unmasking routines, and frames split anywhere."""

from __future__ import annotations

import os
import struct

import pytest

from hypercorn.protocol import ws_frames
from hypercorn.protocol.ws_frames import Close, Failure, FrameDecoder, Message, Ping


def masked(opcode: int, payload: bytes, fin: bool = True, rsv1: bool = False) -> bytes:
    mask = os.urandom(4)
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    length = len(payload)
    if length < 126:
        header = bytes((first, 0x80 | length))
    elif length < 65536:
        header = struct.pack("!BBH", first, 0xFE, length)
    else:
        header = struct.pack("!BBQ", first, 0xFF, length)
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


@pytest.fixture(params=["c", "python"])
def masker(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "python":
        monkeypatch.setattr(ws_frames, "apply_mask", ws_frames._translate_mask)
    elif ws_frames.apply_mask is ws_frames._translate_mask:
        pytest.skip("the websockets package's C routine is not installed")
    return str(request.param)


@pytest.mark.parametrize("size", [0, 1, 3, 125, 126, 65535, 65536, 200_001])
def test_binary_messages_of_every_length_encoding(masker: str, size: int) -> None:
    payload = os.urandom(size)
    events = FrameDecoder(1 << 20).feed(masked(0x2, payload))
    assert events == [Message(False, payload, size)]
    assert type(events[0].data) is bytes  # type: ignore[union-attr]


def test_fragments_split_at_every_byte(masker: str) -> None:
    text = "héllo wörld ✓"
    encoded = text.encode()
    data = (
        masked(0x1, encoded[:3], fin=False)  # splits a two-byte character
        + masked(0x9, b"ping")
        + masked(0x0, encoded[3:8], fin=False)
        + masked(0x0, encoded[8:])
        + masked(0x8, struct.pack("!H", 1000) + b"bye")
    )
    decoder = FrameDecoder(1 << 20)
    events = []
    for index in range(len(data)):
        events += decoder.feed(data[index : index + 1])
    assert events == [Ping(b"ping"), Message(True, text, len(encoded)), Close(1000, "bye")]


def test_invalid_utf8_fails_before_the_frame_ends(masker: str) -> None:
    frame = masked(0x1, b"ok \xff" + b"x" * 1000)
    decoder = FrameDecoder(1 << 20)
    # The invalid byte is in the first part of the payload: the failure comes at once.
    events = decoder.feed(frame[:20])
    assert events == [Failure(1007, "invalid UTF-8 in a text message")]
    assert decoder.feed(frame[20:]) == []


def test_a_frame_over_the_limit_is_refused_from_its_header() -> None:
    decoder = FrameDecoder(1000)
    header_only = masked(0x2, b"x" * 1001)[:8]
    assert decoder.feed(header_only) == [Failure(1009, "message too big")]


def test_server_frames() -> None:
    assert ws_frames.encode_frame(0x1, b"hi") == b"\x81\x02hi"
    assert ws_frames.encode_frame(0x2, b"x" * 126)[:4] == b"\x82\x7e\x00\x7e"
    assert ws_frames.close_frame(1005) == b"\x88\x00"
    assert ws_frames.close_frame(1001, "away") == b"\x88\x06\x03\xe9away"
