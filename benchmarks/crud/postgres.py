"""A throwaway PostgreSQL for the CRUD benchmark: Debian's binaries, a temporary cluster.

The cluster lives in a fresh directory under the system temp dir, belongs to an unprivileged
user (``postgres`` when the harness runs as root: PostgreSQL refuses to run as root), listens
on 127.0.0.1 only, runs in the foreground as a child of the harness pinned to one core, and
is stopped by its PID and deleted at the end. Durability is switched off (``fsync``,
``synchronous_commit``, ``full_page_writes``): the benchmark measures web servers, and a
write's cost should be the statement, not the disk of a shared machine. Autovacuum is off
too; the harness vacuums between runs instead, so no background work lands inside one.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.envs import SetupError
from harness.procs import Processes, free_port, pinned

DATABASE = "crud"
ROLE = "bench"
# Seconds PostgreSQL gets to start, and to stop after a fast-shutdown request.
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0

SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "autovacuum": "off",
    "jit": "off",
    # Every configuration keeps its pool open while the others are measured: 2 async pools
    # of 64, gthread's, gevent's and eventlet's, and a few for the harness.
    "max_connections": "500",
    "shared_buffers": "256MB",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "1h",
    "log_min_messages": "warning",
    "log_min_error_statement": "panic",  # a failed statement is the app's to report
}

SCHEMA = """
CREATE TABLE items (
    id serial PRIMARY KEY,
    name text NOT NULL,
    description text NOT NULL,
    price_cents integer NOT NULL,
    quantity integer NOT NULL
);
INSERT INTO items (name, description, price_cents, quantity)
SELECT 'item ' || g, 'seeded item ' || g || ': ' || repeat(md5(g::text), 2),
       (g * 7919) % 100000, g % 1000
FROM generate_series(1, {rows}) AS g;
CREATE TABLE items_seed AS SELECT * FROM items;
"""

# Back to the seeded rows: what a run wrote is undone, and dead rows are vacuumed away, so
# every measured run starts from the same table. The id sequence is not wound back: a write
# that lands late (a request still in flight when wrk stopped) must not collide with a row
# the next run creates.
RESET = """
DELETE FROM items WHERE id > {rows};
UPDATE items SET name = s.name, description = s.description, price_cents = s.price_cents,
       quantity = s.quantity
FROM items_seed AS s
WHERE items.id = s.id
  AND (items.name, items.description, items.price_cents, items.quantity)
      IS DISTINCT FROM (s.name, s.description, s.price_cents, s.quantity);
"""


def find_bin_dir(*, install: bool, log: Path) -> Path:
    """The newest ``/usr/lib/postgresql/<version>/bin``; installs Debian's package if asked."""
    found = _bin_dirs()
    if found:
        return found[-1]
    if not install:
        raise SetupError("PostgreSQL is not installed: apt-get install -y postgresql")
    if os.geteuid() != 0:
        raise SetupError("PostgreSQL is not installed, and installing it needs root")
    print("  installing PostgreSQL (apt-get install -y postgresql)", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update"], ["apt-get", "install", "-y", "postgresql"]):
        with log.open("ab") as out:
            out.write(("\n$ " + " ".join(argv) + "\n").encode())
            out.flush()
            done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, env=env, check=False)
        if done.returncode != 0:
            raise SetupError(f"`{' '.join(argv)}` failed; see {log}")
    found = _bin_dirs()
    if not found:
        raise SetupError("apt-get installed postgresql, but no /usr/lib/postgresql/*/bin")
    return found[-1]


def _bin_dirs() -> list[Path]:
    candidates = Path("/usr/lib/postgresql").glob("*/bin")
    found = [path for path in candidates if (path / "postgres").exists()]

    def version(path: Path) -> tuple[int, ...]:
        digits = path.parent.name.split(".")
        return tuple(int(d) for d in digits if d.isdigit())

    return sorted(found, key=version)


def _unprivileged_user() -> str | None:
    """The user to run PostgreSQL as, or None to run it as ourselves (we are not root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "hypercorn-bench"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
         "hypercorn-bench"],
        check=True,
    )  # fmt: skip
    return "hypercorn-bench"


def _as_user(user: str | None, argv: list[str]) -> list[str]:
    """``argv`` run as ``user``; setpriv execs, so the PID stays the program's own."""
    if user is None:
        return argv
    return ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *argv]


@dataclass
class Postgres:
    """A running cluster: its port, PID and how to run SQL in it."""

    bin_dir: Path
    port: int
    directory: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def dsn(self) -> str:
        return f"postgresql://{ROLE}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def version(self) -> str:
        out = subprocess.run(
            [str(self.bin_dir / "postgres"), "--version"],
            capture_output=True,
            text=True,
            check=False,
        )
        return out.stdout.strip()

    def psql(self, script: str, *, database: str = DATABASE, timeout: float = 120) -> str:
        """Run ``script`` (statements separated by semicolons) with psql; its output."""
        argv = [
            str(self.bin_dir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
            "-h", "127.0.0.1", "-p", str(self.port), "-U", ROLE, "-d", database, "-f", "-",
        ]  # fmt: skip
        done = subprocess.run(
            argv, input=script, capture_output=True, text=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            raise SetupError(f"psql failed: {done.stderr.strip()[-500:]}")
        return done.stdout

    def load(self, rows: int) -> None:
        self.psql(f"CREATE DATABASE {DATABASE};", database="postgres")
        self.psql(SCHEMA.format(rows=rows))
        self.reset(rows)

    def reset(self, rows: int) -> None:
        self.psql(RESET.format(rows=rows))
        self.psql("VACUUM ANALYZE items;")  # not inside the transaction psql -f may open

    def active_queries(self) -> int:
        """Statements running now in the benchmark's database, other than this one."""
        return int(
            self.psql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND state = 'active' AND pid <> pg_backend_pid();"
            ).strip()
        )


@contextlib.contextmanager
def running(
    processes: Processes, bin_dir: Path, *, core: int, log_path: Path
) -> Iterator[Postgres]:
    """A fresh cluster started in the foreground pinned to ``core``; stopped and deleted."""
    user = _unprivileged_user()
    directory = Path(tempfile.mkdtemp(prefix="hypercorn-crud-pg-"))
    data, sockets = directory / "data", directory / "sockets"
    sockets.mkdir()
    if user is not None:
        entry = pwd.getpwnam(user)
        for path in (directory, sockets):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    process: subprocess.Popen[bytes] | None = None
    try:
        with log_path.open("ab") as log:
            initdb = [
                str(bin_dir / "initdb"), "-D", str(data), "-U", ROLE, "--auth=trust",
                "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions",
            ]  # fmt: skip
            done = subprocess.run(
                _as_user(user, initdb), stdout=log, stderr=subprocess.STDOUT, check=False
            )
            if done.returncode != 0:
                raise SetupError(f"initdb failed; see {log_path}")
            port = free_port()
            argv = [str(bin_dir / "postgres"), "-D", str(data), "-k", str(sockets)]
            argv += ["-p", str(port)]
            for name, value in SETTINGS.items():
                argv += ["-c", f"{name}={value}"]
            command = pinned(core, _as_user(user, argv))
            log.write(f"$ {' '.join(command)}\n".encode())
            log.flush()
            process = processes.start(command, stdout=log, stderr=subprocess.STDOUT)
        server = Postgres(bin_dir, port, directory, process, log_path)
        _wait_ready(server)
        yield server
    finally:
        if process is not None:
            _stop(processes, process)
        shutil.rmtree(directory, ignore_errors=True)


def _wait_ready(server: Postgres) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if server.process.poll() is not None:
            raise SetupError(f"PostgreSQL exited at start; see {server.log_path}")
        try:
            server.psql("SELECT 1;", database="postgres", timeout=10)
            return
        except (SetupError, subprocess.TimeoutExpired):
            if time.monotonic() > deadline:
                raise SetupError(f"PostgreSQL did not start; see {server.log_path}") from None
            time.sleep(0.2)


def _stop(processes: Processes, process: subprocess.Popen[bytes]) -> None:
    """Fast shutdown (SIGINT to the postmaster, by PID), then the harness's group stop."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(STOP_TIMEOUT)
    processes.stop(process)
