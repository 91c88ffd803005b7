"""The ``hypercorn`` command line, generated from the :class:`~hypercorn.config.Config` options."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, get_origin

from .__about__ import __version__
from .config import Config, ConfigError, OptionInfo, _strip_optional, load_config, options

__all__ = ["build_parser", "main"]


def _add_option(group: Any, info: OptionInfo) -> None:
    base = _strip_optional(info.type)
    kwargs: dict[str, Any] = {"dest": info.name, "default": argparse.SUPPRESS}
    default = "off" if info.default is None else info.default
    if isinstance(default, list):
        default = " ".join(default) if default else "none"
    kwargs["help"] = f"{info.doc} (default: {default})".replace("%", "%%")
    if base is bool:
        group.add_argument(*info.flags, action=argparse.BooleanOptionalAction, **kwargs)
        return
    if info.metavar:
        kwargs["metavar"] = info.metavar
    choices = info.choices
    if choices is not None:
        kwargs["choices"] = choices
    elif get_origin(base) is list:
        kwargs["action"] = "append"
    elif base in (int, float):
        kwargs["type"] = base
    group.add_argument(*info.flags, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hypercorn",
        description="Serve an ASGI application over HTTP.",
        epilog="Flags override the config file. Every option: docs/reference/config.md.",
    )
    parser.add_argument(
        "application",
        nargs="?",
        help="The app: MODULE:APP, MODULE:create_app() or MODULE (meaning MODULE:app).",
    )
    parser.add_argument(
        "-c",
        "--config",
        metavar="SOURCE",
        help="Load options from PATH.toml, file:PATH.py or python:MODULE.",
    )
    parser.add_argument("--version", action="version", version=f"hypercorn {__version__}")
    groups: dict[str, Any] = {}
    for info in options().values():
        if not info.cli:
            continue
        if info.section not in groups:
            groups[info.section] = parser.add_argument_group(info.section)
        _add_option(groups[info.section], info)
    return parser


def parse(argv: Sequence[str] | None = None) -> tuple[Config, str]:
    """The config (defaults < file < flags) and the application path."""
    parser = build_parser()
    args = vars(parser.parse_args(argv))
    application = args.pop("application")
    source = args.pop("config")
    if application is None:
        parser.error("the application to serve is required, as MODULE:APP")
    config = load_config(source) if source else Config()
    return config.replace(**args), application


def main(argv: Sequence[str] | None = None) -> int:
    from .run import run

    try:
        config, application = parse(argv)
    except ConfigError as exc:
        print(f"hypercorn: error: {exc}", file=sys.stderr)
        return 1
    return run(config, application)
