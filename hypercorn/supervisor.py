"""The process supervisor: binds once, runs worker processes, restarts and rolls them.

``hypercorn -w N`` (or ``--reload``, or ``--max-requests``) runs this in the main process.
It binds every listening socket once, starts N workers that inherit them, and then only
watches: a worker that dies is restarted (with back-off), SIGHUP replaces the workers one by
one, each replacement serving before its predecessor is stopped, SIGTTIN/SIGTTOU add and
remove a worker, a worker that has served ``max_requests`` is replaced the same way, and
SIGTERM/SIGINT stop them all gracefully. It never imports the app.

Workers are fresh interpreters, ``python -m hypercorn.worker_process`` started with
:mod:`subprocess`, rather than forks or :mod:`multiprocessing` children:

* nothing of the supervisor's state reaches a worker (the reload watcher's thread, imported
  modules, signal handlers), so every worker, and every reload, starts from the same clean
  slate, with no fork-after-threads hazard;
* the sockets are handed over explicitly (``pass_fds``) and served as ``fd://N`` binds: the
  worker is the single-process server, with nothing of its own to get wrong;
* the config goes over a private socketpair as JSON, not on the command line (where ``ps``
  would show ``keyfile_password``), and the same pair carries ``ready``/``retire``/``failed``
  back. ``multiprocessing``'s spawn context does the same underneath, and adds pickling, a
  resource-tracker process and a re-import of ``__main__`` that nothing here needs.

The supervisor is a plain select loop, not asyncio: signals arrive through
:func:`signal.set_wakeup_fd`, worker messages through their sockets, and timers (back-off,
stop deadlines) are the loop's timeout.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import PurePath
from typing import Any, Literal

from .config import Config, ConfigError
from .logs import error_logger
from .metrics import SharedMetrics
from .run import FORCED_EXIT_SECONDS, _remove_pid_file, _write_pid_file, loop_factory
from .sockets import BindError, create_socket, create_ssl_context, parse_bind
from .systemd import ActivatedSocket, Notifier, reloading_message
from .worker_process import FRESH_CONNECTION_GRACE

__all__ = [
    "Listeners",
    "Plan",
    "ReloadFilter",
    "Slot",
    "Supervisor",
    "bind_listeners",
    "boot_retry_delay",
    "crash_restart_delay",
    "plan",
    "run_supervisor",
]

#: Start-up failures in a row (no worker becoming ready in between) before giving up.
MAX_BOOT_FAILURES = 5
#: Seconds beyond ``startup_timeout`` a worker may take to import the app and start serving.
BOOT_MARGIN = 30.0
#: Seconds beyond ``graceful_timeout`` + ``shutdown_timeout`` (+ the fresh-connection grace)
#: a stopping worker gets before it is killed.
STOP_MARGIN = 5.0
#: Crashes of serving workers within this many seconds count towards the restart back-off.
CRASH_WINDOW = 30.0
#: The longest the loop sleeps without a reason to wake (a safety net for lost wake-ups).
POLL_SECONDS = 1.0

WorkerState = Literal["starting", "serving", "stopping"]


# --- the plan: which workers to start and stop (pure, table-tested) ----------------------


@dataclass(frozen=True, slots=True)
class Slot:
    """What the planner knows of a live worker that has not been told to stop."""

    id: int
    serving: bool  # reported ready: lifespan startup done, accepting
    outdated: bool  # to be replaced: an older generation (SIGHUP, reload) or retiring
    started: float  # when its process started (older first when one must go)


@dataclass(frozen=True, slots=True)
class Plan:
    start: int  # how many new workers to start
    stop: tuple[int, ...]  # ids of workers to stop gracefully


def plan(workers: Sequence[Slot], target: int) -> Plan:
    """Move towards ``target`` current, serving workers without ever serving with fewer.

    * an outdated worker is stopped only once a current one serves in its place (so SIGHUP,
      reload and max_requests replace workers one at a time, losing no capacity), and an
      outdated worker still starting is stopped at once (it will never be wanted);
    * below capacity (a crash, SIGTTIN, the first start) every missing worker starts at once;
    * above it (SIGTTOU) the extra workers stop: those still starting first, then the oldest.
    """
    stop = [w.id for w in workers if w.outdated and not w.serving]
    current = sorted((w for w in workers if not w.outdated), key=lambda w: (w.serving, w.started))
    outdated = sorted((w for w in workers if w.outdated and w.serving), key=lambda w: w.started)
    excess = len(current) - target
    if excess > 0:
        stop += [w.id for w in current[:excess]]
        current = current[excess:]
    serving = sum(1 for w in current if w.serving)
    starting = len(current) - serving
    capacity = serving + len(outdated)
    while outdated and capacity > target:
        stop.append(outdated.pop(0).id)
        capacity -= 1
    missing = target - len(current)
    # Refill what is below capacity now; replace outdated workers one at a time.
    wanted = (target - capacity) + (1 if outdated else 0)
    return Plan(max(0, min(missing, wanted) - starting), tuple(stop))


def crash_restart_delay(recent_crashes: int) -> float:
    """Seconds before restarting after the ``recent_crashes``-th crash in a short while."""
    if recent_crashes <= 1:
        return 0.0
    return float(min(5.0, 0.1 * 2 ** (recent_crashes - 2)))


def boot_retry_delay(failures: int) -> float:
    """Seconds before retrying after ``failures`` start-up failures in a row."""
    return float(min(10.0, 0.5 * 2 ** max(0, failures - 1)))


# --- the listening sockets ---------------------------------------------------------------


@dataclass
class Listeners:
    """The sockets the supervisor holds, and the binds that hand them to a worker."""

    sockets: list[socket.socket] = field(default_factory=list)
    bind: list[str] = field(default_factory=list)
    insecure_bind: list[str] = field(default_factory=list)
    metrics_bind: list[str] = field(default_factory=list)
    pass_fds: list[int] = field(default_factory=list)
    unix_paths: list[str] = field(default_factory=list)
    #: What the workers will serve, for the start-up log line.
    urls: list[str] = field(default_factory=list)

    def close(self) -> None:
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.close()
        self.sockets = []

    def remove_unix_paths(self) -> None:
        for path in self.unix_paths:
            with contextlib.suppress(OSError):
                os.unlink(path)
        self.unix_paths = []


def bind_listeners(config: Config, activated: Sequence[ActivatedSocket] = ()) -> Listeners:
    """Bind (or adopt) every socket; raises :class:`BindError` with nothing left open.

    Shared sockets reach workers as ``fd://N``. With ``reuse_port`` a TCP bind is only
    reserved here (bound with SO_REUSEPORT, never listening, so port 0 is resolved once and
    the port stays ours between workers) and each worker binds its own socket to it.
    """
    tls = config.certfile is not None
    entries: list[tuple[str, str]]  # (bind text, which worker option)
    if activated:
        entries = [
            (item.bind, "insecure_bind" if tls and item.insecure else "bind") for item in activated
        ]
    else:
        entries = [(text, "bind") for text in config.bind]
        entries += [(text, "insecure_bind") for text in (config.insecure_bind if tls else [])]
    entries += [(text, "metrics_bind") for text in config.metrics_bind]
    listeners = Listeners()
    try:
        for text, option in entries:
            bind = parse_bind(text)
            scheme = "https" if tls and option == "bind" else "http"
            if bind.kind == "tcp" and config.reuse_port and option != "metrics_bind":
                sock = create_socket(bind, config.backlog, config, listen=False)
                listeners.sockets.append(sock)
                host, port = sock.getsockname()[:2]
                worker_bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            else:
                sock = create_socket(bind, config.backlog, config)
                listeners.sockets.append(sock)
                if bind.kind == "unix":
                    listeners.unix_paths.append(bind.path)
                listeners.pass_fds.append(sock.fileno())
                worker_bind = f"fd://{sock.fileno()}"
            getattr(listeners, option).append(worker_bind)
            if option != "metrics_bind":
                listeners.urls.append(_url(sock, scheme))
    except BaseException:
        listeners.close()
        listeners.remove_unix_paths()
        raise
    return listeners


def _url(sock: socket.socket, scheme: str) -> str:
    name = sock.getsockname()
    if isinstance(name, tuple):
        host, port = name[:2]
        return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"
    return f"unix:{name}"


# --- reloading ---------------------------------------------------------------------------


class ReloadFilter:
    """Which changed paths trigger a reload: ``reload_include`` minus ``reload_exclude``.

    An exclude pattern matches any part of the path (so ``.*`` skips ``.git/`` and
    ``.venv/`` and everything under them); an include pattern matches the file name or the
    path relative to the watched directory.
    """

    def __init__(self, root: str, include: Sequence[str], exclude: Sequence[str]) -> None:
        self.root = os.path.abspath(root)
        self.include = list(include)
        self.exclude = list(exclude)

    def __call__(self, change: object, path: str) -> bool:
        relative = os.path.relpath(path, self.root)
        parts = PurePath(relative).parts
        if not parts or parts[0] == os.pardir:
            return False
        if any(fnmatchcase(part, pattern) for part in parts for pattern in self.exclude):
            return False
        return any(
            fnmatchcase(parts[-1], pattern) or fnmatchcase(relative, pattern)
            for pattern in self.include
        )


def import_watchfiles() -> Any:
    """The watchfiles module, or a one-line :class:`ConfigError` saying how to install it."""
    try:
        import watchfiles
    except ImportError:
        raise ConfigError(
            "reload: needs the watchfiles package: pip install 'hypercorn[reload]'"
        ) from None
    return watchfiles


class Reloader:
    """Watches ``root`` in a thread with watchfiles; ``wake()`` is called on each change."""

    def __init__(self, root: str, filter_: ReloadFilter, wake: Callable[[], None]) -> None:
        self._watchfiles = import_watchfiles()
        self._root = root
        self._filter = filter_
        self._wake = wake
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._changed: list[str] = []
        self._thread = threading.Thread(target=self._watch, name="hypercorn-reload", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2.0)

    def take(self) -> list[str]:
        """The changed paths since the last call."""
        with self._lock:
            changed, self._changed = self._changed, []
        return changed

    def _watch(self) -> None:
        changes: set[tuple[Any, str]]
        try:
            for changes in self._watchfiles.watch(
                self._root,
                watch_filter=self._filter,
                stop_event=self._stop,
                # Editors save in bursts (a temporary file, a rename): one reload per burst.
                debounce=400,
                raise_interrupt=False,
            ):
                with self._lock:
                    self._changed.extend(sorted({path for _, path in changes}))
                self._wake()
        except Exception as exc:  # e.g. out of inotify watches: say so, keep serving
            error_logger.error("reload: cannot watch %s: %s", self._root, exc)


# --- the supervisor ----------------------------------------------------------------------


@dataclass(eq=False)
class WorkerProcess:
    """One worker as the supervisor sees it."""

    id: int
    process: subprocess.Popen[bytes]
    control: socket.socket
    generation: int
    started: float
    state: WorkerState = "starting"
    retiring: bool = False
    #: Whether it ever reported ready.
    served: bool = False
    #: A start-up failure the worker reported (``failed REASON``).
    reason: str | None = None
    #: When it is killed if it has not exited (start-up or stop deadline).
    deadline: float = 0.0
    buffer: bytes = b""
    #: Its slot in the shared metrics (0: none).
    metrics_slot: int = 0

    @property
    def pid(self) -> int:
        return self.process.pid


def _describe_exit(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
        return f"was killed by signal {-code}"
    return f"exited with code {code}"


class Supervisor:
    """Runs the workers; :meth:`run` returns the exit code."""

    HANDLED = (
        signal.SIGTERM,
        signal.SIGINT,
        signal.SIGHUP,
        signal.SIGTTIN,
        signal.SIGTTOU,
        signal.SIGCHLD,
    )

    def __init__(
        self,
        config: Config,
        application: str,
        listeners: Listeners,
        notify: Notifier,
    ) -> None:
        self.config = config
        self.application = application
        self.listeners = listeners
        self.notify = notify
        self.target = config.workers
        self.generation = 0
        self.workers: list[WorkerProcess] = []
        self.stopping = False
        self.exit_code = 0
        self._next_id = 1
        self._ever_ready = False
        self._ready_sent = False
        self._rolling = False
        self._boot_failures = 0
        self._waiting_for_change = False
        self._next_start_at = 0.0
        self._crashes: collections.deque[float] = collections.deque()
        self._selector = selectors.DefaultSelector()
        self._wakeup_read, self._wakeup_write = socket.socketpair()
        self._reloader: Reloader | None = None
        self._stop_seconds = (
            FRESH_CONNECTION_GRACE
            + config.graceful_timeout
            + config.shutdown_timeout
            + STOP_MARGIN
        )
        spec_config = config.replace(
            bind=listeners.bind,
            insecure_bind=listeners.insecure_bind,
            metrics_bind=listeners.metrics_bind,
            workers=1,
            reload=False,
            pid_path=None,
        )
        self._spec: dict[str, Any] = {
            "application": application,
            "config": dataclasses.asdict(spec_config),
        }
        #: With metrics_bind, every worker counts into its own slot of one shared block, so
        #: whichever worker answers a scrape reports them all. Room for a rolling restart of
        #: four times the workers at once; a worker beyond that counts only for itself.
        self._metrics: SharedMetrics | None = None
        self._free_slots: list[int] = []
        if config.metrics_bind:
            slots = 1 + 4 * max(config.workers, 4)
            self._metrics = SharedMetrics(slots)
            self._free_slots = list(range(1, slots))
        self._metrics_fds = () if self._metrics is None else (self._metrics.fd,)

    # --- the loop ------------------------------------------------------------------------

    def run(self) -> int:
        for sock in (self._wakeup_read, self._wakeup_write):
            sock.setblocking(False)
        self._selector.register(self._wakeup_read, selectors.EVENT_READ, None)
        previous = {signum: signal.signal(signum, _note_signal) for signum in self.HANDLED}
        previous_wakeup = signal.set_wakeup_fd(
            self._wakeup_write.fileno(), warn_on_full_buffer=False
        )
        try:
            if self.config.reload:
                self._reloader = Reloader(
                    os.getcwd(),
                    ReloadFilter(
                        os.getcwd(), self.config.reload_include, self.config.reload_exclude
                    ),
                    self._wake_for_reload,
                )
                self._reloader.start()
            error_logger.info(
                "Supervisor starting %d worker(s) for %s on %s",
                self.target,
                self.application,
                ", ".join(self.listeners.urls),
            )
            self._reconcile()
            while self.workers or not self.stopping:
                for key, _ in self._selector.select(self._timeout()):
                    if key.data is None:
                        self._read_wakeups()
                    else:
                        self._read_messages(key.data)
                self._reap()
                self._enforce_deadlines()
                self._reconcile()
        finally:
            signal.set_wakeup_fd(previous_wakeup)
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            if self._reloader is not None:
                self._reloader.stop()
            for worker in self.workers:  # only after an unexpected error in this loop
                with contextlib.suppress(OSError):
                    worker.process.kill()
            self._selector.close()
            self._wakeup_read.close()
            self._wakeup_write.close()
            self.listeners.close()
            self.listeners.remove_unix_paths()
            if self._metrics is not None:
                self._metrics.close()
        return self.exit_code

    def _timeout(self) -> float:
        now = time.monotonic()
        wake = now + POLL_SECONDS
        if not self.stopping and self._next_start_at > now:
            wake = min(wake, self._next_start_at)
        for worker in self.workers:
            if worker.deadline:
                wake = min(wake, worker.deadline)
        return max(0.0, wake - now)

    def _wake_for_reload(self) -> None:
        # Byte 0 is no signal number: it means "the reloader has something".
        with contextlib.suppress(OSError):
            self._wakeup_write.send(b"\0")

    def _read_wakeups(self) -> None:
        try:
            data = self._wakeup_read.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        for number in data:
            if number == 0:
                self._on_reload()
            else:
                self._on_signal(number)

    # --- signals -------------------------------------------------------------------------

    def _on_signal(self, signum: int) -> None:
        if signum == signal.SIGCHLD:
            return  # the loop reaps after every wake-up
        name = signal.Signals(signum).name
        if signum in (signal.SIGTERM, signal.SIGINT):
            if not self.stopping:
                error_logger.info("Received %s: stopping the workers gracefully", name)
                self._begin_stop()
            else:
                error_logger.warning("Received %s again: stopping the workers now", name)
                self.exit_code = 1
                deadline = time.monotonic() + FORCED_EXIT_SECONDS + 1.0
                for worker in self.workers:
                    if not self._tell(worker, "force"):
                        self._signal(worker, signal.SIGKILL)
                    worker.deadline = min(worker.deadline or deadline, deadline)
            return
        if self.stopping:
            return
        if signum == signal.SIGHUP:
            error_logger.info("Received SIGHUP: replacing the workers one at a time")
            self._new_generation()
        elif signum == signal.SIGTTIN:
            self.target += 1
            error_logger.info("Received SIGTTIN: %d worker(s) wanted", self.target)
        elif signum == signal.SIGTTOU:
            if self.target > 1:
                self.target -= 1
                error_logger.info("Received SIGTTOU: %d worker(s) wanted", self.target)
            else:
                error_logger.info("Received SIGTTOU: keeping the last worker")

    def _on_reload(self) -> None:
        if self._reloader is None or self.stopping:
            return
        changed = self._reloader.take()
        if not changed:
            return
        names = ", ".join(os.path.relpath(path) for path in changed[:3])
        more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        error_logger.info("Changes in %s%s: reloading", names, more)
        self._new_generation()

    def _new_generation(self) -> None:
        self.generation += 1
        self._waiting_for_change = False
        self._boot_failures = 0
        self._next_start_at = 0.0
        self._rolling = True
        if self._ready_sent:
            self.notify(reloading_message())

    def _begin_stop(self) -> None:
        self.stopping = True
        self.notify("STOPPING=1")
        for worker in self.workers:
            self._stop_worker(worker)
        # The workers hold their own copies: once they stop accepting, the sockets close and
        # new connections are refused instead of waiting in a backlog no one will serve.
        self.listeners.close()

    # --- workers -------------------------------------------------------------------------

    def _spawn(self) -> None:
        parent, child = socket.socketpair()
        worker_id = self._next_id
        self._next_id += 1
        try:
            # Under reload, -B: a file edited within the second it was last compiled, to the
            # same size, would otherwise be loaded from its stale .pyc.
            flags = ["-B"] if self.config.reload else []
            process = subprocess.Popen(
                [sys.executable, *flags, "-m", "hypercorn.worker_process", str(child.fileno())],
                pass_fds=(*self.listeners.pass_fds, child.fileno(), *self._metrics_fds),
            )
        except OSError as exc:
            parent.close()
            child.close()
            error_logger.error("Cannot start a worker: %s", exc)
            self._boot_failed(None, str(exc))
            return
        child.close()
        now = time.monotonic()
        worker = WorkerProcess(worker_id, process, parent, self.generation, now)
        worker.deadline = now + self.config.startup_timeout + BOOT_MARGIN
        spec = self._spec
        if self._metrics is not None and self._free_slots:
            worker.metrics_slot = self._free_slots.pop(0)
            metrics = {"fd": self._metrics.fd, "slots": self._metrics.slots}
            spec = {**spec, "metrics": {**metrics, "slot": worker.metrics_slot}}
        # Far below the socket buffer, so this never blocks; if the worker died already,
        # the loop reaps it.
        with contextlib.suppress(OSError):
            parent.sendall(json.dumps(spec).encode() + b"\n")
        parent.setblocking(False)
        self._selector.register(parent, selectors.EVENT_READ, worker)
        self.workers.append(worker)
        error_logger.debug("Started worker %d (pid %d)", worker.id, worker.pid)

    def _signal(self, worker: WorkerProcess, signum: int) -> None:
        if worker.process.returncode is None:
            with contextlib.suppress(OSError):
                worker.process.send_signal(signum)

    def _tell(self, worker: WorkerProcess, message: str) -> bool:
        try:
            worker.control.send(message.encode() + b"\n")
        except OSError:
            return False
        return True

    def _stop_worker(self, worker: WorkerProcess) -> None:
        if worker.state == "stopping":
            return
        starting = worker.state == "starting"
        worker.state = "stopping"
        worker.deadline = time.monotonic() + self._stop_seconds
        # One still starting has nothing to drain: SIGTERM ends it wherever it is. One
        # serving is told by message, which, unlike a second SIGTERM, cannot be mistaken
        # for a demand to exit at once (see hypercorn.worker_process).
        if starting or not self._tell(worker, "stop"):
            self._signal(worker, signal.SIGTERM)

    def _read_messages(self, worker: WorkerProcess) -> None:
        try:
            data = worker.control.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._selector.unregister(worker.control)
            return
        self._deliver(worker, data)

    def _deliver(self, worker: WorkerProcess, data: bytes) -> None:
        """Hand each complete line of what the worker sent to :meth:`_on_message`."""
        worker.buffer += data
        while b"\n" in worker.buffer:
            line, _, worker.buffer = worker.buffer.partition(b"\n")
            self._on_message(worker, line.decode(errors="replace"))

    def _on_message(self, worker: WorkerProcess, message: str) -> None:
        kind, _, detail = message.partition(" ")
        if kind == "ready" and worker.state == "starting":
            worker.state = "serving"
            worker.served = True
            worker.deadline = 0.0
            self._ever_ready = True
            self._boot_failures = 0
            error_logger.info("Worker %d serving (pid %d)", worker.id, worker.pid)
        elif kind == "retire" and worker.state == "serving":
            worker.retiring = True
            error_logger.info(
                "Worker %d (pid %d) reached max_requests: replacing it", worker.id, worker.pid
            )
        elif kind == "failed":
            worker.reason = detail

    def _reap(self) -> None:
        for worker in list(self.workers):
            code = worker.process.poll()
            if code is None:
                continue
            self.workers.remove(worker)
            if worker.metrics_slot and self._metrics is not None:
                self._metrics.retire(worker.metrics_slot)
                self._free_slots.append(worker.metrics_slot)
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(worker.control)
            # A message sent just before exiting (``failed REASON``) may still be unread.
            with contextlib.suppress(OSError):
                worker.control.setblocking(False)
                self._deliver(worker, worker.control.recv(65536))
            worker.control.close()
            if worker.state == "stopping":
                # One stopped before it served (its start overtaken, or the first start
                # failing elsewhere) has nothing worth reporting.
                if worker.served and code not in (0, -signal.SIGTERM):
                    if self.stopping:
                        self.exit_code = 1
                    error_logger.warning(
                        "Worker %d (pid %d) %s while stopping",
                        worker.id,
                        worker.pid,
                        _describe_exit(code),
                    )
                else:
                    error_logger.debug("Worker %d (pid %d) stopped", worker.id, worker.pid)
            elif worker.state == "starting":
                self._boot_failed(worker, worker.reason or _describe_exit(code))
            else:
                self._crashed(worker, code)

    def _crashed(self, worker: WorkerProcess, code: int) -> None:
        now = time.monotonic()
        self._crashes.append(now)
        while self._crashes and self._crashes[0] < now - CRASH_WINDOW:
            self._crashes.popleft()
        delay = crash_restart_delay(len(self._crashes))
        self._next_start_at = max(self._next_start_at, now + delay)
        error_logger.warning(
            "Worker %d (pid %d) %s; starting another%s",
            worker.id,
            worker.pid,
            _describe_exit(code),
            f" in {delay:g}s" if delay else "",
        )

    def _boot_failed(self, worker: WorkerProcess | None, reason: str) -> None:
        if self.stopping:
            return
        self._boot_failures += 1
        who = f"Worker {worker.id} (pid {worker.pid})" if worker is not None else "A worker"
        serving = [w for w in self.workers if w.state == "serving"]
        if self.config.reload:
            self._waiting_for_change = True
            error_logger.error("%s failed to start: %s; waiting for a file change", who, reason)
            return
        if not self._ever_ready:
            # The very first start: the app, its config or its lifespan is broken, and
            # trying again will not mend it.
            error_logger.error("%s failed to start: %s", who, reason)
            self.exit_code = 1
            self._begin_stop()
            return
        if self._boot_failures >= MAX_BOOT_FAILURES:
            if not serving:
                error_logger.error(
                    "Workers failed to start %d times in a row (last: %s); stopping",
                    self._boot_failures,
                    reason,
                )
                self.exit_code = 1
                self._begin_stop()
                return
            if any(w.generation < self.generation or w.retiring for w in serving):
                # A rolling restart whose new workers cannot start: keep the old ones.
                for other in serving:
                    other.generation = self.generation
                    other.retiring = False
                self._rolling = False
                self._boot_failures = 0
                error_logger.error(
                    "%s failed to start: %s; giving up replacing workers, the %d running"
                    " keep serving (fix the app, then send SIGHUP)",
                    who,
                    reason,
                    len(serving),
                )
                return
        delay = boot_retry_delay(self._boot_failures)
        self._next_start_at = time.monotonic() + delay
        error_logger.error("%s failed to start: %s; retrying in %gs", who, reason, delay)

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for worker in self.workers:
            if not worker.deadline or now < worker.deadline:
                continue
            worker.deadline = 0.0
            if worker.state == "starting":
                worker.reason = (
                    f"not serving within {self.config.startup_timeout + BOOT_MARGIN:g}s"
                )
            else:
                error_logger.warning(
                    "Worker %d (pid %d) did not stop in time: killing it", worker.id, worker.pid
                )
            self._signal(worker, signal.SIGKILL)

    def _reconcile(self) -> None:
        if self.stopping:
            return
        slots = [
            Slot(
                w.id,
                w.state == "serving",
                w.generation < self.generation or w.retiring,
                w.started,
            )
            for w in self.workers
            if w.state != "stopping"
        ]
        decided = plan(slots, self.target)
        for worker in self.workers:
            if worker.id in decided.stop:
                self._stop_worker(worker)
        starts = decided.start
        if self._waiting_for_change or time.monotonic() < self._next_start_at:
            starts = 0
        for _ in range(starts):
            self._spawn()
            if self.stopping:  # a spawn failure on the first start
                return
        self._announce()

    def _announce(self) -> None:
        live = [w for w in self.workers if w.state != "stopping"]
        settled = len(live) == self.target and all(
            w.state == "serving" and w.generation == self.generation and not w.retiring
            for w in live
        )
        if not settled:
            return
        if not self._ready_sent:
            self._ready_sent = True
            error_logger.info("Serving with %d worker(s)", self.target)
            self.notify("READY=1")
        elif self._rolling:
            self._rolling = False
            error_logger.info("All workers replaced")
            self.notify("READY=1")


def _note_signal(signum: int, frame: object) -> None:
    # The number reaches the loop through the wake-up socket; nothing to do here.
    pass


def run_supervisor(
    config: Config,
    application: str,
    notify: Notifier,
    activated: Sequence[ActivatedSocket] = (),
) -> int:
    """Bind, write the pid file, run the workers until stopped; the exit code."""
    try:
        # Whatever would fail in every worker alike fails here, once, in one line.
        loop_factory(config.worker_class)
        create_ssl_context(config, ["http/1.1"])
        if config.reload:
            import_watchfiles()
        listeners = bind_listeners(config, activated)
    except (BindError, ConfigError) as exc:
        error_logger.error("%s", exc)
        return 1
    if activated:
        error_logger.info(
            "Serving %d socket(s) passed by systemd (LISTEN_FDS) instead of bind", len(activated)
        )
    pid_path = config.pid_path
    if pid_path is not None:
        try:
            _write_pid_file(pid_path)
        except OSError as exc:
            error_logger.error("pid_path: cannot write %s: %s", pid_path, exc.strerror or exc)
            listeners.close()
            listeners.remove_unix_paths()
            return 1
    try:
        return Supervisor(config, application, listeners, notify).run()
    finally:
        if pid_path is not None:
            _remove_pid_file(pid_path)
