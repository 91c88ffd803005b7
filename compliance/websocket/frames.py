"""WebSocket framing without I/O: build any frame a test needs, decode server frames strictly.

The builder deliberately allows everything RFC 6455 forbids (reserved bits, reserved opcodes,
unmasked or oversized control frames, non-minimal lengths), because the tests send exactly
those. The decoder is the opposite: every rule of RFC 6455 §5 that binds a *server* is checked,
and a breach raises :class:`ProtocolViolation`, so a test fails on the first bad frame the
server writes rather than on a confusing symptom later.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

__all__ = [
    "CONTROL_OPCODES",
    "DATA_OPCODES",
    "MAX_CONTROL_PAYLOAD",
    "Frame",
    "FrameDecoder",
    "LengthEncoding",
    "Opcode",
    "ProtocolViolation",
    "apply_mask",
    "encode_frame",
]

# RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes or less".
MAX_CONTROL_PAYLOAD = 125

LengthEncoding = Literal[7, 16, 64]


class ProtocolViolation(AssertionError):
    """The server broke a rule of RFC 6455 / RFC 7692 / RFC 8441 on the wire.

    A subclass of AssertionError so that pytest reports it as a test failure, which it is.
    """


class Opcode(IntEnum):
    """RFC 6455 §5.2 / §11.8: the opcodes with a defined meaning."""

    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


DATA_OPCODES = frozenset({Opcode.TEXT, Opcode.BINARY})
CONTROL_OPCODES = frozenset({Opcode.CLOSE, Opcode.PING, Opcode.PONG})
_DEFINED_OPCODES = frozenset(int(opcode) for opcode in Opcode)


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame as it crossed the wire (payload already unmasked, not decompressed)."""

    opcode: int
    payload: bytes
    fin: bool = True
    rsv1: bool = False
    rsv2: bool = False
    rsv3: bool = False

    @property
    def is_control(self) -> bool:
        # RFC 6455 §5.5: control frames are those whose opcode has the high bit set.
        return self.opcode >= 0x8

    def __repr__(self) -> str:
        flags = "".join(
            name
            for name, on in (("F", self.fin), ("1", self.rsv1), ("2", self.rsv2), ("3", self.rsv3))
            if on
        )
        shown = self.payload[:40]
        more = f"...+{len(self.payload) - 40}" if len(self.payload) > 40 else ""
        return f"Frame(op=0x{self.opcode:x}, flags={flags or '-'}, {shown!r}{more})"


def apply_mask(data: bytes, key: bytes) -> bytes:
    """RFC 6455 §5.3: XOR ``data`` with the 4-byte ``key`` repeated.

    Done as one big-integer XOR: a 16 MiB payload masks in tens of milliseconds, where a
    byte-at-a-time loop in Python would take seconds.
    """
    if not data:
        return b""
    length = len(data)
    stream = (key * (length // 4 + 1))[:length]
    masked = int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")
    return masked.to_bytes(length, "little")


def encode_frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv1: bool = False,
    rsv2: bool = False,
    rsv3: bool = False,
    masked: bool = True,
    mask_key: bytes | None = None,
    length_encoding: LengthEncoding | None = None,
    declared_length: int | None = None,
) -> bytes:
    """Build one frame exactly as asked, legal or not.

    ``length_encoding`` forces the 7-bit, 16-bit or 64-bit length form (RFC 6455 §5.2) instead
    of the minimal one; ``declared_length`` writes a length that differs from the payload's
    (to announce more than is sent). A client must mask (§5.3), so ``masked`` defaults to on
    with a fresh random key.
    """
    first = (
        (0x80 if fin else 0)
        | (0x40 if rsv1 else 0)
        | (0x20 if rsv2 else 0)
        | (0x10 if rsv3 else 0)
        | (opcode & 0x0F)
    )
    length = len(payload) if declared_length is None else declared_length
    if length_encoding is None:
        length_encoding = 7 if length <= 125 else 16 if length <= 0xFFFF else 64
    mask_bit = 0x80 if masked else 0
    if length_encoding == 7:
        if length > 125:
            raise ValueError(f"a 7-bit length cannot say {length}")
        head = struct.pack("!BB", first, mask_bit | length)
    elif length_encoding == 16:
        if length > 0xFFFF:
            raise ValueError(f"a 16-bit length cannot say {length}")
        head = struct.pack("!BBH", first, mask_bit | 126, length)
    else:
        head = struct.pack("!BBQ", first, mask_bit | 127, length)
    if not masked:
        return head + payload
    key = mask_key if mask_key is not None else os.urandom(4)
    if len(key) != 4:
        raise ValueError("a masking key is 4 bytes (RFC 6455 §5.2)")
    return head + key + apply_mask(payload, key)


class FrameDecoder:
    """Decodes the server's byte stream into frames, enforcing what RFC 6455 asks of a server.

    ``rsv1_allowed`` is true only when permessage-deflate was negotiated (RFC 7692 §6): no other
    extension is ever offered by this client, so RSV2 and RSV3 are never legal (RFC 6455 §5.2).
    The decoder also tracks fragmentation (§5.4), because which frames may follow which is a
    property of the frame sequence, not of a single frame.
    """

    def __init__(self, *, rsv1_allowed: bool = False) -> None:
        self.rsv1_allowed = rsv1_allowed
        self._buffer = bytearray()
        # The opcode of the data message whose fragments are arriving, if any (RFC 6455 §5.4).
        self._fragmented: int | None = None

    def feed(self, data: bytes) -> None:
        self._buffer += data

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def next_frame(self) -> Frame | None:
        """The next complete frame, or None if more bytes are needed."""
        buffer = self._buffer
        if len(buffer) < 2:
            return None
        first, second = buffer[0], buffer[1]
        fin = bool(first & 0x80)
        rsv1, rsv2, rsv3 = bool(first & 0x40), bool(first & 0x20), bool(first & 0x10)
        opcode = first & 0x0F
        masked = bool(second & 0x80)
        length = second & 0x7F
        offset = 2
        if length == 126:
            if len(buffer) < 4:
                return None
            (length,) = struct.unpack_from("!H", buffer, 2)
            offset = 4
            if length <= 125:
                raise ProtocolViolation(
                    f"RFC 6455 §5.2: the server used a 16-bit length for {length} bytes; "
                    "the minimal number of bytes MUST be used to encode the length"
                )
        elif length == 127:
            if len(buffer) < 10:
                return None
            (length,) = struct.unpack_from("!Q", buffer, 2)
            offset = 10
            if length >> 63:
                raise ProtocolViolation(
                    "RFC 6455 §5.2: the most significant bit of a 64-bit length MUST be 0"
                )
            if length <= 0xFFFF:
                raise ProtocolViolation(
                    f"RFC 6455 §5.2: the server used a 64-bit length for {length} bytes; "
                    "the minimal number of bytes MUST be used to encode the length"
                )
        if masked:
            # Checked before waiting for the payload: the header alone is enough to fail.
            raise ProtocolViolation("RFC 6455 §5.1: a server MUST NOT mask any frames it sends")
        if len(buffer) < offset + length:
            return None
        payload = bytes(buffer[offset : offset + length])
        del buffer[: offset + length]
        frame = Frame(opcode, payload, fin, rsv1, rsv2, rsv3)
        self._check(frame)
        return frame

    def _check(self, frame: Frame) -> None:
        opcode = frame.opcode
        if opcode not in _DEFINED_OPCODES:
            raise ProtocolViolation(f"RFC 6455 §5.2: the server sent reserved opcode 0x{opcode:x}")
        if frame.rsv2 or frame.rsv3:
            raise ProtocolViolation(
                f"RFC 6455 §5.2: RSV2/RSV3 set with no extension negotiated: {frame!r}"
            )
        if frame.rsv1:
            if not self.rsv1_allowed:
                raise ProtocolViolation(
                    f"RFC 6455 §5.2: RSV1 set but no extension was negotiated: {frame!r}"
                )
            if frame.is_control or opcode == Opcode.CONTINUATION:
                raise ProtocolViolation(
                    "RFC 7692 §6: the Per-Message Compressed bit MUST NOT be set on control "
                    f"frames or non-first fragments: {frame!r}"
                )
        if frame.is_control:
            if not frame.fin:
                raise ProtocolViolation(
                    f"RFC 6455 §5.5: control frames MUST NOT be fragmented: {frame!r}"
                )
            if len(frame.payload) > MAX_CONTROL_PAYLOAD:
                raise ProtocolViolation(
                    f"RFC 6455 §5.5: control frame payload over 125 bytes: {frame!r}"
                )
            return
        if opcode == Opcode.CONTINUATION:
            if self._fragmented is None:
                raise ProtocolViolation(
                    f"RFC 6455 §5.4: a continuation frame with no message in progress: {frame!r}"
                )
        elif self._fragmented is not None:
            raise ProtocolViolation(
                "RFC 6455 §5.4: a new data frame before the fragmented message "
                f"0x{self._fragmented:x} finished: {frame!r}"
            )
        else:
            self._fragmented = opcode
        if frame.fin:
            self._fragmented = None
