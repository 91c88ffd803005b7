"""What the harness installs: one virtual environment per peer, the Node client, a TLS cert.

Everything lives in a cache directory outside the repository (``~/.cache/hypercorn-bench``
by default) and is reused when it is already there. An environment is reinstalled when what
it was installed from changes: its requirement list or, for this project, pyproject.toml.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = REPO / "benchmarks"

_MARKER = ".hypercorn-bench.json"

# Prints every distribution installed in the interpreter that runs it, as JSON.
_LIST_VERSIONS = (
    "import importlib.metadata as m, json; "
    "print(json.dumps({d.metadata['Name'].lower(): d.version for d in m.distributions()}))"
)


class SetupError(RuntimeError):
    """An environment or tool could not be installed."""


class Installable(Protocol):
    """A virtual environment that can be filled: this module's and the CRUD benchmark's."""

    @property
    def name(self) -> str: ...

    def ensure(self, cache: Path, *, log: Path, reinstall: bool, source: Path) -> None: ...


class _Named(Protocol):
    @property
    def name(self) -> str: ...


_Item = TypeVar("_Item", bound=_Named)


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hypercorn-bench"


@dataclass(frozen=True)
class Environment:
    """A virtual environment holding one peer (or the harness's own tools)."""

    name: str
    requirements: tuple[str, ...]
    # Distributions whose exact versions the report names.
    report: tuple[str, ...]
    # Install this repository itself, editable, with these extras.
    editable_extras: str | None = None

    def path(self, cache: Path) -> Path:
        return cache / "venvs" / self.name

    def bin(self, cache: Path, program: str) -> Path:
        return self.path(cache) / "bin" / program

    def _fingerprint(self, source: Path) -> dict[str, str | list[str]]:
        found: dict[str, str | list[str]] = {"requirements": list(self.requirements)}
        if self.editable_extras is not None:
            pyproject = (source / "pyproject.toml").read_bytes()
            found["source"] = str(source)
            found["pyproject"] = hashlib.sha256(pyproject).hexdigest()
            found["extras"] = self.editable_extras
        return found

    def ensure(
        self, cache: Path, *, log: Path, reinstall: bool = False, source: Path = REPO
    ) -> None:
        """Create and fill the environment unless it is already as wanted.

        ``source`` is the checkout of this project installed (editable) by an environment
        with ``editable_extras``: this repository unless told otherwise.
        """
        targets = list(self.requirements)
        if self.editable_extras is not None:
            targets += ["-e", f"{source}[{self.editable_extras}]"]
        fill_venv(
            self.name,
            self.path(cache),
            [targets],
            self._fingerprint(source),
            log=log,
            reinstall=reinstall,
        )

    def versions(self, cache: Path) -> dict[str, str]:
        """Every distribution installed in the environment, name to version."""
        return installed_versions(self.bin(cache, "python"))


# The harness's own tools: matplotlib for the chart, never a project dependency.
TOOLS = Environment("harness-tools", ("matplotlib",), report=("matplotlib",))


def fill_venv(
    name: str,
    venv: Path,
    steps: Sequence[Sequence[str]],
    wanted: Mapping[str, object],
    *,
    log: Path,
    reinstall: bool,
) -> None:
    """Create ``venv`` and run each ``pip install`` step in it, in order.

    Skipped when the marker left by the last fill records the same ``wanted`` fingerprint.
    """
    marker = venv / _MARKER
    if not reinstall and marker.exists() and json.loads(marker.read_text()) == wanted:
        return
    print(f"  installing {name} into {venv}", file=sys.stderr, flush=True)
    if not (venv / "bin" / "python").exists():
        _check_call([sys.executable, "-m", "venv", str(venv)], log)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
    for step in steps:
        _check_call([*pip, *step], log)
    marker.write_text(json.dumps(wanted))


def installed_versions(python: Path) -> dict[str, str]:
    """Every distribution installed for the interpreter ``python``, name to version."""
    out = subprocess.run(
        [str(python), "-c", _LIST_VERSIONS], capture_output=True, text=True, check=True
    ).stdout
    found: dict[str, str] = json.loads(out)
    return dict(sorted(found.items()))


def this_version(source: Path = REPO) -> str:
    """This project's version, from its source.

    An editable install keeps the metadata of the day it was made; the source says the truth.
    """
    about = source / "hypercorn" / "__about__.py"
    if about.exists():
        for line in about.read_text().splitlines():
            if line.startswith("__version__"):
                return line.split("=", 1)[1].strip().strip("\"'")
    return "unknown"


def install_each(
    items: Sequence[_Item],
    environment: Callable[[_Item], Installable],
    *,
    cache: Path,
    log: Path,
    reinstall: bool,
    source: Path,
) -> tuple[list[_Item], dict[str, str]]:
    """Install the environment of every item (each environment once), then the tools.

    Returns the items whose environment installed, and why each other one could not.
    """
    print(f"setting up in {cache} (log: {log})", file=sys.stderr, flush=True)
    usable: list[_Item] = []
    failures: dict[str, str] = {}
    installed: dict[str, str | None] = {}
    for item in items:
        env = environment(item)
        if env.name not in installed:
            try:
                env.ensure(cache, log=log, reinstall=reinstall, source=source)
                installed[env.name] = None
            except SetupError as exc:
                installed[env.name] = str(exc)
        if installed[env.name] is None:
            usable.append(item)
        else:
            failures[item.name] = f"could not be installed: {installed[env.name]}"
            print(f"  {item.name}: {failures[item.name]}", file=sys.stderr, flush=True)
    TOOLS.ensure(cache, log=log, reinstall=reinstall)
    return usable, failures


def split_names(values: list[str] | None) -> list[str] | None:
    """``--servers a,b c`` → ``[a, b, c]``; None when the option was not given."""
    if values is None:
        return None
    return [name for value in values for name in value.split(",") if name]


def _check_call(argv: list[str], log: Path) -> None:
    with log.open("ab") as out:
        out.write(("\n$ " + " ".join(argv) + "\n").encode())
        out.flush()
        result = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        raise SetupError(f"`{' '.join(argv)}` failed (exit {result.returncode}); see {log}")


# --- the Node WebSocket client's dependencies ---------------------------------------------

# bufferutil makes ws mask and unmask frames in C; without it a 64 KiB echo is limited by the
# client's JavaScript masking loop, not by the server. It is optional for ws.
NODE_PACKAGES = ("ws@8", "bufferutil@4")


def ensure_node_packages(cache: Path, log: Path) -> Path:
    """Install the ws client's npm packages; returns the node_modules directory."""
    prefix = cache / "node"
    modules = prefix / "node_modules"
    if not (modules / "ws" / "package.json").exists():
        print(f"  installing {' '.join(NODE_PACKAGES)} into {prefix}", file=sys.stderr)
        prefix.mkdir(parents=True, exist_ok=True)
        npm = ["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund"]
        try:
            _check_call([*npm, *NODE_PACKAGES], log)
        except SetupError:
            _check_call([*npm, NODE_PACKAGES[0]], log)  # ws alone still works
    return modules


def node_package_versions(modules: Path) -> dict[str, str]:
    found = {}
    for name in ("ws", "bufferutil"):
        manifest = modules / name / "package.json"
        if manifest.exists():
            found[name] = json.loads(manifest.read_text())["version"]
    return found


# --- TLS ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path


def ensure_tls_files(cache: Path, log: Path) -> TlsFiles:
    """A self-signed certificate for 127.0.0.1, made once with openssl."""
    directory = cache / "tls"
    files = TlsFiles(directory / "cert.pem", directory / "key.pem")
    if files.cert.exists() and files.key.exists():
        return files
    directory.mkdir(parents=True, exist_ok=True)
    _check_call(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "3650",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(files.key),
            "-out",
            str(files.cert),
        ],
        log,
    )
    return files


# --- what the run was measured on -----------------------------------------------------------


def _first_line(argv: list[str]) -> str:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=10)
    except OSError as exc:
        return f"unavailable ({exc.strerror})"
    text = (result.stdout or result.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def tool_versions() -> dict[str, str]:
    return {
        "wrk": _first_line(["wrk", "-v"]).split(" [")[0],
        "h2load": _first_line(["h2load", "--version"]),
        "node": _first_line(["node", "--version"]),
        "openssl": _first_line(["openssl", "version"]),
        "taskset": _first_line(["taskset", "--version"]),
        "python (harness)": platform.python_version(),
    }


def machine() -> dict[str, str | int | float]:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    meminfo = Path("/proc/meminfo").read_text().split()
    memory_gib = round(int(meminfo[meminfo.index("MemTotal:") + 1]) / 1024**2, 1)
    return {
        "cores": os.cpu_count() or 0,
        "cpu": model,
        "kernel": platform.release(),
        "memory_gib": memory_gib,
        "os": _os_name(),
    }


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as /proc/loadavg gives them."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


def repo_revision(source: Path = REPO) -> str:
    """The commit this project was measured at, marked ``+dirty`` with local changes."""
    if not (source / ".git").exists():
        return f"{source} (not a git checkout)"
    head = _first_line(["git", "-C", str(source), "rev-parse", "--short=12", "HEAD"])
    dirty = subprocess.run(
        ["git", "-C", str(source), "status", "--porcelain", "--", "hypercorn", "pyproject.toml"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return head + ("+dirty" if dirty else "")
