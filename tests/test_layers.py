"""The protocol layer stays sans-IO: nothing under hypercorn/protocol/ reaches an event loop."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "hypercorn"
EVENT_LOOPS = {"asyncio", "trio", "anyio", "uvloop", "curio", "selectors"}


def _module_file(dotted: str) -> Path | None:
    parts = dotted.split(".")
    if parts[0] != "hypercorn":
        return None
    base = PACKAGE.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _imports(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports."""
    # The package a relative import starts from: the module's own package, which for an
    # __init__.py is the package it initialises.
    package_parts = ["hypercorn", *path.relative_to(PACKAGE).with_suffix("").parts][:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def test_protocol_layer_imports_no_event_loop() -> None:
    pending = list((PACKAGE / "protocol").glob("*.py"))
    seen: set[Path] = set()
    offenders: list[str] = []
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imports(path):
            top = name.split(".")[0]
            if top in EVENT_LOOPS or name.startswith("hypercorn.asyncio"):
                offenders.append(f"{path.relative_to(PACKAGE.parent)} imports {name}")
            module_file = _module_file(name)
            if module_file is not None:
                pending.append(module_file)
    assert seen >= set((PACKAGE / "protocol").glob("*.py"))
    assert not offenders, "\n".join(offenders)


def test_the_check_resolves_imports_it_must_follow() -> None:
    module = PACKAGE / "protocol" / "http11.py"
    assert "hypercorn.protocol.h1_parse" in _imports(module)
    assert "hypercorn.protocol.context.ServerContext" in _imports(module)
    # ... and sees an event loop where there is one.
    assert "asyncio" in _imports(PACKAGE / "asyncio" / "server.py")
    assert "hypercorn.protocol.new_connection" in _imports(PACKAGE / "asyncio" / "connection.py")
