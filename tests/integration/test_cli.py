"""The ``hypercorn`` command, run as a real ``python -m hypercorn`` process.

Every server here listens on a port the OS picks (``127.0.0.1:0``) and is found through its
``Running on http://127.0.0.1:PORT`` log line; every process is killed by its pid at the end
of its test if it is still running.
"""

from __future__ import annotations

import gc
import os
import re
import signal
import socket
import subprocess
import sys
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from hypercorn.cli import parse

from ..helpers import CollectedProcess, Reader, Response, has_ipv6_loopback, wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]

# Every app a test serves. Each speaks lifespan properly, so the only log lines are the ones
# a test is about; lifespan shutdown leaves a marker file in the working directory.
APP_SOURCE = """
import asyncio
import gc
import pathlib
import sys


def make_app(name):
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    pathlib.Path("lifespan-shutdown").write_text(name)
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        path = scope["path"]
        if path.startswith("/sleep/"):
            print("app: sleeping", file=sys.stderr, flush=True)
            await asyncio.sleep(float(path[len("/sleep/"):]))
        body = name
        if path == "/gc":
            body = f"threshold={gc.get_threshold()[0]} frozen={gc.get_freeze_count()}"
        headers = [(b"content-type", b"text/plain")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body.encode()})

    return app


app = make_app("app")
other = make_app("other")


def create_app(name="factory"):
    return make_app(name)


not_callable = 42
"""

RUNNING = re.compile(r"Running on (\S+) \(CTRL \+ C to quit\)")
LOCAL = ("--bind", "127.0.0.1:0")


def hypercorn_env() -> dict[str, str]:
    """The environment for a child: this checkout's hypercorn first on the import path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return env


def hypercorn_command(args: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "hypercorn", *args]


def run_to_exit(*args: str, cwd: Path, timeout: float = 15.0) -> subprocess.CompletedProcess[str]:
    """Run a hypercorn command that is expected to exit by itself (errors, --version)."""
    return subprocess.run(
        hypercorn_command(args),
        cwd=cwd,
        env=hypercorn_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class HypercornProcess(CollectedProcess):
    """A running ``python -m hypercorn``; its output is collected line by line in threads."""

    def __init__(self, args: Sequence[str], cwd: Path, pass_fds: Sequence[int] = ()) -> None:
        super().__init__(hypercorn_command(args), cwd=cwd, env=hypercorn_env(), pass_fds=pass_fds)

    @property
    def urls(self) -> list[str]:
        return [found.group(1) for line in self.lines() if (found := RUNNING.search(line))]

    @property
    def port(self) -> int:
        """The port of the first TCP listener, from its ``Running on`` line."""
        found = re.search(r":(\d+)$", self.urls[0])
        assert found is not None, self.urls
        return int(found.group(1))

    def terminate(self, timeout: float = 10.0) -> int:
        """SIGTERM, then the exit code."""
        self.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self._reap()


Spawn = Callable[..., HypercornProcess]


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    """The working directory of every hypercorn process: holds ``app.py``."""
    (tmp_path / "app.py").write_text(APP_SOURCE)
    return tmp_path


@pytest.fixture
def spawn(app_dir: Path) -> Iterator[Spawn]:
    """Start ``python -m hypercorn ARGS`` in ``app_dir``; killed after the test if running.

    Binds ``127.0.0.1:0`` unless the arguments bind something else. Waits for the first
    ``Running on`` line unless ``ready=False``.
    """
    started: list[HypercornProcess] = []

    def start(*args: str, ready: bool = True, pass_fds: Sequence[int] = ()) -> HypercornProcess:
        if not any(arg in ("-b", "--bind") or arg.startswith("--bind=") for arg in args):
            args = (*args, *LOCAL)
        process = HypercornProcess(args, app_dir, pass_fds)
        started.append(process)
        if ready:
            process.wait_for_line(RUNNING)
        return process

    yield start
    for process in started:
        process.kill()


def exchange(sock: socket.socket, target: str = "/", headers: bytes = b"") -> Response:
    """Send one GET on ``sock`` and read its response."""
    sock.sendall(
        b"GET " + target.encode("latin-1") + b" HTTP/1.1\r\nHost: test\r\n" + headers + b"\r\n"
    )
    return Reader(sock).response()


def get(port: int, target: str = "/", headers: bytes = b"", host: str = "127.0.0.1") -> Response:
    """One GET on a fresh TCP connection."""
    with socket.create_connection((host, port), timeout=5) as sock:
        return exchange(sock, target, headers)


def stderr_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


# --- finding the application -------------------------------------------------------------


@pytest.mark.parametrize(
    ("application", "body"),
    [
        ("app:app", b"app"),
        ("app", b"app"),
        ("app:other", b"other"),
        ("app:create_app()", b"factory"),
        ("app:create_app('x')", b"x"),
        ('app:create_app(name="kw")', b"kw"),
    ],
)
def test_application_forms(spawn: Spawn, application: str, body: bytes) -> None:
    process = spawn(application)
    response = get(process.port)
    assert response.status == 200
    assert response.body == body
    assert process.terminate() == 0


@pytest.mark.parametrize(
    ("application", "mentions"),
    [
        ("no_such_module:app", "no_such_module"),
        ("app:no_such_attribute", "no_such_attribute"),
        ("app:not_callable", "not_callable"),
        ("app:create_app(name)", "literal"),
        (":app", "MODULE:APP"),
    ],
)
def test_application_not_found_is_one_line(app_dir: Path, application: str, mentions: str) -> None:
    result = run_to_exit(application, *LOCAL, cwd=app_dir)
    assert result.returncode == 1
    lines = stderr_lines(result)
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert mentions in lines[0]
    assert "[ERROR]" in lines[0]


def test_exception_in_the_users_module_shows_its_traceback(app_dir: Path) -> None:
    (app_dir / "broken.py").write_text(
        "import os\n\n\ndef helper():\n    raise RuntimeError('boom in user module')\n\n\n"
        "helper()\n"
    )
    result = run_to_exit("broken:app", *LOCAL, cwd=app_dir)
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "broken.py" in result.stderr
    assert result.stderr.rstrip().endswith("RuntimeError: boom in user module")


def test_import_error_inside_the_users_module_shows_its_traceback(app_dir: Path) -> None:
    # The module exists; a module it imports does not. That is the user's bug to see in full.
    (app_dir / "needs_dep.py").write_text("import hc_no_such_dependency\n")
    result = run_to_exit("needs_dep:app", *LOCAL, cwd=app_dir)
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "hc_no_such_dependency" in result.stderr


def test_version(app_dir: Path) -> None:
    from hypercorn import __version__

    result = run_to_exit("--version", cwd=app_dir)
    assert result.returncode == 0
    assert result.stdout.strip() == f"hypercorn {__version__}"


def test_missing_application_argument_is_a_usage_error(app_dir: Path) -> None:
    result = run_to_exit(cwd=app_dir)
    assert result.returncode == 2
    assert "the application to serve is required" in result.stderr
    assert "Traceback" not in result.stderr


# --- configuration: file and flags -------------------------------------------------------


def test_flags_override_the_config_file(tmp_path: Path) -> None:
    conf = tmp_path / "conf.toml"
    conf.write_text(
        'bind = ["127.0.0.1:9000", "127.0.0.1:9001"]\n'
        "keep_alive_timeout = 3\n"
        "date_header = true\n"
        'server_header = "from-file"\n'
        "graceful_timeout = 4\n"
    )
    config, application = parse(
        [
            "-c",
            str(conf),
            "--keep-alive",
            "7",
            "--no-date-header",
            "-b",
            "127.0.0.1:0",
            "--graceful-timeout=1.5",
            "app:create_app()",
        ]
    )
    assert application == "app:create_app()"
    assert config.keep_alive_timeout == 7.0
    assert config.date_header is False
    assert config.bind == ["127.0.0.1:0"]  # a flag replaces the file's list
    assert config.graceful_timeout == 1.5
    assert config.server_header == "from-file"  # not overridden: the file's value stands


def test_repeatable_flags_collect_every_value() -> None:
    config, _ = parse(
        ["-b", "127.0.0.1:0", "--bind", "unix:/tmp/h.sock", "--header", "X-A: 1", "app"]
    )
    assert config.bind == ["127.0.0.1:0", "unix:/tmp/h.sock"]
    assert config.response_headers == ["X-A: 1"]


def test_flags_override_the_config_file_when_serving(spawn: Spawn, app_dir: Path) -> None:
    (app_dir / "conf.toml").write_text(
        'server_header = "from-file"\nresponse_headers = ["X-From: file"]\n'
    )
    process = spawn("-c", "conf.toml", "--server-header", "from-flag", "app")
    response = get(process.port)
    assert response.header(b"server") == b"from-flag"
    assert response.header(b"x-from") == b"file"


def test_python_config_file_on_the_command_line(spawn: Spawn, app_dir: Path) -> None:
    (app_dir / "conf.py").write_text(
        "import os\n\n\ndef name() -> str:\n    return 'py-' + os.name\n\n\n"
        "server_header = name()\n"
    )
    process = spawn("-c", "file:conf.py", "app")
    assert get(process.port).header(b"server") == f"py-{os.name}".encode()


def test_unknown_key_in_config_file_is_one_line(app_dir: Path) -> None:
    (app_dir / "conf.toml").write_text("keep_alive = 7\n")
    result = run_to_exit("-c", "conf.toml", "app", *LOCAL, cwd=app_dir)
    assert result.returncode == 1
    assert stderr_lines(result) == [
        "hypercorn: error: conf.toml: unknown option 'keep_alive'"
        " (did you mean 'keep_alive_timeout'?)"
    ]


def test_invalid_flag_value_is_one_line_naming_the_option(app_dir: Path) -> None:
    result = run_to_exit("app", "--keep-alive", "-1", *LOCAL, cwd=app_dir)
    assert result.returncode == 1
    lines = stderr_lines(result)
    assert len(lines) == 1, result.stderr
    assert "keep_alive_timeout" in lines[0]
    assert "negative" in lines[0]


def test_bad_choice_on_the_command_line_is_a_usage_error(app_dir: Path) -> None:
    result = run_to_exit("app", "--http", "h3", *LOCAL, cwd=app_dir)
    assert result.returncode == 2
    assert "invalid choice: 'h3'" in result.stderr
    assert "Traceback" not in result.stderr


# --- binds -------------------------------------------------------------------------------


def test_tcp_bind_reports_the_real_port(spawn: Spawn) -> None:
    process = spawn("app")
    assert process.urls == [f"http://127.0.0.1:{process.port}"]
    assert process.port != 0
    assert get(process.port).body == b"app"


def test_unix_socket_bind(spawn: Spawn, tmp_path: Path) -> None:
    path = tmp_path / "h.sock"
    process = spawn("app", "--bind", f"unix:{path}")
    assert process.urls == [f"unix:{path}"]
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(str(path))
        response = exchange(sock)
        assert response.status == 200
        assert response.body == b"app"
        assert exchange(sock, "/again").body == b"app"  # keep-alive over the Unix socket
    assert process.terminate() == 0
    assert not path.exists()


def test_unix_socket_bind_replaces_a_stale_socket_file(spawn: Spawn, tmp_path: Path) -> None:
    path = tmp_path / "h.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stale:
        stale.bind(str(path))  # what a killed server leaves behind
    process = spawn("app", "--bind", f"unix:{path}")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(str(path))
        assert exchange(sock).body == b"app"
    assert process.terminate() == 0


def test_unix_socket_bind_never_deletes_a_regular_file(app_dir: Path) -> None:
    path = app_dir / "not-a-socket"
    path.write_text("precious")
    result = run_to_exit("app", "--bind", f"unix:{path}", cwd=app_dir)
    assert result.returncode == 1
    lines = stderr_lines(result)
    assert len(lines) == 1, result.stderr
    assert f"unix:{path}" in lines[0]
    assert path.read_text() == "precious"


@pytest.mark.skipif(not has_ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_ipv6_bind(spawn: Spawn) -> None:
    process = spawn("app", "--bind", "[::1]:0")
    assert process.urls == [f"http://[::1]:{process.port}"]
    response = get(process.port, host="::1")
    assert response.status == 200
    assert response.body == b"app"


def test_ipv6_address_without_brackets_is_one_line(app_dir: Path) -> None:
    result = run_to_exit("app", "--bind", "::1:8000", cwd=app_dir)
    assert result.returncode == 1
    lines = stderr_lines(result)
    assert len(lines) == 1, result.stderr
    assert "brackets" in lines[0]


def test_fd_bind(spawn: Spawn) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        process = spawn("app", "--bind", f"fd://{listener.fileno()}", pass_fds=[listener.fileno()])
        assert process.urls == [f"http://127.0.0.1:{port}"]
        assert get(port).body == b"app"
        assert process.terminate() == 0


def test_several_binds_serve_the_same_app(spawn: Spawn, tmp_path: Path) -> None:
    path = tmp_path / "h.sock"
    process = spawn("app", "-b", "127.0.0.1:0", "-b", f"unix:{path}")
    process.wait_for_line(f"Running on unix:{path} ")
    assert process.urls == [f"http://127.0.0.1:{process.port}", f"unix:{path}"]
    assert get(process.port).body == b"app"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(str(path))
        assert exchange(sock).body == b"app"


# --- the process -------------------------------------------------------------------------


def test_pid_file_exists_while_running(spawn: Spawn, tmp_path: Path) -> None:
    pid_path = tmp_path / "hypercorn.pid"
    process = spawn("app", "--pid", str(pid_path))
    assert pid_path.read_text().strip() == str(process.pid)
    assert process.terminate() == 0
    assert not pid_path.exists()


@pytest.mark.parametrize("option", ["--pid", "--error-logfile", "--access-logfile"])
def test_unwritable_output_path_is_one_line(app_dir: Path, option: str) -> None:
    path = app_dir / "no-such-directory" / "out"
    result = run_to_exit("app", option, str(path), *LOCAL, cwd=app_dir)
    assert result.returncode == 1
    lines = stderr_lines(result)
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert str(path) in lines[0]


def test_failed_start_leaves_no_pid_file_or_unix_socket(app_dir: Path) -> None:
    pid_path = app_dir / "hypercorn.pid"
    unix_path = app_dir / "h.sock"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = run_to_exit(
            "app",
            "--pid",
            str(pid_path),
            "--bind",
            f"unix:{unix_path}",
            "--bind",
            f"127.0.0.1:{port}",
            cwd=app_dir,
        )
    assert result.returncode == 1
    assert not pid_path.exists()
    assert not unix_path.exists()


def test_more_than_one_worker_runs_a_supervisor(spawn: Spawn) -> None:
    # The process model itself is tested in test_workers.py.
    process = spawn("app", "-w", "2")
    process.wait_for_line(r"Serving with 2 worker\(s\)")
    assert get(process.port).body == b"app"
    assert process.terminate() == 0


# --- garbage collection --------------------------------------------------------------------


def gc_state(port: int) -> tuple[int, int]:
    """The young-generation threshold and frozen-object count the serving process reports."""
    threshold, frozen = (part.split("=")[1] for part in get(port, "/gc").body.decode().split())
    return int(threshold), int(frozen)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_started_app_is_frozen_out_of_collections(spawn: Spawn, workers: str) -> None:
    process = spawn("app", "-w", workers)
    threshold, frozen = gc_state(process.port)
    assert threshold == 10_000
    # The modules and the app: far more than anything the request itself allocated.
    assert frozen > 10_000


def test_gc_tuning_can_be_turned_off(spawn: Spawn) -> None:
    process = spawn("app", "--gc-threshold", "0", "--no-gc-freeze")
    assert gc_state(process.port) == (gc.get_threshold()[0], 0)


def test_an_app_that_sets_its_own_threshold_keeps_it(spawn: Spawn, app_dir: Path) -> None:
    (app_dir / "tuned.py").write_text(
        "import gc\n\ngc.set_threshold(1234)\n\nfrom app import app\n"
    )
    process = spawn("tuned:app", "--gc-threshold", "5000")
    assert gc_state(process.port)[0] == 1234


def test_h11_parser(spawn: Spawn) -> None:
    process = spawn("app", "--http", "h11")
    response = get(process.port, "/path?q=1")
    assert response.status == 200
    assert response.body == b"app"


@pytest.mark.parametrize("worker_class", ["asyncio", "uvloop"])
def test_worker_class(spawn: Spawn, worker_class: str) -> None:
    pytest.importorskip(worker_class)
    process = spawn("app", "-k", worker_class)
    assert get(process.port).body == b"app"
    assert process.terminate() == 0


# --- headers -----------------------------------------------------------------------------


def test_default_server_header(spawn: Spawn) -> None:
    process = spawn("app")
    assert get(process.port).header(b"server") == b"hypercorn"


def test_empty_server_header_removes_it(spawn: Spawn) -> None:
    process = spawn("app", "--server-header", "")
    response = get(process.port)
    assert response.status == 200
    assert b"server" not in response.header_names()
    assert response.header(b"date") is not None


def test_extra_response_headers(spawn: Spawn) -> None:
    process = spawn("app", "--header", "X-Frame-Options: DENY", "--header", "X-B: 2")
    response = get(process.port)
    assert response.header(b"x-frame-options") == b"DENY"
    assert response.header(b"x-b") == b"2"


# --- logs --------------------------------------------------------------------------------


def test_access_log_to_stdout_in_the_default_format(spawn: Spawn) -> None:
    process = spawn("app", "--access-logfile", "-")
    get(process.port, "/first?q=1")
    get(process.port, "/second")
    assert process.terminate() == 0
    lines = process.lines("stdout")
    assert len(lines) == 2, lines
    assert re.fullmatch(r'127\.0\.0\.1 "GET /first\?q=1 HTTP/1\.1" 200 3 \d+', lines[0])
    assert re.fullmatch(r'127\.0\.0\.1 "GET /second HTTP/1\.1" 200 3 \d+', lines[1])


def test_no_access_log_by_default(spawn: Spawn) -> None:
    process = spawn("app")
    get(process.port)
    assert process.terminate() == 0
    assert process.lines("stdout") == []
    assert not any("GET /" in line for line in process.lines("stderr"))


def test_access_log_format_atoms(spawn: Spawn) -> None:
    log_format = "%(h)s %(r)s %(s)s %(b)s %(D)s %({user-agent}i)s %({content-type}o)s"
    process = spawn("app", "--access-logfile", "-", "--access-log-format", log_format)
    get(process.port, "/atoms?x=y", b"User-Agent: tester/1.0\r\n")
    assert process.terminate() == 0
    lines = process.lines("stdout")
    assert len(lines) == 1, lines
    assert re.fullmatch(
        r"127\.0\.0\.1 GET /atoms\?x=y HTTP/1\.1 200 3 \d+ tester/1\.0 text/plain", lines[0]
    )


def test_access_log_to_a_file(spawn: Spawn, tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    process = spawn("app", "--access-logfile", str(path))
    get(process.port, "/to-file")
    assert process.terminate() == 0
    assert process.lines("stdout") == []
    lines = path.read_text().splitlines()
    assert len(lines) == 1
    assert '"GET /to-file HTTP/1.1" 200 3' in lines[0]


@pytest.mark.parametrize("parser", ["httptools", "h11"])
def test_access_log_cannot_be_injected(spawn: Spawn, parser: str) -> None:
    process = spawn(
        "app",
        "--http",
        parser,
        "--access-logfile",
        "-",
        "--access-log-format",
        '%(h)s "%(r)s" %(s)s "%(a)s"',
    )
    response = get(
        process.port,
        "/a%0d%0aINJECTED",
        b'User-Agent: evil" 999 "forged\tagent\r\n',
    )
    assert response.status == 200
    assert process.terminate() == 0
    lines = process.lines("stdout")
    assert len(lines) == 1, lines
    line = lines[0]
    assert not line.startswith("INJECTED")
    assert "\r" not in line
    # The only unescaped quotes are the format's own four.
    assert len(re.findall(r'(?<!\\)"', line)) == 4, line
    assert line.endswith('"evil\\" 999 \\"forged\\x09agent"')


@pytest.mark.parametrize("parser", ["httptools", "h11"])
def test_access_log_escapes_c1_control_characters(spawn: Spawn, parser: str) -> None:
    # Header values may carry obs-text (RFC 9110 §5.5), decoded as Latin-1: 0x85 is NEL, a
    # line break to str.splitlines() and many log viewers; 0x9b is the 8-bit terminal CSI.
    process = spawn(
        "app", "--http", parser, "--access-logfile", "-", "--access-log-format", "%(r)s %(a)s"
    )
    user_agent = b"User-Agent: a\x85GET /forged HTTP/1.1 \x9b31m\r\n"
    assert get(process.port, "/c1", user_agent).status == 200
    assert process.terminate() == 0
    lines = process.lines("stdout")
    assert len(lines) == 1, lines
    controls = [char for char in lines[0] if unicodedata.category(char) == "Cc"]
    assert controls == [], lines[0]
    assert len(lines[0].splitlines()) == 1


def test_error_log_to_a_file(spawn: Spawn, tmp_path: Path) -> None:
    path = tmp_path / "error.log"
    process = spawn("app", "--error-logfile", str(path), ready=False)
    assert wait_for(lambda: path.exists() and "Running on" in path.read_text(), timeout=10)
    running = RUNNING.search(path.read_text())
    assert running is not None
    port = int(running.group(1).rsplit(":", 1)[1])
    assert get(port).body == b"app"
    assert process.terminate() == 0
    text = path.read_text()
    assert "[INFO] Received SIGTERM" in text
    assert process.lines("stderr") == []


def test_log_level_warning_hides_info_lines(spawn: Spawn) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        # Nothing announces readiness at this level; the already-listening socket queues the
        # request until the server takes it.
        process = spawn(
            "app",
            "--log-level",
            "warning",
            "--bind",
            f"fd://{listener.fileno()}",
            pass_fds=[listener.fileno()],
            ready=False,
        )
        assert get(port).body == b"app"
        assert process.terminate() == 0
    assert process.lines("stderr") == []
