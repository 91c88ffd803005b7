"""The process model's pure parts: the worker plan, back-off, reload filter, systemd helpers.

The processes themselves are tested in tests/integration/test_workers.py, test_reload.py and
test_systemd.py; here are the decisions, as tables.
"""

from __future__ import annotations

import asyncio
import os
import socket
import stat
from pathlib import Path
from typing import Any

import pytest

from hypercorn.config import Config
from hypercorn.run import supervised, with_activated_sockets
from hypercorn.sockets import BindError, create_socket, parse_bind, unix_socket_mode
from hypercorn.supervisor import (
    MAX_BOOT_FAILURES,
    Plan,
    ReloadFilter,
    Slot,
    bind_listeners,
    boot_retry_delay,
    crash_restart_delay,
    plan,
)
from hypercorn.systemd import (
    ActivatedSocket,
    Notifier,
    listen_fds,
    notify,
    notify_address,
    reloading_message,
)
from hypercorn.worker_process import RequestBudget


def serving(id_: int, started: float = 0.0, outdated: bool = False) -> Slot:
    return Slot(id_, serving=True, outdated=outdated, started=started or float(id_))


def starting(id_: int, started: float = 0.0, outdated: bool = False) -> Slot:
    return Slot(id_, serving=False, outdated=outdated, started=started or float(id_))


# --- the plan ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("workers", "target", "expected"),
    [
        # the first start: every worker at once
        ([], 3, Plan(3, ())),
        # steady
        ([serving(1), serving(2)], 2, Plan(0, ())),
        # booting: nothing more to do until they report ready
        ([starting(1), starting(2)], 2, Plan(0, ())),
        # a crash: the missing one starts
        ([serving(1)], 2, Plan(1, ())),
        # SIGHUP: one replacement at a time, nobody stopped yet
        ([serving(1, outdated=True), serving(2, outdated=True)], 2, Plan(1, ())),
        ([serving(1, outdated=True), serving(2, outdated=True), starting(3)], 2, Plan(0, ())),
        # ... the replacement serves: the oldest outdated stops, the next replacement starts
        ([serving(1, outdated=True), serving(2, outdated=True), serving(3)], 2, Plan(1, (1,))),
        ([serving(2, outdated=True), serving(3), serving(4)], 2, Plan(0, (2,))),
        # max_requests: one retiring worker, replaced first, then stopped
        ([serving(1, outdated=True), serving(2)], 2, Plan(1, ())),
        ([serving(1, outdated=True), serving(2), serving(3)], 2, Plan(0, (1,))),
        # an outdated worker still starting is never wanted
        ([starting(1, outdated=True), serving(2)], 2, Plan(1, (1,))),
        # a crash during a rolling restart: refill the capacity and go on replacing
        ([serving(1, outdated=True)], 2, Plan(2, ())),
        # SIGTTIN
        ([serving(1), serving(2)], 3, Plan(1, ())),
        # SIGTTOU: the oldest serving worker goes, or one still starting first
        ([serving(1), serving(2), serving(3)], 2, Plan(0, (1,))),
        ([serving(1), serving(2), starting(3)], 2, Plan(0, (3,))),
        ([serving(1), serving(2), serving(3)], 1, Plan(0, (1, 2))),
        # one worker, reloaded: the new one first, then the old one goes
        ([serving(1, outdated=True)], 1, Plan(1, ())),
        ([serving(1, outdated=True), serving(2)], 1, Plan(0, (1,))),
    ],
)
def test_plan(workers: list[Slot], target: int, expected: Plan) -> None:
    assert plan(workers, target) == expected


def test_a_rolling_restart_never_serves_with_fewer_workers() -> None:
    workers = {i: serving(i, outdated=True) for i in range(1, 5)}
    next_id = 5
    for _ in range(20):
        decided = plan(list(workers.values()), 4)
        for id_ in decided.stop:
            del workers[id_]
        assert sum(w.serving for w in workers.values()) >= 4
        for _ in range(decided.start):
            workers[next_id] = starting(next_id)
            next_id += 1
        # every starting worker becomes ready before the next decision
        workers = {i: serving(i, w.started, w.outdated) for i, w in workers.items()}
    assert sorted(workers) == [5, 6, 7, 8]
    assert not any(w.outdated for w in workers.values())


@pytest.mark.parametrize(
    ("crashes", "delay"), [(1, 0.0), (2, 0.1), (3, 0.2), (4, 0.4), (10, 5.0), (100, 5.0)]
)
def test_crash_restart_delay(crashes: int, delay: float) -> None:
    assert crash_restart_delay(crashes) == pytest.approx(delay)


@pytest.mark.parametrize(
    ("failures", "delay"), [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 10.0)]
)
def test_boot_retry_delay(failures: int, delay: float) -> None:
    assert boot_retry_delay(failures) == pytest.approx(delay)


def test_giving_up_on_start_failures_takes_seconds_not_minutes() -> None:
    assert sum(boot_retry_delay(n) for n in range(1, MAX_BOOT_FAILURES)) < 10


# --- which configs run a supervisor ------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, False),
        ({"workers": 1}, False),
        ({"workers": 2}, True),
        ({"reload": True}, True),
        ({"max_requests": 100}, True),
        ({"reuse_port": True}, False),
    ],
)
def test_supervised(changes: dict[str, Any], expected: bool) -> None:
    assert supervised(Config(**changes)) is expected


# --- reload filter -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "include", "expected"),
    [
        ("app.py", ["*.py"], True),
        ("pkg/views.py", ["*.py"], True),
        ("notes.txt", ["*.py"], False),
        ("templates/index.html", ["*.py", "*.html"], True),
        ("templates/index.html", ["templates/*"], True),
        (".venv/lib/site.py", ["*.py"], False),  # '.*' excludes the directory
        (".hidden.py", ["*.py"], False),
        ("pkg/__pycache__/views.cpython-311.pyc", ["*.py", "*.pyc"], False),
        ("app.pyc", ["*.py*"], False),
        ("app.py~", ["*"], False),
        ("../outside.py", ["*.py"], False),
    ],
)
def test_reload_filter(tmp_path: Path, path: str, include: list[str], expected: bool) -> None:
    config = Config()
    check = ReloadFilter(str(tmp_path), include, config.reload_exclude)
    assert check(None, str(tmp_path / path)) is expected


# --- systemd -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, []),
        ({"LISTEN_PID": "42", "LISTEN_FDS": "2"}, [(3, "unknown"), (4, "unknown")]),
        ({"LISTEN_PID": "41", "LISTEN_FDS": "2"}, []),  # for another process
        ({"LISTEN_PID": "42", "LISTEN_FDS": "0"}, []),
        ({"LISTEN_PID": "42", "LISTEN_FDS": "x"}, []),
        (
            {"LISTEN_PID": "42", "LISTEN_FDS": "2", "LISTEN_FDNAMES": "web:insecure"},
            [(3, "web"), (4, "insecure")],
        ),
        # a count of names that does not match is ignored, as sd_listen_fds_with_names does
        ({"LISTEN_PID": "42", "LISTEN_FDS": "1", "LISTEN_FDNAMES": "a:b"}, [(3, "unknown")]),
    ],
)
def test_listen_fds(environ: dict[str, str], expected: list[tuple[int, str]]) -> None:
    assert listen_fds(environ, 42) == [ActivatedSocket(fd, name) for fd, name in expected]


def test_activated_sockets_replace_bind() -> None:
    activated = [ActivatedSocket(3, "web"), ActivatedSocket(4, "insecure")]
    plain = with_activated_sockets(Config(bind=["127.0.0.1:9"]), activated)
    assert plain.bind == ["fd://3", "fd://4"]  # without TLS, the name changes nothing
    assert plain.insecure_bind == []
    tls = with_activated_sockets(Config(certfile="cert.pem"), activated)
    assert tls.bind == ["fd://3"]
    assert tls.insecure_bind == ["fd://4"]
    config = Config()
    assert with_activated_sockets(config, []) is config


@pytest.mark.parametrize(
    ("value", "address"),
    [("/run/systemd/notify", "/run/systemd/notify"), ("@abstract", "\0abstract"), ("x", None)],
)
def test_notify_address(value: str, address: str | None) -> None:
    assert notify_address(value) == address


def test_notify_sends_one_datagram(tmp_path: Path) -> None:
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(5)
        assert notify("READY=1", path)
        assert sock.recv(100) == b"READY=1"
        environ = {"NOTIFY_SOCKET": path}
        notifier = Notifier(environ)
        assert environ == {}  # taken: no child process sees it
        assert notifier(reloading_message())
        assert sock.recv(100).startswith(b"RELOADING=1\nMONOTONIC_USEC=")


def test_notify_never_raises(tmp_path: Path) -> None:
    assert not notify("READY=1", None)
    assert not notify("READY=1", str(tmp_path / "nobody-listens"))
    assert not Notifier({})("READY=1")


# --- sockets -----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "mode"), [("660", 0o660), ("0o600", 0o600), ("0777", 0o777)])
def test_unix_socket_mode(text: str, mode: int) -> None:
    assert unix_socket_mode(text) == mode


@pytest.mark.parametrize("text", ["", "8", "rw", "1777", "-1", "0o"])
def test_bad_unix_socket_mode_is_one_line(text: str) -> None:
    with pytest.raises(BindError, match=r"unix_socket_mode: .* is not an octal mode"):
        unix_socket_mode(text)


def test_unix_socket_mode_owner_and_group(tmp_path: Path) -> None:
    path = tmp_path / "h.sock"
    config = Config(
        unix_socket_mode="640",
        unix_socket_owner=str(os.getuid()),  # changing it to oneself needs no privilege
        unix_socket_group=str(os.getgid()),
    )
    with create_socket(parse_bind(f"unix:{path}"), 16, config):
        info = path.stat()
        assert stat.S_ISSOCK(info.st_mode)
        assert stat.S_IMODE(info.st_mode) == 0o640
        assert (info.st_uid, info.st_gid) == (os.getuid(), os.getgid())


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("unix_socket_owner", "no user named 'hc-no-such-user'"),
        ("unix_socket_group", "no group named 'hc-no-such-user'"),
    ],
)
def test_unknown_owner_is_one_line(tmp_path: Path, option: str, message: str) -> None:
    config = Config().replace(**{option: "hc-no-such-user"})
    with pytest.raises(BindError, match=message):
        create_socket(parse_bind(f"unix:{tmp_path / 'h.sock'}"), 16, config)
    assert not (tmp_path / "h.sock").exists()


def test_reuse_port_reserves_the_port_once() -> None:
    config = Config(bind=["127.0.0.1:0"], reuse_port=True)
    listeners = bind_listeners(config)
    try:
        (reserved,) = listeners.sockets
        port = reserved.getsockname()[1]
        assert port != 0
        assert listeners.bind == [f"127.0.0.1:{port}"]
        assert listeners.pass_fds == []  # each worker binds its own
        # Two workers' sockets on the one port, both listening.
        first = create_socket(parse_bind(listeners.bind[0]), 16, config)
        second = create_socket(parse_bind(listeners.bind[0]), 16, config)
        with first, second:
            assert first.getsockname() == second.getsockname() == ("127.0.0.1", port)
    finally:
        listeners.close()


def test_shared_sockets_reach_workers_as_fds(tmp_path: Path) -> None:
    path = tmp_path / "h.sock"
    config = Config(bind=["127.0.0.1:0", f"unix:{path}"])
    listeners = bind_listeners(config)
    try:
        fds = [sock.fileno() for sock in listeners.sockets]
        assert listeners.bind == [f"fd://{fd}" for fd in fds]
        assert listeners.pass_fds == fds
        assert listeners.unix_paths == [str(path)]
        assert listeners.urls[1] == f"unix:{path}"
    finally:
        listeners.close()
        listeners.remove_unix_paths()
    assert not path.exists()


def test_a_failed_bind_leaves_nothing_open(tmp_path: Path) -> None:
    path = tmp_path / "h.sock"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        config = Config(bind=[f"unix:{path}", f"127.0.0.1:{port}"])
        with pytest.raises(BindError, match=f"127.0.0.1:{port}"):
            bind_listeners(config)
    assert not path.exists()


# --- the worker's request budget ---------------------------------------------------------


def test_request_budget_counts_requests_not_lifespan() -> None:
    calls: list[str] = []
    spent: list[int] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        calls.append(scope["type"])

    budget = RequestBudget(app, 2, lambda: spent.append(budget.count))

    async def main() -> None:
        for kind in ("lifespan", "http", "websocket", "http"):
            await budget({"type": kind}, None, None)

    asyncio.run(main())
    assert calls == ["lifespan", "http", "websocket", "http"]
    assert spent == [2]  # once, at the limit
    assert budget.count == 3
