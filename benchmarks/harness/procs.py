"""Starting, pinning, watching and stopping processes.

Every process the harness starts goes through :class:`Processes`, which puts it in its own
process group and stops the whole group (SIGTERM, then SIGKILL) when asked, at exit, and on
Ctrl-C. Nothing is ever stopped by name.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

# A server that ignores SIGTERM this long is killed; every peer here stops within a second.
STOP_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class Cores:
    """The core the server runs on and the core the load tool runs on."""

    server: int
    load: int

    @classmethod
    def pick(cls) -> Cores:
        available = sorted(os.sched_getaffinity(0))
        if len(available) < 2:
            # Still runs, but the numbers mean little: server and load share one core.
            return cls(available[0], available[0])
        return cls(available[0], available[1])


def pinned(core: int, argv: Sequence[str]) -> list[str]:
    """``argv`` run under ``taskset -c core`` (taskset execs, so the PID is the program's)."""
    return ["taskset", "-c", str(core), *argv]


def raise_open_file_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; children inherit it. Returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def free_port() -> int:
    """A loopback TCP port nobody is listening on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float) -> bool:
    """Poll until 127.0.0.1:port accepts, the process exits, or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def server_env(**extra: str) -> dict[str, str]:
    """This environment without the harness's own Python settings, plus ``extra``.

    Output is unbuffered, so that a crash's traceback reaches the server's log.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env.pop("VIRTUAL_ENV", None)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


# Log lines worth a look after a run.
_PROBLEM = re.compile(r"traceback|error|exception|critical|warning", re.IGNORECASE)


class StartFailed(RuntimeError):
    """A server did not start listening and answering; the message has its log's tail."""


class LoggedServer:
    """A server process started through :class:`Processes`, its output in its own log file.

    The benchmark and the CRUD benchmark each say how to start and probe their servers;
    this holds what is common: the command line written at the top of the log, the wait for
    the port, stopping, and reading the log back for failures.
    """

    def __init__(self, processes: Processes, log_path: Path) -> None:
        self.processes = processes
        self.log_path = log_path
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def spawn(
        self, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float
    ) -> None:
        """Start ``argv``, which listens on ``self.port``, and wait until it does."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"$ {' '.join(argv)}\n".encode())
            log.flush()
            self.process = self.processes.start(
                argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        if not wait_for_port(self.port, self.process, timeout):
            self.stop()
            raise StartFailed(self.failure("did not start listening"))

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> int | None:
        if self.process is None:
            return None
        code = self.processes.stop(self.process)
        self.process = None
        return code

    def failure(self, what: str) -> str:
        tail = self.log_tail(4)
        return f"{what}; log: {' | '.join(tail)}" if tail else what

    def log_tail(self, lines: int) -> list[str]:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return []
        kept = [line.strip() for line in text.splitlines() if line.strip()]
        return [line for line in kept if not line.startswith("$ ")][-lines:]

    def log_problems(self) -> dict[str, Any]:
        """How many log lines look like errors, and the first few distinct ones."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return {"count": 0, "examples": []}
        problems = [
            line.strip()
            for line in text.splitlines()
            if _PROBLEM.search(line) and not line.startswith("$ ")  # our own command lines
        ]
        examples = list(dict.fromkeys(problems))[:5]
        return {"count": len(problems), "examples": examples, "log": str(self.log_path)}


class Processes:
    """A registry of started processes, each in its own process group."""

    def __init__(self) -> None:
        self._running: dict[int, subprocess.Popen[bytes]] = {}

    def start(
        self,
        argv: Sequence[str],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        stdout: IO[bytes] | int | None = None,
        stderr: IO[bytes] | int | None = None,
        stdin: int | None = subprocess.DEVNULL,
    ) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,  # own process group: stopped as a whole, immune to ^C
        )
        self._running[process.pid] = process
        return process

    def stop(self, process: subprocess.Popen[bytes]) -> int | None:
        """Stop ``process`` and its group; returns its exit code (None if it was killed)."""
        self._running.pop(process.pid, None)
        if process.poll() is None:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()
                return None
        # Workers a supervisor forked (gunicorn, granian) must not outlive it.
        _signal_group(process.pid, signal.SIGKILL)
        return process.returncode

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Finished:
        """Run ``argv`` to completion (killed after ``timeout``); output and CPU time."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        process = self.start(
            argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        timed_out = False
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            self.stop(process)
            out, err = process.communicate()
        self._running.pop(process.pid, None)
        wall = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # Only this child is reaped between the two readings (servers are reaped when
        # stopped, which never happens during a load run), so the difference is its CPU.
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return Finished(
            returncode=process.returncode,
            stdout=out.decode(errors="replace"),
            stderr=err.decode(errors="replace"),
            wall_seconds=wall,
            cpu_seconds=cpu,
            timed_out=timed_out,
        )

    def stop_all(self) -> None:
        for process in list(self._running.values()):
            self.stop(process)

    @contextlib.contextmanager
    def session(self) -> Iterator[Processes]:
        """Stop everything on the way out, also on Ctrl-C, SIGTERM and exceptions."""
        # SIGINT too: a shell starts background jobs with SIGINT ignored, and Python then
        # never turns it into KeyboardInterrupt.
        previous = {
            signum: signal.signal(signum, _raise_keyboard_interrupt)
            for signum in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            yield self
        finally:
            self.stop_all()
            for signum, handler in previous.items():
                signal.signal(signum, handler)


@dataclass(frozen=True)
class Finished:
    """A load tool's run: its exit code, output, and the time it took."""

    returncode: int | None
    stdout: str
    stderr: str
    wall_seconds: float
    cpu_seconds: float
    timed_out: bool

    @property
    def cpu_percent(self) -> float:
        """CPU used as a share of one core over the run (100 means one core saturated)."""
        return 100.0 * self.cpu_seconds / self.wall_seconds if self.wall_seconds else 0.0


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


# --- reading /proc -----------------------------------------------------------------------


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants (a supervisor and its workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces; fields follow the last ')'.
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, []))
    return tree


def rss_bytes(root: int) -> int:
    """Resident memory of ``root``'s process tree: the sum of VmRSS, in bytes."""
    total = 0
    for pid in process_tree(root):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
                break
    return total


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(root: int) -> float:
    """User plus system CPU time consumed so far by ``root``'s process tree."""
    total = 0
    for pid in process_tree(root):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / _CLOCK_TICKS
