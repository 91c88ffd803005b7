"""The Quart demo in examples/demo/, as the README and docs/tutorial.md promise it.

The page renders (and over HTTP/2 arrives with its stylesheet pushed), the JSON API round-
trips, the chat broadcasts between WebSocket clients (over HTTP/1.1 and HTTP/2), the stream
arrives a line at a time, lifespan runs, and both documented commands serve: the README's
``hypercorn examples.demo:app`` and ``python -m examples.demo --tls`` with its development
certificate.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import itertools
import json
import os
import re
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from hypercorn.app_wrappers import load_application
from hypercorn.testing import LiveServer

from .h2_helpers import h2_client_context, h2_connection
from .test_frameworks import GRACEFUL_TIMEOUT, H2WebSocket

pytest.importorskip("quart")

from examples.demo import create_app
from examples.demo.devcert import ensure_certificate

ServerFactory = Callable[..., LiveServer]

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO = REPO_ROOT / "examples" / "demo"
STYLESHEET = (DEMO / "static" / "style.css").read_bytes()


@pytest.fixture
def live(hypercorn_server: ServerFactory) -> ServerFactory:
    """``hypercorn_server`` with a short graceful timeout (see test_frameworks.py)."""

    def start(app: Any, **options: Any) -> LiveServer:
        return hypercorn_server(app, **{"graceful_timeout": GRACEFUL_TIMEOUT, **options})

    return start


def child_env() -> dict[str, str]:
    """A child's environment: this checkout first on the import path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return env


# --- the page -------------------------------------------------------------------------------


def test_the_page_renders_with_its_stylesheet(live: ServerFactory) -> None:
    server = live(create_app())
    page = httpx.get(server.url + "/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert '<link rel="stylesheet" href="/static/style.css">' in page.text
    assert "HTTP/1.1</strong>" in page.text
    assert 'id="chat-form"' in page.text
    style = httpx.get(server.url + "/static/style.css")
    assert style.headers["content-type"].startswith("text/css")
    assert style.content == STYLESHEET
    assert httpx.get(server.url + "/static/chat.js").status_code == 200


def test_the_stylesheet_is_pushed_over_http2(live: ServerFactory) -> None:
    server = live(create_app())
    with h2_connection(server.port) as wire:  # h2c, prior knowledge
        page = wire.streams[wire.request("/")]

        def pushed_and_done() -> bool:
            return (
                page.ended
                and len(wire.pushes) == 2
                and all(wire.stream(push.promised).ended for push in wire.pushes)
            )

        wire.until(pushed_and_done)
        assert page.status == 200
        assert b"HTTP/2</strong>" in page.data
        paths = {dict(push.headers)[b":path"]: push.promised for push in wire.pushes}
        assert set(paths) == {b"/static/style.css", b"/static/chat.js"}
        stylesheet = wire.stream(paths[b"/static/style.css"])
        assert stylesheet.status == 200
        assert bytes(stylesheet.data) == STYLESHEET
        # The promises precede the page's body, so the browser never asks for them.
        assert wire.frame_types.index("PushPromiseFrame") < wire.frame_types.index("DataFrame")


# --- the JSON API and lifespan --------------------------------------------------------------


def test_json_api_round_trip(live: ServerFactory) -> None:
    server = live(create_app())
    with httpx.Client(base_url=server.url, http1=False, http2=True) as client:  # h2c
        assert client.get("/api/messages").json() == {"messages": []}
        created = client.post("/api/messages", json={"author": "ada", "text": "  hello  "})
        assert created.status_code == 201
        assert created.http_version == "HTTP/2"
        message = created.json()
        assert (message["id"], message["author"], message["text"]) == (1, "ada", "hello")
        client.post("/api/messages", json={"text": "no name"})
        listed = client.get("/api/messages").json()["messages"]
        assert [(m["author"], m["text"]) for m in listed] == [
            ("ada", "hello"), ("anonymous", "no name"),
        ]  # fmt: skip
        for bad in ({"author": "x"}, {"text": ""}, {"text": 5}, ["text"], {"text": "x" * 1001}):
            response = client.post("/api/messages", json=bad)
            assert response.status_code == 400, bad
            assert "error" in response.json()
        not_json = client.post("/api/messages", content=b"{", headers={"content-type": "json"})
        assert not_json.status_code == 400


def test_lifespan_opens_the_room_before_serving(live: ServerFactory) -> None:
    before = time.time()
    server = live(create_app())
    status = httpx.get(server.url + "/api/status").json()
    assert status["serving"] is True
    assert before <= status["started_at"] <= time.time()
    assert status["clients"] == 0


# --- the chat -------------------------------------------------------------------------------


async def next_message(websocket: ClientConnection) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(websocket.recv(), 5))  # type: ignore[no-any-return]


def test_chat_broadcasts_between_two_clients(live: ServerFactory) -> None:
    server = live(create_app())
    url = f"ws://127.0.0.1:{server.port}/ws"

    async def chat() -> None:
        async with ws_connect(url) as alice, ws_connect(url) as bob:
            await alice.send(json.dumps({"author": "alice", "text": "hi bob"}))
            for client in (alice, bob):  # the sender sees its own message too
                message = await next_message(client)
                assert message.pop("at") == pytest.approx(time.time(), abs=5)
                assert message == {"id": 1, "author": "alice", "text": "hi bob"}
            await bob.send(json.dumps({"author": "bob", "text": "hi alice"}))
            assert (await next_message(alice))["text"] == "hi alice"
            assert (await next_message(bob))["text"] == "hi alice"
            await bob.send("not json")
            assert "error" in await next_message(bob)
            # A message posted through the JSON API reaches the chat as well.
            async with httpx.AsyncClient(base_url=server.url) as http:
                await http.post("/api/messages", json={"author": "api", "text": "from http"})
            assert (await next_message(alice))["author"] == "api"
            assert (await next_message(bob))["author"] == "api"
            status = httpx.get(server.url + "/api/status").json()
            assert status["clients"] == 2
            # A client joining later gets the recent history first.
            async with ws_connect(url) as carol:
                history = [await next_message(carol) for _ in range(3)]
                assert [m["text"] for m in history] == ["hi bob", "hi alice", "from http"]
                assert all(m["history"] for m in history)

    asyncio.run(asyncio.wait_for(chat(), 15))


def test_chat_between_http11_and_http2_websockets(live: ServerFactory) -> None:
    """One client on an HTTP/1.1 upgrade, one on an RFC 8441 stream: the same chat."""
    server = live(create_app())

    async def chat() -> None:
        async with ws_connect(f"ws://127.0.0.1:{server.port}/ws") as h1_client:
            with h2_connection(server.port) as wire:
                h2_client = H2WebSocket(wire, "/ws")
                await asyncio.sleep(0.1)  # let the server register the h2 client
                await h1_client.send(json.dumps({"author": "h1", "text": "over HTTP/1.1"}))
                assert json.loads(h2_client.receive_text())["text"] == "over HTTP/1.1"
                assert (await next_message(h1_client))["text"] == "over HTTP/1.1"
                h2_client.send_text(json.dumps({"author": "h2", "text": "over HTTP/2"}))
                assert (await next_message(h1_client))["author"] == "h2"

    asyncio.run(asyncio.wait_for(chat(), 15))


# --- the stream -----------------------------------------------------------------------------


@pytest.mark.parametrize("http2", [False, True], ids=["http1", "h2c"])
def test_the_stream_delivers_lines_over_time(live: ServerFactory, http2: bool) -> None:
    server = live(create_app())
    interval = 0.25
    arrivals: list[tuple[float, bytes]] = []
    with (
        httpx.Client(base_url=server.url, http1=not http2, http2=http2) as client,
        client.stream("GET", "/stream", params={"count": 4, "interval": interval}) as response,
    ):
        assert response.headers["content-type"] == "text/plain"
        arrivals.extend((time.monotonic(), chunk) for chunk in response.iter_raw())
    body = b"".join(chunk for _, chunk in arrivals)
    assert [line.split(b" at ")[0] for line in body.splitlines()] == [
        b"line 1 of 4", b"line 2 of 4", b"line 3 of 4", b"line 4 of 4",
    ]  # fmt: skip
    # One chunk per line, each about ``interval`` after the one before: streamed, not
    # buffered until the generator finished.
    lines = [(at, chunk) for at, chunk in arrivals if chunk]
    assert len(lines) == 4
    gaps = [later[0] - earlier[0] for earlier, later in itertools.pairwise(lines)]
    assert all(gap > interval * 0.6 for gap in gaps), gaps
    assert httpx.get(server.url + "/stream?count=0").status_code == 400
    for bad in ("count=many", "count=101", "interval=nan", "interval=soon"):
        assert httpx.get(f"{server.url}/stream?{bad}").status_code == 400, bad


# --- the documented commands ----------------------------------------------------------------


def readme_serve_command() -> str:
    readme = (REPO_ROOT / "README.md").read_text()
    found = re.search(r"<!-- serve-command -->\s*```sh\n(.+?)\n```", readme, re.DOTALL)
    assert found is not None, "README.md has no ```sh block after <!-- serve-command -->"
    return found.group(1).strip()


def test_the_readme_serve_command_names_the_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    command = readme_serve_command()
    assert "python3 -m venv .venv" in command
    assert re.search(r"pip install -q -e '\.\[[^\]]*\bdemo\b[^\]]*\]'", command), command
    found = re.search(r"\.venv/bin/hypercorn (\S+)$", command)
    assert found is not None, command
    assert found.group(1) == "examples.demo:app"
    # The path resolves the way the hypercorn command resolves it, from the checkout.
    monkeypatch.chdir(REPO_ROOT)
    assert callable(load_application(found.group(1)))


class Process:
    """A child process whose merged output is read line by line; stopped by its pid."""

    def __init__(self, args: list[str]) -> None:
        self.process = subprocess.Popen(
            args,
            cwd=REPO_ROOT,
            env=child_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._pump = threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True)
        self._pump.start()

    def _read(self, stream: IO[str] | None) -> None:
        assert stream is not None
        for line in iter(stream.readline, ""):
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def wait_for(self, pattern: str, timeout: float = 20.0) -> re.Match[str]:
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines:
                    if found := regex.search(line):
                        return found
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._pump.is_alive():
                    raise AssertionError(f"no line matching {pattern!r}; output:\n" + self.output)
                self._changed.wait(min(remaining, 0.1))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def terminate(self) -> int:
        """SIGTERM, and the exit code once the server has stopped gracefully."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(15)
        self._pump.join(5)
        return code

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # its own session: only its group
        self.process.wait(10)
        self._pump.join(5)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def spawn() -> Iterator[Callable[[list[str]], Process]]:
    started: list[Process] = []

    def start(args: list[str]) -> Process:
        started.append(Process(args))
        return started[-1]

    yield start
    for process in started:
        if process.process.poll() is None:
            process.kill()


@pytest.mark.slow
def test_the_readme_hypercorn_command_serves_the_demo(
    spawn: Callable[[list[str]], Process],
) -> None:
    """``hypercorn examples.demo:app`` as the README runs it (on a free port)."""
    application = readme_serve_command().rsplit(" ", 1)[1]
    server = spawn([sys.executable, "-m", "hypercorn", application, "-b", "127.0.0.1:0"])
    url = server.wait_for(r"Running on (http://127\.0\.0\.1:\d+)").group(1)
    page = httpx.get(url + "/")
    assert page.status_code == 200
    assert "Hypercorn + Quart" in page.text
    with httpx.Client(base_url=url, http1=False, http2=True) as client:  # h2c
        assert client.get("/api/status").json()["http_version"] == "2"
    assert server.terminate() == 0, server.output


@pytest.mark.slow
def test_the_tls_command_serves_http2_with_push(
    spawn: Callable[[list[str]], Process], tmp_path: Path
) -> None:
    """``python -m examples.demo --tls``: a development certificate, ALPN h2, push."""
    cert_dir = tmp_path / "certs"
    args = ["--tls", "--port", "0", "--cert-dir", str(cert_dir)]
    server = spawn([sys.executable, "-m", "examples.demo", *args])
    url = server.wait_for(r"Serving the demo on (https://127\.0\.0\.1:\d+)").group(1)
    ca_path = str(cert_dir / "ca.pem")
    context = ssl.create_default_context(cafile=ca_path)  # verified, for 127.0.0.1
    with httpx.Client(base_url=url, http2=True, verify=context) as client:
        page = client.get("/")
        assert page.http_version == "HTTP/2"
        assert "HTTP/2</strong>" in page.text
        assert client.get("/api/status").json()["http_version"] == "2"
    port = int(url.rsplit(":", 1)[1])
    with h2_connection(port, tls=h2_client_context(ca_path)) as wire:
        page_stream = wire.streams[wire.request("/", scheme="https")]
        wire.until(lambda: page_stream.ended and len(wire.pushes) == 2)
        assert b"/static/style.css" in {dict(push.headers)[b":path"] for push in wire.pushes}
    assert server.terminate() == 0, server.output
    assert re.search(r'"GET / HTTP/2" 200', server.output), server.output  # the access log
    # A second start reuses the certificate rather than asking the user to trust a new CA.
    first = (cert_dir / "ca.pem").read_bytes(), (cert_dir / "cert.pem").read_bytes()
    server = spawn([sys.executable, "-m", "examples.demo", *args])
    server.wait_for(r"Serving the demo on https://")
    assert ((cert_dir / "ca.pem").read_bytes(), (cert_dir / "cert.pem").read_bytes()) == first
    assert server.terminate() == 0, server.output


def test_the_development_certificate(tmp_path: Path) -> None:
    from cryptography import x509

    cert = ensure_certificate(tmp_path / "dev")
    assert cert.folder == tmp_path / "dev"
    assert (cert.key_path.stat().st_mode & 0o777) == 0o600  # the keys are the owner's only
    assert ((tmp_path / "dev" / "ca-key.pem").stat().st_mode & 0o777) == 0o600
    leaf = x509.load_pem_x509_certificates(cert.cert_path.read_bytes())[0]
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert {str(address) for address in names.get_values_for_type(x509.IPAddress)} == {
        "127.0.0.1", "::1",
    }  # fmt: skip
    # Made once, then reused; a server certificate that no longer matches its key is remade
    # under the same CA.
    assert ensure_certificate(tmp_path / "dev") == cert
    ca_before = cert.ca_path.read_bytes()
    leaf_before = cert.cert_path.read_bytes()
    assert ensure_certificate(tmp_path / "dev").cert_path.read_bytes() == leaf_before
    cert.key_path.unlink()
    ensure_certificate(tmp_path / "dev")
    assert cert.ca_path.read_bytes() == ca_before
    assert cert.cert_path.read_bytes() != leaf_before
    context = ssl.create_default_context(cafile=str(cert.ca_path))
    context.load_cert_chain(cert.cert_path, cert.key_path)  # the pair matches


# --- docs/tutorial.md -----------------------------------------------------------------------


def tutorial_files() -> dict[str, str]:
    """The tutorial's files: its blocks marked ``<!-- tutorial-file: NAME -->``, in order."""
    text = (REPO_ROOT / "docs" / "tutorial.md").read_text()
    files: dict[str, str] = {}
    for name, code in re.findall(r"<!-- tutorial-file: (\S+) -->\n```\w*\n(.*?)```", text, re.S):
        files[name] = files[name] + "\n\n" + code if name in files else code
    return files


def tutorial_command(name: str) -> str:
    text = (REPO_ROOT / "docs" / "tutorial.md").read_text()
    found = re.search(rf"<!-- tutorial-command: {name} -->\n```sh\n(.*?)\n```", text, re.S)
    assert found is not None, f"docs/tutorial.md has no {name} command"
    return found.group(1)


@pytest.fixture
def tutorial(tmp_path: Path) -> Iterator[tuple[Path, Any]]:
    """The tutorial's files written to a folder, and its ``app`` module imported from it."""
    files = tutorial_files()
    assert set(files) == {"app.py", "static/style.css", "test_app.py"}, set(files)
    for name, code in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(code)
    # Imported under a name of its own (Quart finds static/ next to sys.modules[name]).
    spec = importlib.util.spec_from_file_location("tutorial_app", tmp_path / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["tutorial_app"] = module
    try:
        spec.loader.exec_module(module)
        yield tmp_path, module.app
    finally:
        del sys.modules["tutorial_app"]


def test_tutorial_app_streams_pushes_and_runs_lifespan(
    live: ServerFactory, tutorial: tuple[Path, Any]
) -> None:
    _, app = tutorial
    server = live(app)
    assert httpx.get(server.url + "/api/health").json()["chat_clients"] == 0
    started = time.monotonic()
    with httpx.stream("GET", server.url + "/count?every=0.1") as response:
        chunks = [(time.monotonic() - started, chunk) for chunk in response.iter_raw() if chunk]
    assert b"".join(chunk for _, chunk in chunks) == b"1\n2\n3\n4\n5\n"
    assert len(chunks) == 5 and chunks[0][0] < chunks[-1][0] - 0.3, chunks
    assert httpx.post(server.url + "/api/notes", json={"txt": "x"}).status_code == 400
    with h2_connection(server.port) as wire:
        page = wire.streams[wire.request("/")]
        wire.until(
            lambda: page.ended and wire.pushes and wire.stream(wire.pushes[0].promised).ended
        )
        assert b"Hello over HTTP/2" in page.data
        (push,) = wire.pushes
        assert dict(push.headers)[b":path"] == b"/static/style.css"
        assert wire.stream(push.promised).data.startswith(b"body {")


def test_tutorial_tls_step(live: ServerFactory, tutorial: tuple[Path, Any]) -> None:
    """The tutorial's openssl command makes a certificate the server and clients accept."""
    folder, app = tutorial
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    command = shlex.split(tutorial_command("certificate"))
    assert command[0] == "openssl"
    result = subprocess.run(
        [openssl, *command[1:]],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    server = live(app, certfile=cert, keyfile=key)
    context = ssl.create_default_context(cafile=cert)
    with httpx.Client(http2=True, verify=context) as client:  # as `curl --cacert cert.pem`
        for host in ("localhost", "127.0.0.1"):
            page = client.get(f"https://{host}:{server.port}/")
            assert page.http_version == "HTTP/2"
            assert "Hello over HTTP/2" in page.text


@pytest.mark.slow
def test_tutorial_test_file_passes(tutorial: tuple[Path, Any]) -> None:
    """The tutorial's test_app.py, run by pytest as a reader would, with the fixture."""
    folder, _ = tutorial
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_app.py"],
        cwd=folder,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "2 passed" in result.stdout
