"""The real thing: nginx and HAProxy in front of a live Hypercorn, with the documented configs.

The nginx and HAProxy configurations and the ``hypercorn`` command lines are read from
docs/howto/nginx.md and docs/howto/haproxy.md (the blocks marked ``<!-- test: NAME -->``);
only ports, socket paths, certificates and the health-check interval are swapped for the
test's own, and each swap must find its text, so the docs cannot drift from what is tested.
The command line goes through the real CLI parser. nginx and HAProxy run in the foreground
as unprivileged-port processes with everything under ``tmp_path`` and are stopped by PID.

Clients connect from 127.0.0.2, which is not a trusted proxy, so the address the app sees
can only have come from the proxy (127.0.0.1): every request also carries forged
``X-Forwarded-For: 6.6.6.6`` and ``Forwarded`` headers that must come to nothing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shlex
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from hypercorn.cli import parse
from hypercorn.config import Config

from ..helpers import LOOPS, LiveServer, Reader
from .h2_helpers import TLSFiles, curl, make_tls_files

REPO_ROOT = Path(__file__).resolve().parents[2]
HOWTO = REPO_ROOT / "docs" / "howto"
CLIENT_IP = "127.0.0.2"  # any 127/8 address is loopback on Linux; this one is not trusted
FORGED = b"X-Forwarded-For: 6.6.6.6\r\nForwarded: for=6.6.6.6;proto=https;host=evil\r\n"


def doc_block(page: str, name: str) -> str:
    """The fenced block after ``<!-- test: name -->`` in docs/howto/``page``."""
    text = (HOWTO / page).read_text()
    match = re.search(rf"<!-- test: {re.escape(name)} -->\n```[a-z]*\n(.*?)```", text, re.S)
    assert match is not None, f"no <!-- test: {name} --> block in docs/howto/{page}"
    return match[1]


def swap(text: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        assert old in text, f"the documented config no longer contains {old!r}"
        text = text.replace(old, new)
    return text


def documented_config(page: str, name: str, **overrides: Any) -> Config:
    """The Config the documented ``hypercorn`` command line builds, with ``overrides``."""
    words = shlex.split(doc_block(page, name))
    assert words[0] == "hypercorn"
    config, application = parse(words[1:])
    assert application == "app:app"
    return config.replace(**overrides)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def program(name: str, package: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")
    if found is None:
        pytest.skip(f"{name} is not installed (apt-get install -y {package})")
    return found


@contextlib.contextmanager
def running(command: list[str], ports: list[int], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` until the block ends; ready once every port in ``ports`` accepts."""
    with open(log, "wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        pending = list(ports)
        while pending:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{command[0]} did not start:\n{log.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", pending[0]), 0.2).close()
                pending.pop(0)
            except OSError:
                time.sleep(0.02)
        yield process
    finally:
        process.terminate()  # nginx: fast shutdown, its worker with it; HAProxy: stop
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def connect(port: int) -> socket.socket:
    """A connection to 127.0.0.1:port from the untrusted CLIENT_IP."""
    sock = socket.socket()
    sock.settimeout(10)
    sock.bind((CLIENT_IP, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def tls_connect(port: int, tls_files: TLSFiles) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=tls_files.ca_path)
    context.set_alpn_protocols(["http/1.1"])
    return context.wrap_socket(connect(port), server_hostname="localhost")


def get_scope(sock: socket.socket, host: str = "localhost") -> dict[str, Any]:
    sock.sendall(
        f"GET /scope HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n".encode() + FORGED + b"\r\n"
    )
    response = Reader(sock).response()
    assert response.status == 200, response
    return cast(dict[str, Any], json.loads(response.body))


async def scope_app(scope: Any, receive: Any, send: Any) -> None:
    """Answers with the parts of its scope a proxy can change: over HTTP or a WebSocket."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = json.dumps(
        {
            "client": scope["client"],
            "server": scope["server"],
            "scheme": scope["scheme"],
            "http_version": scope["http_version"],
            "host": [v.decode() for k, v in scope["headers"] if k == b"host"],
        }
    )
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": body})
        await send({"type": "websocket.close", "code": 1000})
        return
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body.encode()})


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def hypercorn() -> Iterator[Any]:
    started: list[LiveServer] = []

    def start(config: Config, loop: str = "asyncio") -> LiveServer:
        server = LiveServer(scope_app, config, loop=loop)
        started.append(server.start())
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(autouse=True)
def _loopback_alias() -> None:
    try:
        with socket.socket() as probe:
            probe.bind((CLIENT_IP, 0))
    except OSError:
        pytest.skip(f"cannot use {CLIENT_IP} as a client address here")


# --- nginx ---------------------------------------------------------------------------------

NGINX_CONF = """{user}
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 128; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/client_body_temp;
    proxy_temp_path {prefix}/proxy_temp;
    fastcgi_temp_path {prefix}/fastcgi_temp;
    uwsgi_temp_path {prefix}/uwsgi_temp;
    scgi_temp_path {prefix}/scgi_temp;
{upstream}
{server}
}}
"""


@contextlib.contextmanager
def nginx(
    tmp_path: Path, upstream: str, app_address: str, tls_files: TLSFiles
) -> Iterator[tuple[int, int]]:
    """nginx with the documented config; yields its (http, https) ports."""
    binary = program("nginx", "nginx")
    http_port, https_port = free_port(), free_port()
    upstream_block = doc_block("nginx.md", f"nginx-upstream-{upstream}")
    upstream_block = swap(
        upstream_block,
        {"127.0.0.1:8000" if upstream == "tcp" else "/run/hypercorn/app.sock": app_address},
    )
    server_block = swap(
        doc_block("nginx.md", "nginx-server"),
        {
            "listen 80;": f"listen 127.0.0.1:{http_port};",
            "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
            "/etc/ssl/certs/example.com.pem": tls_files.cert_path,
            "/etc/ssl/private/example.com.key": tls_files.key_path,
        },
    )
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            # As root nginx would run its worker as "nobody", which cannot reach tmp_path.
            user="user root;" if os.geteuid() == 0 else "",
            prefix=tmp_path,
            upstream=upstream_block,
            server=server_block,
        )
    )
    command = [binary, "-p", f"{tmp_path}/", "-e", f"{tmp_path}/error.log", "-c", str(conf)]
    with running([*command, "-g", "daemon off;"], [http_port, https_port], tmp_path / "out"):
        yield http_port, https_port


@pytest.mark.parametrize("upstream", ["tcp", "unix"])
def test_nginx(hypercorn: Any, tmp_path: Path, tls_files: TLSFiles, upstream: str) -> None:
    if upstream == "tcp":
        config = documented_config("nginx.md", "hypercorn-nginx-tcp", bind=["127.0.0.1:0"])
    else:
        path = tmp_path / "app.sock"
        config = documented_config("nginx.md", "hypercorn-nginx-unix", bind=[f"unix:{path}"])
    server = hypercorn(config)
    address = f"127.0.0.1:{server.port}" if upstream == "tcp" else str(path)
    with nginx(tmp_path, upstream, address, tls_files) as (http_port, https_port):
        with contextlib.closing(connect(http_port)) as sock:
            plain = get_scope(sock, f"localhost:{http_port}")
        with contextlib.closing(tls_connect(https_port, tls_files)) as sock:
            secure = get_scope(sock, f"localhost:{https_port}")
    assert plain["client"] == [CLIENT_IP, 0]  # not 127.0.0.1 (nginx), not 6.6.6.6 (forged)
    assert plain["scheme"] == "http"
    assert plain["host"] == [f"localhost:{http_port}"]
    assert plain["server"] == ["localhost", http_port]
    assert secure["client"] == [CLIENT_IP, 0]
    assert secure["scheme"] == "https"
    assert secure["server"] == ["localhost", https_port]


@pytest.mark.parametrize("scheme", ["ws", "wss"])
def test_nginx_websocket(hypercorn: Any, tmp_path: Path, tls_files: TLSFiles, scheme: str) -> None:
    from websockets.sync.client import connect as ws_connect

    config = documented_config("nginx.md", "hypercorn-nginx-tcp", bind=["127.0.0.1:0"])
    server = hypercorn(config)
    with nginx(tmp_path, "tcp", f"127.0.0.1:{server.port}", tls_files) as (http_port, https_port):
        port = https_port if scheme == "wss" else http_port
        context = None
        if scheme == "wss":
            context = ssl.create_default_context(cafile=tls_files.ca_path)
        with ws_connect(
            f"{scheme}://localhost:{port}/ws",
            sock=connect(port),
            ssl=context,
            server_hostname="localhost" if context else None,
            additional_headers={"X-Forwarded-For": "6.6.6.6"},
            open_timeout=10,
        ) as websocket:
            scope = json.loads(websocket.recv(timeout=10))
    assert scope["client"] == [CLIENT_IP, 0]
    assert scope["scheme"] == scheme


# --- HAProxy -------------------------------------------------------------------------------


@contextlib.contextmanager
def haproxy(tmp_path: Path, name: str, replacements: dict[str, str]) -> Iterator[None]:
    binary = program("haproxy", "haproxy")
    conf = tmp_path / "haproxy.cfg"
    section = swap(doc_block("haproxy.md", name), replacements)
    conf.write_text(doc_block("haproxy.md", "haproxy-global") + "\n" + section)
    ports = [int(port) for port in re.findall(r"bind 127\.0\.0\.1:(\d+)", section)]
    with running([binary, "-f", str(conf), "-db"], ports, tmp_path / "out"):
        yield


@pytest.mark.parametrize("loop", LOOPS)
def test_haproxy_proxy_protocol_v2_with_tls_passed_through(
    hypercorn: Any,
    tmp_path: Path,
    tls_files: TLSFiles,
    error_log: pytest.LogCaptureFixture,
    loop: str,
) -> None:
    config = documented_config(
        "haproxy.md",
        "hypercorn-haproxy-v2",
        bind=["127.0.0.1:0"],
        certfile=tls_files.cert_path,
        keyfile=tls_files.key_path,
    )
    server = hypercorn(config, loop)
    port = free_port()
    replacements = {
        "bind :443": f"bind 127.0.0.1:{port}",
        "127.0.0.1:8443": f"127.0.0.1:{server.port}",
        "check": "check inter 50ms",  # see health checks happen within the test
    }
    with haproxy(tmp_path, "haproxy-v2", replacements):
        with contextlib.closing(tls_connect(port, tls_files)) as sock:
            client_port = sock.getsockname()[1]
            scope = get_scope(sock)
        # HTTP/2 by ALPN, negotiated by Hypercorn through HAProxy.
        result = curl(
            "--http2",
            "--interface",
            CLIENT_IP,
            "--cacert",
            tls_files.ca_path,
            f"https://localhost:{port}/scope",
        )
        time.sleep(0.2)
    # The exact client connection HAProxy accepted, port included.
    assert scope["client"] == [CLIENT_IP, client_port]
    assert scope["server"] == ["127.0.0.1", port]
    assert scope["scheme"] == "https"
    assert result.returncode == 0, result.stderr
    over_h2 = json.loads(result.stdout)
    assert (over_h2["http_version"], over_h2["client"][0]) == ("2", CLIENT_IP)
    # Health checks (a header, then a close) are not worth a warning.
    assert not [r for r in error_log.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("loop", LOOPS)
def test_haproxy_proxy_protocol_v1(hypercorn: Any, tmp_path: Path, loop: str) -> None:
    config = documented_config("haproxy.md", "hypercorn-haproxy-v1", bind=["127.0.0.1:0"])
    server = hypercorn(config, loop)
    port = free_port()
    replacements = {
        "bind :80": f"bind 127.0.0.1:{port}",
        "127.0.0.1:8000": f"127.0.0.1:{server.port}",
    }
    with haproxy(tmp_path, "haproxy-v1", replacements), contextlib.closing(connect(port)) as sock:
        client_port = sock.getsockname()[1]
        scope = get_scope(sock)
    assert scope["client"] == [CLIENT_IP, client_port]
    assert scope["server"] == ["127.0.0.1", port]
    assert scope["scheme"] == "http"


def test_haproxy_http_mode(hypercorn: Any, tmp_path: Path, tls_files: TLSFiles) -> None:
    config = documented_config("haproxy.md", "hypercorn-haproxy-http", bind=["127.0.0.1:0"])
    server = hypercorn(config)
    http_port, https_port = free_port(), free_port()
    pem = tmp_path / "haproxy.pem"  # HAProxy wants the chain and the key in one file
    pem.write_text(Path(tls_files.cert_path).read_text() + Path(tls_files.key_path).read_text())
    replacements = {
        "bind :80": f"bind 127.0.0.1:{http_port}",
        "bind :443": f"bind 127.0.0.1:{https_port}",
        "/etc/haproxy/certs/example.com.pem": str(pem),
        "127.0.0.1:8000": f"127.0.0.1:{server.port}",
    }
    with haproxy(tmp_path, "haproxy-http", replacements):
        with contextlib.closing(connect(http_port)) as sock:
            plain = get_scope(sock)
        with contextlib.closing(tls_connect(https_port, tls_files)) as sock:
            secure = get_scope(sock)
    # HAProxy adds its own X-Forwarded-For line after the forged one.
    assert plain["client"] == [CLIENT_IP, 0]
    assert plain["scheme"] == "http"
    assert secure["client"] == [CLIENT_IP, 0]
    assert secure["scheme"] == "https"
