"""``hypercorn --reload``: workers restarted when a watched file changes, as real processes.

The file watcher is watchfiles (inotify here); every change waits for the reload to be
logged and served, within a bounded time.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from ..helpers import wait_for
from . import supervised
from .supervised import Supervise, fetch, served_by

pytest.importorskip("watchfiles")

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads worker pids from /proc"
)

work_dir = supervised.work_dir
supervise = supervised.supervise

FAST = ("--graceful-timeout", "1", "--shutdown-timeout", "1")


def body(port: int) -> str:
    return fetch(port).body.decode()


def edit_version(work_dir: Path, version: str) -> None:
    # Same size, within the same second as the first import: a worker that read the .pyc
    # would serve the old code (reload runs workers with -B so that none is ever written).
    path = work_dir / "app.py"
    path.write_text(path.read_text().replace('VERSION = "v1"', f'VERSION = "{version}"'))


def test_reload_serves_the_edited_file(supervise: Supervise, work_dir: Path) -> None:
    process = supervise("app", "--reload", *FAST)
    port = process.port
    first = fetch(port)
    assert first.body.endswith(b" v1")
    mark = len(process.lines())
    edit_version(work_dir, "v2")
    process.wait_for_line(r"Changes in app\.py: reloading", after=mark)
    # A new process serves the new code; the old one is gone.
    assert wait_for(lambda: served_by(first) not in process.workers(), timeout=10)
    assert len(process.workers()) == 1
    assert {body(port).split()[1] for _ in range(5)} == {"v2"}
    process.send_signal(signal.SIGTERM)
    assert process.wait() == 0


@pytest.mark.slow
def test_reload_with_workers_replaces_all_of_them(supervise: Supervise, work_dir: Path) -> None:
    process = supervise("app", "--reload", "-w", "2", *FAST)
    port = process.port
    assert wait_for(lambda: len(process.workers()) == 2, timeout=10)
    before = process.workers()
    mark = len(process.lines())
    edit_version(work_dir, "v3")
    process.wait_for_line("All workers replaced", after=mark, timeout=15)
    assert wait_for(lambda: len(process.workers()) == 2, timeout=10)
    after = process.workers()
    assert not before & after
    assert {body(port).split()[1] for _ in range(10)} == {"v3"}


def test_unwatched_files_do_not_reload(supervise: Supervise, work_dir: Path) -> None:
    process = supervise("app", "--reload", "--reload-include", "*.py", *FAST)
    port = process.port
    worker = served_by(fetch(port))
    (work_dir / "notes.txt").write_text("not code\n")
    (work_dir / ".hidden.py").write_text("x = 1\n")  # excluded by the default '.*'
    (work_dir / "trigger.py").write_text("x = 1\n")
    # The .py file's change is seen; the other two never are.
    process.wait_for_line(r"Changes in trigger\.py: reloading")
    assert not any("notes.txt" in line or ".hidden" in line for line in process.lines())
    assert wait_for(lambda: worker not in process.workers(), timeout=10)


def test_a_broken_edit_keeps_the_old_worker_until_it_is_fixed(
    supervise: Supervise, work_dir: Path
) -> None:
    process = supervise("app", "--reload", *FAST)
    port = process.port
    old = served_by(fetch(port))
    source = (work_dir / "app.py").read_text()
    mark = len(process.lines())
    (work_dir / "app.py").write_text(source + "\nraise RuntimeError('half-saved edit')\n")
    process.wait_for_line(r"failed to start: .*waiting for a file change", after=mark)
    # The worker that was serving still is.
    assert served_by(fetch(port)) == old
    mark = len(process.lines())
    (work_dir / "app.py").write_text(source.replace('VERSION = "v1"', 'VERSION = "fixed"'))
    process.wait_for_line(r"serving \(pid", after=mark, timeout=15)
    # Once the new worker serves, the old one is told to stop.
    assert wait_for(lambda: old not in process.workers(), timeout=10)
    assert {body(port).split()[1] for _ in range(5)} == {"fixed"}


def test_reload_without_watchfiles_is_one_line(supervise: Supervise, work_dir: Path) -> None:
    # A package of that name that cannot be imported stands in for it not being installed.
    shadow = work_dir / "shadow" / "watchfiles"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('not installed')\n")
    env = {"PYTHONPATH": f"{shadow.parent}:{supervised.hypercorn_env()['PYTHONPATH']}"}
    process = supervise("app", "--reload", env=env, wait=None)
    assert process.wait() == 1
    lines = [line for line in process.lines() if line.strip()]
    assert len(lines) == 1, lines
    assert "pip install 'hypercorn[reload]'" in lines[0]
    assert "watchfiles" in lines[0]
