"""TLS at the edge: ALPN, the ASGI ``tls`` scope extension, client certificates, encrypted
keys, ``insecure_bind``, cipher and version policy — against a real listening server.

Connections are made with the ``ssl`` module so each test can see what was negotiated (the
version, the cipher suite, the ALPN protocol) and compare it with what the app was told.
Servers run on both event loops: asyncio and uvloop implement TLS separately.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hypercorn.config import Config

from ..conftest import ServerFactory
from ..h2_apps import H2App
from ..helpers import LOOPS, LiveServer, Reader, Response
from .h2_helpers import TLSFiles, curl, h2_connection, make_tls_files, run_tool

REPO_ROOT = Path(__file__).resolve().parents[2]

# IANA TLS cipher suite numbers (RFC 8446 §B.4; RFC 8289 and RFC 7905 for TLS 1.2), by the
# names OpenSSL reports, for the suites an ECDSA certificate (trustme's default) can use.
IANA_SUITES = {
    "TLS_AES_128_GCM_SHA256": 0x1301,
    "TLS_AES_256_GCM_SHA384": 0x1302,
    "TLS_CHACHA20_POLY1305_SHA256": 0x1303,
    "ECDHE-ECDSA-AES128-GCM-SHA256": 0xC02B,
    "ECDHE-ECDSA-AES256-GCM-SHA384": 0xC02C,
    "ECDHE-ECDSA-CHACHA20-POLY1305": 0xCCA9,
}
TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


@pytest.fixture(params=LOOPS)
def loop(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def serve_tls(loop: str, tls_files: TLSFiles) -> Iterator[ServerFactory]:
    """Live servers with ``certfile``/``keyfile`` set (unless overridden), on each loop."""
    started: list[LiveServer] = []

    def start(app: Any = None, **options: Any) -> LiveServer:
        options = {"certfile": tls_files.cert_path, "keyfile": tls_files.key_path, **options}
        config = Config(bind=["127.0.0.1:0"], **options)
        server = LiveServer(app if app is not None else H2App(), config, loop=loop)
        started.append(server.start())
        return server

    yield start
    for server in started:
        server.stop()


def client_context(
    files: TLSFiles,
    *,
    alpn: list[str] | None = None,
    cert: bool = False,
    version: ssl.TLSVersion | None = None,
    ciphers: str | None = None,
) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=files.ca_path)
    if alpn is not None:
        context.set_alpn_protocols(alpn)
    if cert:
        context.load_cert_chain(files.client_path)
    if version is not None:
        context.minimum_version = context.maximum_version = version
    if ciphers is not None:
        context.set_ciphers(ciphers)
    return context


@contextlib.contextmanager
def tls_socket(port: int, context: ssl.SSLContext) -> Iterator[ssl.SSLSocket]:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as sock,
    ):
        yield sock


def get(sock: ssl.SSLSocket | socket.socket, target: str) -> Response:
    sock.sendall(f"GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    return Reader(sock).response()


def der(pem: str) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem)


def subject_rfc4514(pem: str) -> str:
    from cryptography import x509

    return x509.load_pem_x509_certificate(pem.encode()).subject.rfc4514_string()


# --- ALPN -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [(["h2", "http/1.1"], "h2"), (["http/1.1"], "http/1.1"), (["h2"], "h2"), (None, None)],
    ids=["both", "http11-only", "h2-only", "no-alpn"],
)
def test_alpn_selects_what_the_client_can_speak(
    serve_tls: ServerFactory, tls_files: TLSFiles, offered: list[str] | None, chosen: str | None
) -> None:
    server = serve_tls()
    context = client_context(tls_files, alpn=offered)
    with tls_socket(server.port, context) as sock:
        assert sock.selected_alpn_protocol() == chosen
        if chosen == "h2":
            sock.close()
            with h2_connection(server.port, tls=context) as wire:
                stream_id = wire.request("/tls", scheme="https")
                wire.until(lambda: wire.stream(stream_id).ended)
            assert json.loads(wire.stream(stream_id).data)["http_version"] == "2"
        else:
            response = get(sock, "/tls")
            assert response.version == b"HTTP/1.1"
            assert json.loads(response.body)["http_version"] == "1.1"


def test_without_http2_an_h2_only_client_cannot_get_h2(
    serve_tls: ServerFactory, tls_files: TLSFiles
) -> None:
    server = serve_tls(http2=False)
    both = client_context(tls_files, alpn=["h2", "http/1.1"])
    with tls_socket(server.port, both) as sock:
        assert sock.selected_alpn_protocol() == "http/1.1"
    h2_only = client_context(tls_files, alpn=["h2"])
    try:
        with tls_socket(server.port, h2_only) as sock:
            assert sock.selected_alpn_protocol() is None  # RFC 7301 §3.2: no overlap
            # Speaking HTTP/2 anyway gets an HTTP/1.1 refusal, never HTTP/2 frames.
            sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            answer = Reader(sock).response()
            assert answer.version == b"HTTP/1.1" and answer.status >= 400
    except ssl.SSLError as exc:
        assert "NO_APPLICATION_PROTOCOL" in str(exc).upper()  # the alert RFC 7301 allows
    result = curl(
        "--http2", "--cacert", tls_files.ca_path, "-w", "\n%{http_version}",
        f"https://127.0.0.1:{server.port}/",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("Hello, world!\n1.1")


# --- the ASGI tls extension ---------------------------------------------------------------------


def tls_info_over(
    port: int, context: ssl.SSLContext, protocol: str
) -> tuple[dict[str, Any], tuple[str, str]]:
    """GET /tls over HTTP/1.1 or h2 on a new connection.

    Returns the app's report and the (cipher, version) the client negotiated.
    """
    if protocol == "h2":
        with h2_connection(port, tls=context) as wire:
            stream_id = wire.request("/tls", scheme="https")
            wire.until(lambda: wire.stream(stream_id).ended)
            assert isinstance(wire.sock, ssl.SSLSocket)
            cipher = wire.sock.cipher()
        body = bytes(wire.stream(stream_id).data)
    else:
        with tls_socket(port, context) as sock:
            body = get(sock, "/tls").body
            cipher = sock.cipher()
    assert cipher is not None
    return json.loads(body), (cipher[0], cipher[1])


@pytest.mark.parametrize("protocol", ["http/1.1", "h2"])
def test_tls_extension_describes_a_tls13_connection(
    serve_tls: ServerFactory, tls_files: TLSFiles, protocol: str
) -> None:
    server = serve_tls()
    context = client_context(tls_files, alpn=[protocol])
    info, (cipher, version) = tls_info_over(server.port, context, protocol)
    tls = info["tls"]
    assert info["scheme"] == "https"
    assert "tls" in info["extensions"]
    assert version == "TLSv1.3"
    assert tls["tls_version"] == TLS_VERSIONS[version] == 0x0304
    assert tls["cipher_suite"] == IANA_SUITES[cipher]
    assert tls["server_cert"].startswith("-----BEGIN CERTIFICATE-----\n")
    assert der(tls["server_cert"]) == der(tls_files.server_cert_pem)
    # No ca_certs: client certificates are not asked for.
    assert tls["client_cert_chain"] == []
    assert tls["client_cert_name"] is None
    assert tls["client_cert_error"] is None


@pytest.mark.parametrize("suite", [name for name in IANA_SUITES if name.startswith("ECDHE")])
def test_tls_extension_reports_the_tls12_suite(
    serve_tls: ServerFactory, tls_files: TLSFiles, suite: str
) -> None:
    server = serve_tls()
    context = client_context(tls_files, version=ssl.TLSVersion.TLSv1_2, ciphers=suite)
    info, (cipher, version) = tls_info_over(server.port, context, "http/1.1")
    assert (cipher, version) == (suite, "TLSv1.2")
    assert info["tls"]["tls_version"] == TLS_VERSIONS["TLSv1.2"] == 0x0303
    assert info["tls"]["cipher_suite"] == IANA_SUITES[suite]


def test_required_client_certificate(serve_tls: ServerFactory, tls_files: TLSFiles) -> None:
    app = H2App()
    server = serve_tls(app, ca_certs=tls_files.ca_path, verify_mode="required")
    for protocol in ("http/1.1", "h2"):
        context = client_context(tls_files, alpn=[protocol], cert=True)
        info, _ = tls_info_over(server.port, context, protocol)
        tls = info["tls"]
        assert len(tls["client_cert_chain"]) >= 1
        assert der(tls["client_cert_chain"][0]) == der(tls_files.client_cert_pem)
        assert tls["client_cert_name"] == subject_rfc4514(tls_files.client_cert_pem)
        assert tls["client_cert_name"].startswith("CN=test-client,")
        assert tls["client_cert_error"] is None
    app.drain_events()
    # Without a certificate the handshake is refused (with TLS 1.3 the client learns of it
    # at its first read); the app never sees a request.
    with (
        pytest.raises((ssl.SSLError, ConnectionError)),
        tls_socket(server.port, client_context(tls_files)) as sock,
    ):
        get(sock, "/tls")
    assert [kind for kind, _ in app.drain_events() if kind == "request"] == []


def test_optional_client_certificate(serve_tls: ServerFactory, tls_files: TLSFiles) -> None:
    server = serve_tls(ca_certs=tls_files.ca_path, verify_mode="optional")
    without, _ = tls_info_over(server.port, client_context(tls_files), "http/1.1")
    assert without["tls"]["client_cert_chain"] == []
    assert without["tls"]["client_cert_name"] is None
    with_cert, _ = tls_info_over(server.port, client_context(tls_files, cert=True), "http/1.1")
    assert der(with_cert["tls"]["client_cert_chain"][0]) == der(tls_files.client_cert_pem)
    assert with_cert["tls"]["client_cert_name"] == subject_rfc4514(tls_files.client_cert_pem)


def test_cleartext_scopes_have_no_tls_extension(loop: str) -> None:
    with LiveServer(H2App(), Config(bind=["127.0.0.1:0"]), loop=loop) as server:
        with contextlib.closing(server.connect()) as sock:
            http11 = json.loads(get(sock, "/tls").body)
        with h2_connection(server.port) as wire:
            stream_id = wire.request("/tls")
            wire.until(lambda: wire.stream(stream_id).ended)
        h2c = json.loads(wire.stream(stream_id).data)
    for info in (http11, h2c):
        assert info["scheme"] == "http"
        assert "tls" not in info["extensions"]
        assert info["tls"] is None
    assert (http11["http_version"], h2c["http_version"]) == ("1.1", "2")


# --- versions and ciphers -----------------------------------------------------------------------


def test_tls11_is_refused_and_tls12_accepted(
    serve_tls: ServerFactory, tls_files: TLSFiles
) -> None:
    app = H2App()
    server = serve_tls(app)
    old = ssl.create_default_context(cafile=tls_files.ca_path)
    try:
        old.set_ciphers("DEFAULT:@SECLEVEL=0")  # let this client offer TLS 1.1 at all
        with pytest.warns(DeprecationWarning):
            old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
    except (ssl.SSLError, ValueError):
        pytest.skip("this OpenSSL cannot offer TLS 1.1")
    with (
        pytest.raises((ssl.SSLError, ConnectionError)) as refused,
        tls_socket(server.port, old) as sock,
    ):
        get(sock, "/")
    assert "NO_PROTOCOLS_AVAILABLE" not in str(refused.value)  # the server refused, not us
    assert [kind for kind, _ in app.drain_events() if kind == "request"] == []
    modern = client_context(tls_files, version=ssl.TLSVersion.TLSv1_2)
    with tls_socket(server.port, modern) as sock:
        assert get(sock, "/").body == b"Hello, world!"


# --- the command line: encrypted keys, cipher lists, insecure binds ----------------------------


def hypercorn_run(
    *args: str, cwd: Path, timeout: float = 20.0
) -> subprocess.CompletedProcess[str]:
    """``python -m hypercorn ARGS`` with no terminal and no stdin, expected to exit."""
    (cwd / "app.py").write_text(
        "async def app(scope, receive, send):\n"
        "    if scope['type'] == 'lifespan':\n"
        "        while True:\n"
        "            message = await receive()\n"
        "            await send({'type': message['type'] + '.complete'})\n"
        "            if message['type'] == 'lifespan.shutdown':\n"
        "                return\n"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])])
    command = [sys.executable, "-m", "hypercorn", "app:app", "--bind", "127.0.0.1:0", *args]
    return run_tool(command, timeout=timeout, env=env, cwd=cwd)


def stderr_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def encrypted_key(tls_files: TLSFiles) -> str:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(Path(tls_files.key_path).read_bytes(), None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"correct horse"),
    )
    path = tls_files.folder / "encrypted-key.pem"
    path.write_bytes(encrypted)
    return str(path)


def test_encrypted_key_loads_with_its_password(
    serve_tls: ServerFactory, tls_files: TLSFiles, encrypted_key: str
) -> None:
    server = serve_tls(keyfile=encrypted_key, keyfile_password="correct horse")
    with tls_socket(server.port, client_context(tls_files)) as sock:
        assert get(sock, "/").body == b"Hello, world!"


def test_wrong_key_password_is_a_one_line_error(
    tmp_path: Path, tls_files: TLSFiles, encrypted_key: str
) -> None:
    result = hypercorn_run(
        "--certfile", tls_files.cert_path, "--keyfile", encrypted_key,
        "--keyfile-password", "wrong", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    lines = stderr_lines(result)
    assert len(lines) == 1, result.stderr
    assert "[ERROR]" in lines[0] and encrypted_key in lines[0]
    assert "Traceback" not in result.stderr


def test_missing_key_password_is_a_one_line_error(
    tmp_path: Path, tls_files: TLSFiles, encrypted_key: str
) -> None:
    # No passphrase prompt from OpenSSL either (on a terminal it would wait for input).
    result = hypercorn_run(
        "--certfile", tls_files.cert_path, "--keyfile", encrypted_key, cwd=tmp_path
    )
    assert result.returncode == 1
    lines = stderr_lines(result)
    assert len(lines) == 1, result.stderr
    assert "[ERROR]" in lines[0] and encrypted_key in lines[0]
    assert "password" in lines[0].lower()


def test_invalid_cipher_list_is_a_one_line_error(tmp_path: Path, tls_files: TLSFiles) -> None:
    result = hypercorn_run(
        "--certfile", tls_files.cert_path, "--keyfile", tls_files.key_path,
        "--ciphers", "NO-SUCH-CIPHER", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    lines = stderr_lines(result)
    assert len(lines) == 1, result.stderr
    assert "[ERROR]" in lines[0] and "NO-SUCH-CIPHER" in lines[0]


def test_insecure_bind_serves_http_beside_https(
    serve_tls: ServerFactory, tls_files: TLSFiles, error_log: pytest.LogCaptureFixture
) -> None:
    server = serve_tls(insecure_bind=["127.0.0.1:0"])
    assert server.server is not None
    (_, secure_port), (plain_host, plain_port) = server.server.addresses
    running = [r.getMessage() for r in error_log.records if "Running on" in r.getMessage()]
    assert running == [
        f"Running on https://127.0.0.1:{secure_port} (CTRL + C to quit)",
        f"Running on http://127.0.0.1:{plain_port} (CTRL + C to quit)",
    ]
    with tls_socket(secure_port, client_context(tls_files)) as sock:
        secure = json.loads(get(sock, "/tls").body)
    with socket.create_connection((plain_host, plain_port), timeout=5) as sock:
        plain = json.loads(get(sock, "/tls").body)
    assert (secure["scheme"], plain["scheme"]) == ("https", "http")
    assert secure["tls"] is not None and plain["tls"] is None
    # The cleartext bind speaks h2c too, and the TLS one does not speak cleartext.
    h2c = curl(
        "--http2-prior-knowledge", "-w", "\n%{http_version}", f"http://127.0.0.1:{plain_port}/"
    )
    assert h2c.stdout == "Hello, world!\n2", h2c.stderr
    refused = curl(f"http://127.0.0.1:{secure_port}/")
    assert refused.returncode != 0 or "Hello" not in refused.stdout
