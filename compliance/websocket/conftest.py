"""Fixtures: which server to test, and a connector that opens WebSockets to it.

Every case runs once per transport slot: ``ws`` (HTTP/1.1), ``wss`` (HTTP/1.1 over TLS),
``h2c`` (RFC 8441 over cleartext HTTP/2, prior knowledge) and ``h2`` (RFC 8441 over TLS with
ALPN). A slot with no target is skipped, so with nothing configured the whole suite skips.

Targets come from the environment (see :func:`target.targets_from_env` and README.md)::

    WS_TARGET=ws://127.0.0.1:8000/ws WS_H2_TARGET=h2c://127.0.0.1:8000/ws \\
        .venv/bin/python -m pytest compliance/websocket

To test a server started in-process instead, replace :func:`ws_targets` (session scope): start
the server(s) on port 0, yield ``{"ws": Target("ws", "127.0.0.1", port), "h2c": ...}``, stop
them afterwards. Nothing else in the suite knows where a target came from.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from .client import WebSocketConnection, connect
from .deflate import DeflateOffer
from .target import Target, targets_from_env

# The transport slots every case is parametrized over, in the order they are reported.
TRANSPORTS = ["ws", "wss", "h2c", "h2"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "strict: checks behaviour RFC 6455 recommends but does not require (Autobahn's "
        "'non-strict' verdicts); deselect with -m 'not strict'",
    )


def configured_slots() -> set[str]:
    """The slots this run has targets for: those configured, else all four, served by this
    project's own server in-process (:func:`ws_targets`)."""
    return set(targets_from_env()) or set(TRANSPORTS)


def _slot(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    return None if callspec is None else callspec.params.get("ws_target")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run only the transport slots that have a target; with none, skip one case saying why.

    Done at collection (not with a skip per case) so that a run against one server reports
    the other slots as "deselected" instead of listing hundreds of skips.
    """
    try:
        configured = configured_slots()
    except ValueError as error:
        raise pytest.UsageError(f"WebSocket suite: {error}") from None
    ours = [item for item in items if _slot(item) is not None]
    if configured:
        dropped = [item for item in ours if _slot(item) not in configured]
    elif ours:
        ours[0].add_marker(
            pytest.mark.skip(
                reason="no WebSocket target: set WS_TARGET and/or WS_H2_TARGET "
                "(compliance/websocket/README.md)"
            )
        )
        dropped = ours[1:]
    else:
        dropped = []
    if dropped:
        gone = {id(item) for item in dropped}
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if id(item) not in gone]


@pytest.fixture(scope="session")
def ws_targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Target]]:
    """Every target, keyed by transport slot (``ws``, ``wss``, ``h2c``, ``h2``).

    The configured ones; with none configured, this project's server started in-process on
    port 0, once in the clear (``ws``, ``h2c``) and once over TLS (``wss``, ``h2``).
    """
    configured = targets_from_env()
    if configured:
        yield configured
        return
    from compliance.live import live_server, make_certificates

    from .echo_app import app

    certificates = make_certificates(tmp_path_factory.mktemp("ws-tls"))
    with live_server(app) as plain, live_server(app, tls=certificates) as secure:
        yield {
            "ws": Target("ws", "127.0.0.1", plain),
            "h2c": Target("h2c", "127.0.0.1", plain),
            "wss": Target("wss", "127.0.0.1", secure, ca_file=certificates.ca_file),
            "h2": Target("h2", "127.0.0.1", secure, ca_file=certificates.ca_file),
        }


@pytest.fixture(params=TRANSPORTS)
def ws_target(request: pytest.FixtureRequest, ws_targets: dict[str, Target]) -> Target:
    """The target for this case's transport slot; the case is skipped if there is none."""
    target = ws_targets.get(request.param)
    if target is None:
        pytest.skip(
            f"no {request.param} target (set WS_TARGET / WS_H2_TARGET, see "
            "compliance/websocket/README.md)"
        )
    return target


class Connector:
    """Opens WebSockets to one target and closes every one of them when the case ends."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._opened: list[WebSocketConnection] = []

    def connect(
        self,
        *,
        deflate: DeflateOffer | Sequence[DeflateOffer] | None = None,
        extra_headers: Sequence[tuple[str, str]] = (),
        version: str = "13",
    ) -> WebSocketConnection:
        connection = connect(
            self.target, deflate=deflate, extra_headers=extra_headers, version=version
        )
        self._opened.append(connection)
        return connection

    def close_all(self) -> None:
        for connection in self._opened:
            connection.close()
        self._opened.clear()


@pytest.fixture
def ws(ws_target: Target) -> Iterator[Connector]:
    """A connector to the case's target."""
    connector = Connector(ws_target)
    yield connector
    connector.close_all()


@pytest.fixture
def conn(ws: Connector) -> WebSocketConnection:
    """One open WebSocket with no extension offered: what most cases need."""
    return ws.connect()
