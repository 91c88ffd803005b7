"""Section 13, permessage-deflate parameters: RFC 7692 §5, §7.1.

A server may decline any offer, but what it accepts must be a legal answer to one of the offers
(checked in :func:`deflate.negotiate`): server_no_context_takeover and server_max_window_bits
echoed when offered, client_max_window_bits only when offered, values 8-15 and never above the
offered one. An offer with an unknown, repeated or malformed parameter MUST be declined (§7),
and the handshake then goes on without the extension.

After agreement, the traffic is built to catch a server that overreaches: repeats at distances
from 300 bytes to 24 KiB, so a server compressing with a larger window than agreed, or keeping
context it promised to drop, produces data the strict decompressor here refuses.
"""

from __future__ import annotations

import random

import pytest

from .client import HandshakeFailed, WebSocketConnection
from .conftest import Connector
from .deflate import DeflateOffer
from .frames import Opcode

WINDOW_BITS = list(range(9, 16))


def _long_range_payload() -> bytes:
    """About 48 KiB whose repeats sit at distances that only larger windows can reach."""
    rng = random.Random(13)
    parts: list[bytes] = []
    for distance in (300, 700, 1500, 3000, 6000, 12000, 24000):
        block = rng.randbytes(200)
        parts += [block, rng.randbytes(distance - 200), block]
    return b"".join(parts)


def _exercise(connection: WebSocketConnection) -> None:
    """Messages that test window size and context takeover in both directions."""
    payload = _long_range_payload()
    text = ("the same sentence, again and again. " * 200).encode()
    for _ in range(3):
        connection.send_message(Opcode.BINARY, payload)
        connection.expect_message(Opcode.BINARY, payload)
        connection.send_message(Opcode.TEXT, text)
        connection.expect_message(Opcode.TEXT, text)
    connection.close_handshake()


def _accepted(ws: Connector, offer: DeflateOffer | list[DeflateOffer]) -> WebSocketConnection:
    connection = ws.connect(deflate=offer)
    if connection.deflate is None:
        pytest.skip("the server declined this offer (RFC 7692 §5 allows that)")
    return connection


OFFERS = {
    "default": DeflateOffer.build(),
    "client_max_window_bits": DeflateOffer.build(client_max_window_bits=True),
    "server_no_context_takeover": DeflateOffer.build(server_no_context_takeover=True),
    "client_no_context_takeover": DeflateOffer.build(client_no_context_takeover=True),
    "both_no_context_takeover": DeflateOffer.build(
        server_no_context_takeover=True, client_no_context_takeover=True
    ),
    "everything_smallest": DeflateOffer.build(
        server_no_context_takeover=True,
        client_no_context_takeover=True,
        server_max_window_bits=9,
        client_max_window_bits=9,
    ),
}


@pytest.mark.parametrize("name", list(OFFERS))
def test_offer(ws: Connector, name: str) -> None:
    """RFC 7692 §7.1 (Autobahn 13.1-13.7): the answer fits the offer; traffic honours it."""
    _exercise(_accepted(ws, OFFERS[name]))


@pytest.mark.parametrize("bits", WINDOW_BITS)
def test_server_max_window_bits(ws: Connector, bits: int) -> None:
    """RFC 7692 §7.1.2.1 (Autobahn 13.3-13.6): server_max_window_bits=N is echoed, <= N, obeyed."""
    _exercise(_accepted(ws, DeflateOffer.build(server_max_window_bits=bits)))


@pytest.mark.parametrize("bits", WINDOW_BITS)
def test_client_max_window_bits(ws: Connector, bits: int) -> None:
    """RFC 7692 §7.1.2.2 (Autobahn 13.3-13.6): client_max_window_bits=N; client window <= N."""
    _exercise(_accepted(ws, DeflateOffer.build(client_max_window_bits=bits)))


def test_server_no_context_takeover_honoured(ws: Connector) -> None:
    """RFC 7692 §7.1.1.1 (Autobahn 13.2): each server message inflates with an empty window."""
    connection = _accepted(ws, DeflateOffer.build(server_no_context_takeover=True))
    assert connection.deflate is not None and connection.deflate.server_no_context_takeover
    payload = ("repeated across messages " * 100).encode()
    for _ in range(5):
        connection.send_message(Opcode.TEXT, payload)
        connection.expect_message(Opcode.TEXT, payload)
    connection.close_handshake()


MUST_DECLINE = {
    "unknown-parameter": DeflateOffer((("x_unknown_parameter", None),)),
    "repeated-parameter": DeflateOffer(
        (("server_no_context_takeover", None), ("server_no_context_takeover", None))
    ),
    "no-context-takeover-with-value": DeflateOffer((("client_no_context_takeover", "1"),)),
    "server-window-7": DeflateOffer((("server_max_window_bits", "7"),)),
    "server-window-16": DeflateOffer((("server_max_window_bits", "16"),)),
    "server-window-leading-zero": DeflateOffer((("server_max_window_bits", "010"),)),
    "server-window-no-value": DeflateOffer((("server_max_window_bits", None),)),
    "client-window-0": DeflateOffer((("client_max_window_bits", "0"),)),
}


@pytest.mark.parametrize("name", list(MUST_DECLINE))
def test_offer_must_be_declined(ws: Connector, name: str) -> None:
    """RFC 7692 §7 (no Autobahn case): a malformed offer is declined; the WebSocket still opens."""
    try:
        connection = ws.connect(deflate=MUST_DECLINE[name])
    except HandshakeFailed as failed:
        pytest.fail(f"RFC 7692 §7: decline the offer, do not fail the handshake ({failed})")
    assert connection.deflate is None, f"accepted: {connection.deflate}"
    connection.send_message(Opcode.TEXT, b"no extension")
    connection.expect_message(Opcode.TEXT, b"no extension")
    connection.close_handshake()


def test_second_offer_after_malformed(ws: Connector) -> None:
    """RFC 7692 §5 (no Autobahn case): after a malformed offer, a valid second one may be taken."""
    offers = [MUST_DECLINE["unknown-parameter"], DeflateOffer.build(client_max_window_bits=True)]
    connection = ws.connect(deflate=offers)
    if connection.deflate is None:
        pytest.skip("the server declined both offers (RFC 7692 §5 allows that)")
    _exercise(connection)


def test_fallback_offers(ws: Connector) -> None:
    """RFC 7692 §5 (no Autobahn case): of two valid offers, the answer fits the one accepted."""
    offers = [
        DeflateOffer.build(server_max_window_bits=10, client_max_window_bits=10),
        DeflateOffer.build(),
    ]
    _exercise(_accepted(ws, offers))
