"""Wire constants of RFC 9113 and a builder for frames that hyperframe would refuse to make.

hyperframe serializes well-formed frames and parses everything the server sends. Most of this
suite, though, sends frames that are wrong on purpose (a PING on stream 1, a SETTINGS frame whose
length is not a multiple of 6, a reserved bit set), so outgoing frames are built here from the
9-octet header of RFC 9113 §4.1 and a payload of raw bytes.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable

# RFC 9113 §3.4: the client connection preface starts with these 24 octets.
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# RFC 9113 §4.2 and §6.5.2: the frame size every endpoint must accept, and the largest allowed.
DEFAULT_MAX_FRAME_SIZE = 2**14
MAX_FRAME_SIZE_LIMIT = 2**24 - 1
# RFC 9113 §6.9.1 and §6.9.2: windows start at 65,535 octets and never exceed 2^31-1.
DEFAULT_WINDOW_SIZE = 65_535
MAX_WINDOW_SIZE = 2**31 - 1
MAX_STREAM_ID = 2**31 - 1


class FrameType(enum.IntEnum):
    """RFC 9113 §6 frame types."""

    DATA = 0x0
    HEADERS = 0x1
    PRIORITY = 0x2
    RST_STREAM = 0x3
    SETTINGS = 0x4
    PUSH_PROMISE = 0x5
    PING = 0x6
    GOAWAY = 0x7
    WINDOW_UPDATE = 0x8
    CONTINUATION = 0x9


class Flag(enum.IntFlag):
    """RFC 9113 §6 frame flags (the same bit means ACK on SETTINGS/PING, END_STREAM elsewhere)."""

    NONE = 0x0
    END_STREAM = 0x1
    ACK = 0x1
    END_HEADERS = 0x4
    PADDED = 0x8
    PRIORITY = 0x20


class ErrorCode(enum.IntEnum):
    """RFC 9113 §7 error codes."""

    NO_ERROR = 0x0
    PROTOCOL_ERROR = 0x1
    INTERNAL_ERROR = 0x2
    FLOW_CONTROL_ERROR = 0x3
    SETTINGS_TIMEOUT = 0x4
    STREAM_CLOSED = 0x5
    FRAME_SIZE_ERROR = 0x6
    REFUSED_STREAM = 0x7
    CANCEL = 0x8
    COMPRESSION_ERROR = 0x9
    CONNECT_ERROR = 0xA
    ENHANCE_YOUR_CALM = 0xB
    INADEQUATE_SECURITY = 0xC
    HTTP_1_1_REQUIRED = 0xD


class Setting(enum.IntEnum):
    """RFC 9113 §6.5.2 settings, plus RFC 8441 §3 and RFC 9218 §2.1."""

    HEADER_TABLE_SIZE = 0x1
    ENABLE_PUSH = 0x2
    MAX_CONCURRENT_STREAMS = 0x3
    INITIAL_WINDOW_SIZE = 0x4
    MAX_FRAME_SIZE = 0x5
    MAX_HEADER_LIST_SIZE = 0x6
    ENABLE_CONNECT_PROTOCOL = 0x8
    NO_RFC7540_PRIORITIES = 0x9


def error_name(code: int) -> str:
    """The RFC 9113 §7 name of an error code, or its hex value when the code is unknown."""
    try:
        return ErrorCode(code).name
    except ValueError:
        return f"0x{code:x}"


def frame(
    frame_type: int,
    payload: bytes = b"",
    *,
    flags: int = 0,
    stream_id: int = 0,
    reserved: bool = False,
    length: int | None = None,
) -> bytes:
    """One frame's bytes: the RFC 9113 §4.1 header, then ``payload`` as given.

    ``reserved`` sets the R bit before the stream identifier; ``length`` overrides the length
    field (to announce a size other than the payload's).
    """
    size = len(payload) if length is None else length
    stream_field = (stream_id & MAX_STREAM_ID) | (0x8000_0000 if reserved else 0)
    header = struct.pack(">I", size)[1:] + struct.pack(">BBI", frame_type, flags, stream_field)
    return header + payload


def padded(payload: bytes, pad_length: int, *, pad_length_field: int | None = None) -> bytes:
    """A PADDED frame's payload (RFC 9113 §6.1): pad length octet, payload, zero padding.

    ``pad_length_field`` writes a different value into the Pad Length octet than the padding
    actually appended, to build frames whose padding is invalid.
    """
    field = pad_length if pad_length_field is None else pad_length_field
    return bytes([field]) + payload + b"\x00" * pad_length


def priority_fields(depends_on: int = 0, weight: int = 16, *, exclusive: bool = False) -> bytes:
    """The 5 priority octets of HEADERS/PRIORITY (RFC 9113 §6.3); ``weight`` is 1..256."""
    dependency = (depends_on & MAX_STREAM_ID) | (0x8000_0000 if exclusive else 0)
    return struct.pack(">IB", dependency, weight - 1)


def settings_payload(settings: Iterable[tuple[int, int]]) -> bytes:
    """A SETTINGS payload (RFC 9113 §6.5.1) in the given order, duplicates kept."""
    return b"".join(struct.pack(">HI", identifier, value) for identifier, value in settings)


def rst_stream_payload(code: int) -> bytes:
    """A RST_STREAM payload (RFC 9113 §6.4)."""
    return struct.pack(">I", code)


def goaway_payload(last_stream_id: int, code: int, debug: bytes = b"") -> bytes:
    """A GOAWAY payload (RFC 9113 §6.8)."""
    return struct.pack(">II", last_stream_id & MAX_STREAM_ID, code) + debug


def window_update_payload(increment: int) -> bytes:
    """A WINDOW_UPDATE payload (RFC 9113 §6.9); the reserved bit is left clear."""
    return struct.pack(">I", increment & MAX_WINDOW_SIZE)
