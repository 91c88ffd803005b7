"""Fixtures of the HTTP/2 conformance suite: the server under test and connections to it.

The target comes from ``--h2-target`` or the ``H2_TARGET`` environment variable
(``h2c://HOST:PORT`` or ``h2://HOST:PORT``); without one, every test is skipped. To test a
server started by the test run itself, override ``h2_target`` (see README.md): everything else
only asks ``h2_target`` for a ``Target``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator, Sequence

import pytest

from .client import (
    DEFAULT_SETTINGS,
    DEFAULT_TIMEOUT,
    Connector,
    H2Client,
    ServerProfile,
    Target,
    probe,
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("http2-compliance", "HTTP/2 conformance suite (compliance/http2)")
    group.addoption(
        "--h2-target",
        default=None,
        help="server under test: h2c://HOST:PORT or h2://HOST:PORT (or set H2_TARGET)",
    )
    group.addoption(
        "--h2-ca",
        default=None,
        help="CA file to verify the server's TLS certificate (or H2_CA); default: no checks",
    )
    group.addoption(
        "--h2-lenient-codes",
        action="store_true",
        default=None,
        help="like h2spec, pass an error test when a GOAWAY with the wrong code is followed"
        " by the close (or set H2_LENIENT_CODES=1)",
    )
    group.addoption(
        "--h2-timeout",
        type=float,
        default=None,
        help=f"seconds to wait for an expected frame (or H2_TIMEOUT); default {DEFAULT_TIMEOUT}",
    )


def target_from_config(config: pytest.Config) -> Target | None:
    """The target named on the command line or in the environment, if any."""
    spec = config.getoption("--h2-target", default=None) or os.environ.get("H2_TARGET")
    if not spec:
        return None
    ca_file = config.getoption("--h2-ca", default=None) or os.environ.get("H2_CA") or None
    return Target.parse(spec, ca_file=ca_file)


@pytest.fixture(scope="session", params=["h2c", "h2"])
def h2_target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    """The server under test: the configured one, else this project's, h2c and over TLS."""
    target = target_from_config(request.config)
    if target is None:
        yield from _this_server(request.param == "h2", tmp_path_factory)
        return
    if (request.param == "h2") != target.tls:
        pytest.skip(f"the configured target is not {request.param}")
    try:
        socket.create_connection((target.host, target.port), timeout=5).close()
    except OSError as exc:
        # One clear error (cached for the session) instead of a refused connection per test.
        pytest.fail(f"cannot connect to the HTTP/2 target {target}: {exc}", pytrace=False)
    yield target


def _this_server(tls: bool, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    from compliance.live import live_server, make_certificates

    from .app import app

    certificates = make_certificates(tmp_path_factory.mktemp("h2-tls")) if tls else None
    with live_server(app, tls=certificates) as port:
        yield Target("127.0.0.1", port, tls=tls, ca_file=None)


@pytest.fixture(scope="session")
def h2_timeout(request: pytest.FixtureRequest) -> float:
    """How long an expectation waits for the server before failing."""
    value = request.config.getoption("--h2-timeout", default=None) or os.environ.get("H2_TIMEOUT")
    return float(value) if value else DEFAULT_TIMEOUT


@pytest.fixture(scope="session")
def h2_lenient_codes(request: pytest.FixtureRequest) -> bool:
    """Whether error expectations accept a wrong GOAWAY code followed by a close (h2spec)."""
    if request.config.getoption("--h2-lenient-codes", default=None):
        return True
    return os.environ.get("H2_LENIENT_CODES", "") not in ("", "0")


@pytest.fixture
def connect(h2_target: Target, h2_timeout: float, h2_lenient_codes: bool) -> Iterator[Connector]:
    """Open connections to the target; all are closed after the test."""
    clients: list[H2Client] = []

    def open_connection(
        settings: Sequence[tuple[int, int]] = DEFAULT_SETTINGS, *, handshake: bool = True
    ) -> H2Client:
        client = H2Client.open(h2_target, timeout=h2_timeout)
        client.lenient_codes = h2_lenient_codes
        clients.append(client)
        if handshake:
            client.handshake(settings)
        return client

    yield open_connection
    for client in clients:
        client.close()


@pytest.fixture
def conn(connect: Connector) -> H2Client:
    """A connection past the preface and SETTINGS exchange, with the client's defaults."""
    return connect()


@pytest.fixture(scope="session")
def server_profile(h2_target: Target, h2_timeout: float) -> ServerProfile:
    """The server's SETTINGS and the size of its GET / body, learnt once per run."""
    return probe(h2_target, timeout=h2_timeout)
