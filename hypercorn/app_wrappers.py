"""Loading ``module:app`` and presenting any supported app as one ASGI 3 callable."""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .protocol.context import ASGIApp

__all__ = ["AppLoadError", "load_application", "wrap_app"]


class AppLoadError(Exception):
    """The app cannot be found or is not an app; the message is one line for users."""


def _parse_target(path: str) -> tuple[str, str, tuple[Any, ...], dict[str, Any], bool]:
    module_name, _, attribute = path.partition(":")
    if not module_name:
        raise AppLoadError(f"{path!r}: expected MODULE:APP, e.g. 'main:app'")
    attribute = attribute or "app"
    if not attribute.endswith(")"):
        return module_name, attribute, (), {}, False
    # A factory call such as create_app() or create_app("prod", debug=True): literal
    # arguments only, evaluated with ast.literal_eval, never eval.
    try:
        call = ast.parse(attribute, mode="eval").body
        if not isinstance(call, ast.Call):
            raise ValueError
        name = ast.unparse(call.func)
        args = tuple(ast.literal_eval(arg) for arg in call.args)
        kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg}
    except (SyntaxError, ValueError):
        raise AppLoadError(
            f"{path!r}: a factory call may only take literal arguments, as create_app('prod')"
        ) from None
    return module_name, name, args, kwargs, True


def load_application(path: str) -> ASGIApp:
    """Import ``module:attribute`` (``module`` alone means ``module:app``) and wrap it.

    ``module:create_app()`` calls a factory. Errors that mean "not found" become a one-line
    :class:`AppLoadError`; an exception raised by the user's own code propagates unchanged,
    because its traceback is what the user needs.
    """
    module_name, attribute, args, kwargs, is_factory = _parse_target(path)
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing == module_name or module_name.startswith(missing + "."):
            raise AppLoadError(f"cannot import module {module_name!r}: {exc}") from None
        raise
    app: Any = module
    for part in attribute.split("."):
        try:
            app = getattr(app, part)
        except AttributeError:
            raise AppLoadError(f"module {module_name!r} has no attribute {attribute!r}") from None
    if is_factory:
        if not callable(app):
            raise AppLoadError(f"{module_name}:{attribute} is not callable, so not a factory")
        app = app(*args, **kwargs)
    if not callable(app):
        raise AppLoadError(f"{path!r} is not an application: it is a {type(app).__name__}")
    return wrap_app(app)


def _positional_count(function: Any) -> int | None:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(1 for p in signature.parameters.values() if p.kind in kinds)


def _interface(app: Any) -> str:
    if inspect.isclass(app):
        return "asgi2"  # an ASGI 2 app is a class instantiated with the scope
    call = type(app).__call__ if not inspect.isroutine(app) else None
    if inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(call):
        return "asgi3"
    count = _positional_count(app)
    if count == 1:
        return "asgi2"
    if count == 2:
        return "wsgi"
    return "asgi3"


def wrap_app(app: Any) -> ASGIApp:
    """Present ``app`` as an ASGI 3 callable (ASGI 3 apps are returned as they are)."""
    if getattr(app, "_hypercorn_wrapped", False):
        return app  # type: ignore[no-any-return]
    kind = _interface(app)
    if kind == "asgi3":
        return app  # type: ignore[no-any-return]
    if kind == "wsgi":
        raise AppLoadError(
            f"{getattr(app, '__qualname__', type(app).__name__)} looks like a WSGI app"
            " (environ, start_response); WSGI support is not available yet"
        )
    return _ASGI2Adapter(app)


Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]


class _ASGI2Adapter:
    """Runs an ASGI 2 app (``app(scope)`` returns ``async (receive, send)``) as ASGI 3."""

    _hypercorn_wrapped = True

    def __init__(self, app: Callable[[MutableMapping[str, Any]], Any]) -> None:
        self.app = app

    async def __call__(
        self, scope: MutableMapping[str, Any], receive: Receive, send: Send
    ) -> None:
        scope["asgi"] = {**scope.get("asgi", {}), "version": "2.0"}
        instance = self.app(scope)
        await instance(receive, send)
