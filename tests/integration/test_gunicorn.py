"""``gunicorn -k hypercorn.workers.HypercornWorker``: real gunicorn arbiters and workers.

Each test starts ``python -m gunicorn`` from this environment on ``127.0.0.1:0`` (the port
is read from gunicorn's ``Listening at`` line), serving ``gunicorn_app:app`` (ASGI at the
root, Flask at ``/flask``). Every process, arbiter and worker, is stopped by its pid.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hypercorn.config import Config
from hypercorn.workers import config_from_gunicorn

from ..helpers import wait_for
from .h2_helpers import make_tls_files

pytest.importorskip("gunicorn")
pytest.importorskip("flask")

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
LISTENING = re.compile(r"Listening at: https?://127\.0\.0\.1:(\d+)")
BOOTING = re.compile(r"Booting worker with pid: (\d+)")
RUNNING = re.compile(r"\[(\d+)\] \[INFO\] Running on https?://")


class Gunicorn:
    """A running gunicorn arbiter; its stderr is collected line by line in a thread."""

    def __init__(self, tmp_path: Path, *args: str, worker: str = "HypercornWorker") -> None:
        config = tmp_path / "gunicorn.conf.py"
        # Newer gunicorn opens a control socket in ~/.gunicorn; tests running side by side
        # would share it. Older releases ignore the unknown setting.
        config.write_text("control_socket_disable = True\n")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO_ROOT), str(HERE), *filter(None, [env.get("PYTHONPATH")])]
        )
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            str(config),
            "--worker-class",
            f"hypercorn.workers.{worker}",
            "--bind",
            "127.0.0.1:0",
            *args,
            "gunicorn_app:app",
        ]
        self.process = subprocess.Popen(
            command,
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.pid = self.process.pid
        self.lines: list[str] = []
        self._pump = threading.Thread(target=self._read, daemon=True)
        self._pump.start()
        self.port = int(self.wait_for_line(LISTENING).group(1))

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def matches(self, pattern: re.Pattern[str]) -> list[re.Match[str]]:
        return [m for line in list(self.lines) if (m := pattern.search(line))]

    def wait_for_line(self, pattern: re.Pattern[str], count: int = 1) -> re.Match[str]:
        if not wait_for(lambda: len(self.matches(pattern)) >= count, timeout=15):
            raise AssertionError(f"no {pattern.pattern!r} in:\n" + "\n".join(self.lines))
        return self.matches(pattern)[count - 1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> set[int]:
        return {int(m.group(1)) for m in self.matches(BOOTING)}

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout)

    def stop(self) -> None:
        """Stop the arbiter and any worker it left, by pid."""
        if self.process.poll() is None:
            self.signal(signal.SIGQUIT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        for pid in self.worker_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._pump.join(5)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Any]:
    started: list[Gunicorn] = []

    def run(*args: str, worker: str = "HypercornWorker") -> Gunicorn:
        server = Gunicorn(tmp_path, *args, worker=worker)
        started.append(server)
        return server

    yield run
    for server in started:
        server.stop()


def get_json(url: str, http2: bool = False) -> Any:
    with httpx.Client(http1=not http2, http2=http2, timeout=10) as client:
        response = client.get(url)
        assert response.status_code == 200, response.text
        return response.json()


def gunicorn_config(**settings: Any) -> Any:
    from gunicorn.config import Config as GunicornConfig

    cfg = GunicornConfig()
    for name, value in settings.items():
        cfg.set(name, value)
    return cfg


def test_gunicorn_defaults_leave_this_servers_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCRIPT_NAME", raising=False)
    config = config_from_gunicorn(gunicorn_config())
    defaults = Config()
    assert config.keep_alive_timeout == defaults.keep_alive_timeout
    assert config.max_request_line_size == defaults.max_request_line_size
    assert config.graceful_timeout == defaults.graceful_timeout  # under gunicorn's 30 s
    assert config.certfile is None and config.workers == 1


def test_gunicorn_settings_are_mapped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRIPT_NAME", "/mounted/")
    cfg = gunicorn_config(
        workers=4,
        keepalive=7,
        graceful_timeout=20,
        limit_request_line=0,  # gunicorn's "unlimited" is its ceiling
        limit_request_fields=50,
        threads=8,
        certfile="/tls/cert.pem",
        keyfile="/tls/key.pem",
        cert_reqs=2,
    )
    base = Config(graceful_timeout=60, wsgi_max_body_size=1024, keep_alive_timeout=30)
    config = config_from_gunicorn(cfg, base)
    assert config.workers == 4
    assert config.keep_alive_timeout == 7.0  # set in gunicorn: gunicorn's wins
    assert config.graceful_timeout == 20.0
    assert config.max_request_line_size == 8190
    assert config.max_header_count == 50
    assert config.wsgi_threads == 8
    assert (config.certfile, config.keyfile, config.verify_mode) == (
        "/tls/cert.pem",
        "/tls/key.pem",
        "required",
    )
    assert config.root_path == "/mounted"
    assert config.wsgi_max_body_size == 1024  # not a gunicorn setting: the base's


def test_graceful_timeout_never_outlasts_gunicorns() -> None:
    # gunicorn's arbiter kills a worker graceful_timeout after SIGTERM (30 s by default).
    config = config_from_gunicorn(gunicorn_config(), Config(graceful_timeout=120))
    assert config.graceful_timeout == 30.0


@pytest.mark.slow
@pytest.mark.parametrize("worker", ["HypercornWorker", "HypercornUVLoopWorker"])
def test_two_workers_serve_http11_h2c_websockets_and_wsgi(
    start: Any, tmp_path: Path, worker: str
) -> None:
    access_log = tmp_path / "access.log"
    server: Gunicorn = start("--workers", "2", "--access-logfile", str(access_log), worker=worker)
    running = {int(server.wait_for_line(RUNNING, count).group(1)) for count in (1, 2)}
    assert running == server.worker_pids() and len(running) == 2

    http11 = get_json(server.url + "/")
    assert http11["http_version"] == "1.1" and http11["pid"] in running
    h2c = get_json(server.url + "/", http2=True)  # prior knowledge, in the clear
    assert h2c["http_version"] == "2" and h2c["pid"] in running

    flask_reply = get_json(server.url + "/flask/hello")
    assert flask_reply["script_root"] == "/flask"
    assert flask_reply["multiprocess"] is True  # two workers

    websockets = pytest.importorskip("websockets.sync.client")
    with websockets.connect(f"ws://127.0.0.1:{server.port}/ws") as ws:
        ws.send("hi")
        assert ws.recv(timeout=5) == "echo hi"

    # Gunicorn's access log, in gunicorn's default format, through gunicorn's handlers.
    assert wait_for(lambda: access_log.exists() and "GET /flask/hello" in access_log.read_text())
    line = next(x for x in access_log.read_text().splitlines() if "/flask/hello" in x)
    assert re.fullmatch(
        r'127\.0\.0\.1 - - \[.+\] "GET /flask/hello HTTP/1\.1" 200 \d+ "-" ".+"', line
    )

    # SIGUSR1 reopens the log files (after logrotate has moved them).
    access_log.rename(tmp_path / "access.log.1")
    server.signal(signal.SIGUSR1)  # the arbiter passes it on to its workers

    def reopened() -> bool:
        get_json(server.url + "/")
        return access_log.exists()

    assert wait_for(reopened, timeout=5, interval=0.1)


@pytest.mark.slow
def test_sigterm_lets_the_request_in_flight_finish(start: Any) -> None:
    server: Gunicorn = start("--workers", "1", "--graceful-timeout", "10")
    result: dict[str, Any] = {}

    def slow_request() -> None:
        result["reply"] = get_json(server.url + "/slow/1.0")

    client = threading.Thread(target=slow_request)
    client.start()
    server.wait_for_line(re.compile("app: slow request"))
    started = time.monotonic()
    server.signal(signal.SIGTERM)
    client.join(10)
    assert "reply" in result, "the request in flight was cut"
    assert server.wait(10) == 0
    assert time.monotonic() - started < 5
    server.wait_for_line(re.compile("app: lifespan shutdown"))
    with pytest.raises(httpx.ConnectError):
        get_json(server.url + "/")


@pytest.mark.slow
def test_sigint_stops_at_once(start: Any) -> None:
    server: Gunicorn = start("--workers", "1", "--graceful-timeout", "10")
    outcome: dict[str, Any] = {}

    def slow_request() -> None:
        try:
            get_json(server.url + "/slow/8")
        except httpx.HTTPError as exc:
            outcome["error"] = exc

    client = threading.Thread(target=slow_request)
    client.start()
    server.wait_for_line(re.compile("app: slow request"))
    started = time.monotonic()
    server.signal(signal.SIGINT)
    client.join(10)
    server.wait(10)
    assert time.monotonic() - started < 5
    assert "error" in outcome  # cut, not waited for


@pytest.mark.slow
def test_max_requests_restarts_the_worker(start: Any) -> None:
    server: Gunicorn = start("--workers", "1", "--max-requests", "2")
    pids = [get_json(server.url + "/")["pid"] for _ in range(4)]
    assert pids[0] == pids[1]
    assert pids[3] != pids[0]
    assert len(server.worker_pids()) >= 2


@pytest.mark.slow
def test_tls_from_gunicorns_certfile_and_keyfile(start: Any, tmp_path: Path) -> None:
    tls = make_tls_files(tmp_path)
    server: Gunicorn = start("--certfile", tls.cert_path, "--keyfile", tls.key_path)
    context = ssl.create_default_context(cafile=tls.ca_path)
    with httpx.Client(verify=context, http2=True, timeout=10) as client:
        response = client.get(f"https://127.0.0.1:{server.port}/")
    assert response.http_version == "HTTP/2"  # ALPN chose h2
    assert response.json()["http_version"] == "2"
