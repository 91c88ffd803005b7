"""Deterministic payloads: the same bytes on every run, so a failure is reproducible."""

from __future__ import annotations

import random

__all__ = ["ascii_text", "binary", "incompressible", "mixed_text", "structured"]

_ALPHABET = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?-*"


def ascii_text(length: int) -> bytes:
    """``length`` bytes of printable ASCII (a random 4 KiB block, repeated as needed)."""
    rng = random.Random(length)
    block = bytes(rng.choice(_ALPHABET) for _ in range(min(length, 4096)))
    return (block * (length // max(len(block), 1) + 1))[:length]


def binary(length: int) -> bytes:
    """``length`` bytes cycling through every byte value (0x00-0xFF)."""
    return (bytes(range(256)) * (length // 256 + 1))[:length]


def incompressible(length: int, seed: int = 0) -> bytes:
    """Random bytes (deflate cannot shrink them)."""
    return random.Random(seed).randbytes(length)


def mixed_text(length: int) -> bytes:
    """UTF-8 text of 1-, 2-, 3- and 4-byte characters, cut at a character boundary so that it
    is exactly ``length`` bytes long (padded with ASCII)."""
    sample = "Hello κόσμε µ@ßöäüàá 中文字符 😀🎉 WebSocket ✓ "
    encoded = sample.encode()
    text = (encoded * (length // len(encoded) + 1))[:length]
    # Step back off a partial character at the end and pad with ASCII to the exact length.
    while True:
        try:
            text.decode("utf-8")
            break
        except UnicodeDecodeError:
            text = text[:-1]
    return text + b"." * (length - len(text))


def structured(length: int) -> bytes:
    """JSON-like records: compressible, with repeats at many distances."""
    rng = random.Random(7)
    parts: list[bytes] = []
    total = 0
    while total < length:
        record = (
            f'{{"id": {rng.randrange(10**6)}, "name": "user{rng.randrange(500)}", '
            f'"score": {rng.random():.4f}, "tags": ["a{rng.randrange(20)}", "b"]}}\n'
        ).encode()
        parts.append(record)
        total += len(record)
    return b"".join(parts)[:length]
