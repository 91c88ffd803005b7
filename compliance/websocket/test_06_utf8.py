"""Section 6, UTF-8 handling: RFC 6455 §5.6 and §8.1, UTF-8 as RFC 3629 defines it.

A text message is UTF-8; a receiver that finds it is not "MUST _Fail the WebSocket
Connection_" (§8.1) with 1007 (§7.4.1). Well-formed means RFC 3629 §4 / Unicode Table 3-7:
no overlong forms, no surrogates (U+D800-U+DFFF), nothing above U+10FFFF, no 5- or 6-byte
forms, and a message may not end inside a character. Validity is a property of the whole
message, so a character split across fragments is fine and an invalid one split across them is
not. Noncharacters such as U+FFFE are valid UTF-8.

The vectors are our own, built from the ranges in RFC 3629 §4; the Autobahn numbers say which
group of its cases each one mirrors.
"""

from __future__ import annotations

import time

import pytest

from .client import NoResponse, WebSocketConnection
from .frames import Frame, Opcode, encode_frame

TEXT = Opcode.TEXT
CONT = Opcode.CONTINUATION

KOSME = "κόσμε".encode()

VALID: dict[str, bytes] = {
    "ascii": b"Hello, world!",
    "latin1-supplement": "Hello-µ@ßöäüàá-UTF-8!!".encode(),
    "kosme": KOSME,
    "cjk": "中文字符".encode(),
    "astral": "𝄞😀🎉".encode(),
    "U+0000": b"\x00",
    "U+007F": b"\x7f",
    "U+0080": b"\xc2\x80",
    "U+07FF": b"\xdf\xbf",
    "U+0800": b"\xe0\xa0\x80",
    "U+D7FF": b"\xed\x9f\xbf",
    "U+E000": b"\xee\x80\x80",
    "U+FDD0-nonchar": b"\xef\xb7\x90",
    "U+FEFF-bom": b"\xef\xbb\xbf",
    "U+FFFD": b"\xef\xbf\xbd",
    "U+FFFE-nonchar": b"\xef\xbf\xbe",
    "U+FFFF-nonchar": b"\xef\xbf\xbf",
    "U+10000": b"\xf0\x90\x80\x80",
    "U+1FFFF-nonchar": b"\xf0\x9f\xbf\xbf",
    "U+10FFFF": b"\xf4\x8f\xbf\xbf",
}

# The comment beside each vector names the Autobahn group of cases it mirrors.
INVALID: dict[str, bytes] = {
    "kosme-surrogate-edited": KOSME + b"\xed\xa0\x80" + b"edited",  # 6.3
    "continuation-80": b"\x80",  # 6.12
    "continuation-bf": b"\xbf",  # 6.12
    "continuations-80-bf-80": b"\x80\xbf\x80",  # 6.12
    "all-continuations": bytes(range(0x80, 0xC0)),  # 6.12
    "lone-2byte-start": b"\xc2 ",  # 6.13
    "lone-3byte-start": b"\xe1 ",  # 6.13
    "lone-4byte-start": b"\xf1 ",  # 6.13
    "2byte-missing-last": b"\xdf",  # 6.14
    "3byte-missing-last": b"\xef\xbf",  # 6.14
    "4byte-missing-last": b"\xf4\x8f\xbf",  # 6.14
    "truncated-concatenated": b"\xc2\xe0\xa0\xf0\x90\x80\xdf\xef\xbf\xf4\x8f\xbf",  # 6.15
    "byte-fe": b"\xfe",  # 6.16
    "byte-ff": b"\xff",  # 6.16
    "fe-fe-ff-ff": b"\xfe\xfe\xff\xff",  # 6.16
    "5byte-form": b"\xf8\x88\x80\x80\x80",  # 6.8
    "6byte-form": b"\xfc\x84\x80\x80\x80\x80",  # 6.8
    "above-10ffff-f4": b"\xf4\x90\x80\x80",  # 6.11
    "above-10ffff-f5": b"\xf5\x80\x80\x80",  # 6.9
    "above-10ffff-f7": b"\xf7\xbf\xbf\xbf",  # 6.9
    "overlong-slash-2": b"\xc0\xaf",  # 6.17
    "overlong-slash-3": b"\xe0\x80\xaf",  # 6.17
    "overlong-slash-4": b"\xf0\x80\x80\xaf",  # 6.17
    "overlong-max-2": b"\xc1\xbf",  # 6.18
    "overlong-max-3": b"\xe0\x9f\xbf",  # 6.18
    "overlong-max-4": b"\xf0\x8f\xbf\xbf",  # 6.18
    "overlong-nul-2": b"\xc0\x80",  # 6.19
    "overlong-nul-3": b"\xe0\x80\x80",  # 6.19
    "overlong-nul-4": b"\xf0\x80\x80\x80",  # 6.19
    "surrogate-d800": b"\xed\xa0\x80",  # 6.20
    "surrogate-db7f": b"\xed\xad\xbf",  # 6.20
    "surrogate-dc00": b"\xed\xb0\x80",  # 6.20
    "surrogate-dfff": b"\xed\xbf\xbf",  # 6.20
    "surrogate-pair-d800-dc00": b"\xed\xa0\x80\xed\xb0\x80",  # 6.21
    "surrogate-pair-dbff-dfff": b"\xed\xaf\xbf\xed\xbf\xbf",  # 6.21
}


def _fragments(payload: bytes, size: int) -> list[Frame]:
    pieces = [payload[start : start + size] for start in range(0, len(payload), size)] or [b""]
    return [
        Frame(TEXT if index == 0 else CONT, piece, fin=index == len(pieces) - 1)
        for index, piece in enumerate(pieces)
    ]


def test_empty_text(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.6 (Autobahn 6.1.1): an empty text message is valid and echoes."""
    conn.send_frame(TEXT, b"")
    conn.expect_message(TEXT, b"")
    conn.close_handshake()


def test_three_empty_fragments(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.4, §5.6 (Autobahn 6.1.2): three empty text fragments echo as an empty text."""
    conn.send_frames([Frame(TEXT, b"", fin=False), Frame(CONT, b"", fin=False), Frame(CONT, b"")])
    conn.expect_message(TEXT, b"")
    conn.close_handshake()


@pytest.mark.parametrize("name", list(VALID))
def test_valid_one_frame(conn: WebSocketConnection, name: str) -> None:
    """RFC 3629 §4, RFC 6455 §5.6 (Autobahn 6.2, 6.5-6.11, 6.22-6.23): valid UTF-8 echoes."""
    conn.send_frame(TEXT, VALID[name])
    conn.expect_message(TEXT, VALID[name])
    conn.close_handshake()


@pytest.mark.parametrize("name", list(VALID))
def test_valid_fragmented_per_byte(conn: WebSocketConnection, name: str) -> None:
    """RFC 6455 §5.4, §5.6 (Autobahn 6.2.3-6.2.4, 6.6): valid UTF-8 in 1-byte fragments echoes."""
    conn.send_frames(_fragments(VALID[name], 1))
    conn.expect_message(TEXT, VALID[name])
    conn.close_handshake()


def test_valid_fragmented_on_code_points(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.6 (Autobahn 6.2.2): fragments cut on character boundaries echo as one."""
    text = "Hello-µ@ßöäüàá-UTF-8!!"
    frames = [
        Frame(TEXT if index == 0 else CONT, char.encode(), fin=index == len(text) - 1)
        for index, char in enumerate(text)
    ]
    conn.send_frames(frames)
    conn.expect_message(TEXT, text.encode())
    conn.close_handshake()


@pytest.mark.parametrize("name", list(INVALID))
def test_invalid_one_frame(conn: WebSocketConnection, name: str) -> None:
    """RFC 3629 §4, RFC 6455 §8.1 (Autobahn 6.3, 6.8-6.21): invalid UTF-8 fails with 1007."""
    conn.send_frame(TEXT, INVALID[name])
    conn.expect_fail(1007)


@pytest.mark.parametrize("name", list(INVALID))
def test_invalid_fragmented_per_byte(conn: WebSocketConnection, name: str) -> None:
    """RFC 6455 §8.1 (Autobahn 6.3.2): invalid UTF-8 in 1-byte fragments fails with 1007."""
    conn.send_frames(_fragments(INVALID[name], 1))
    conn.expect_fail(1007)


def test_character_split_across_fragments(conn: WebSocketConnection) -> None:
    """RFC 6455 §5.6 (Autobahn 6.6): 2- and 4-byte characters split across fragments are valid."""
    frames = [Frame(TEXT, b"a\xce", fin=False), Frame(CONT, b"\xba\xf0\x9f", fin=False)]
    conn.send_frames([*frames, Frame(CONT, b"\x98\x80z")])
    conn.expect_message(TEXT, "aκ😀z".encode())
    conn.close_handshake()


def test_invalid_sequence_split_across_fragments(conn: WebSocketConnection) -> None:
    """RFC 6455 §8.1 (Autobahn 6.3): a surrogate split across two fragments fails with 1007."""
    frames = [Frame(TEXT, KOSME + b"\xed", fin=False), Frame(CONT, b"\xa0\x80edited")]
    conn.send_frames(frames)
    conn.expect_fail(1007)


def test_message_ends_inside_character(conn: WebSocketConnection) -> None:
    """RFC 6455 §8.1 (Autobahn 6.14): the final fragment ending mid-character fails with 1007."""
    conn.send_frames([Frame(TEXT, KOSME, fin=False), Frame(CONT, b"\xce")])
    conn.expect_fail(1007)


def _fail_fast(conn: WebSocketConnection, rest: bytes) -> None:
    """Wait for 1007 before sending ``rest``; if it comes only after, say so."""
    try:
        conn.expect_fail(1007, timeout=1.0)
    except NoResponse:
        conn.send_raw(rest)
        conn.expect_fail(1007)
        pytest.fail("RFC 6455 §8.1: 1007 came only after the rest of the message (not fail-fast)")


@pytest.mark.strict
def test_fail_fast_invalid_fragment(conn: WebSocketConnection) -> None:
    """RFC 6455 §8.1 (Autobahn 6.4.1): 1007 on the invalid middle fragment, before the last one."""
    conn.send_frame(TEXT, KOSME, fin=False)
    conn.send_frame(CONT, b"\xf4\x90\x80\x80", fin=False)
    _fail_fast(conn, encode_frame(CONT, b"edited"))


@pytest.mark.strict
def test_fail_fast_invalid_across_fragments(conn: WebSocketConnection) -> None:
    """RFC 6455 §8.1 (Autobahn 6.4.2): 1007 once a split invalid sequence completes, pre-FIN."""
    conn.send_frame(TEXT, KOSME + b"\xf4", fin=False)
    conn.send_frame(CONT, b"\x90\x80\x80", fin=False)
    _fail_fast(conn, encode_frame(CONT, b"edited"))


@pytest.mark.strict
def test_fail_fast_inside_frame(conn: WebSocketConnection) -> None:
    """RFC 6455 §8.1 (Autobahn 6.4.3-6.4.4): 1007 mid-frame, before its payload is complete."""
    payload = KOSME + b"\xf4\x90\x80\x80" + b"edited"
    frame = encode_frame(TEXT, payload)
    cut = len(frame) - len(b"edited")
    conn.send_raw(frame[:cut])
    time.sleep(0.05)
    _fail_fast(conn, frame[cut:])
