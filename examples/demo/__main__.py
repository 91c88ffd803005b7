"""``python -m examples.demo [--tls]``: serve the demo with Hypercorn's embedding API.

Without ``--tls`` this is ``hypercorn examples.demo:app`` (http://127.0.0.1:8000; HTTP/2 by
prior knowledge or ``Upgrade: h2c``). With ``--tls`` it serves https://127.0.0.1:8443 with a
development certificate (made on first use, see :mod:`.devcert`), where ALPN offers ``h2``
so browsers speak HTTP/2 and receive the pushed stylesheet.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from hypercorn import Config, Server
from hypercorn.logs import configure_logging
from hypercorn.run import loop_factory

from . import app
from .devcert import default_folder, ensure_certificate


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m examples.demo", description=__doc__)
    parser.add_argument("--tls", action="store_true", help="serve HTTPS (HTTP/2 by ALPN)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to bind (8443 with --tls, else 8000)")
    parser.add_argument(
        "--cert-dir",
        type=Path,
        default=None,
        help=f"where the development certificate is kept ({default_folder()})",
    )
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> Config:
    port = args.port if args.port is not None else (8443 if args.tls else 8000)
    host = f"[{args.host}]" if ":" in args.host else args.host
    config = Config(bind=[f"{host}:{port}"], access_logfile="-")
    if args.tls:
        cert = ensure_certificate(args.cert_dir)
        print(f"Development certificate: {cert.cert_path} (trust {cert.ca_path})", flush=True)
        config = config.replace(certfile=str(cert.cert_path), keyfile=str(cert.key_path))
    return config


async def serve(config: Config) -> None:
    """Start, say where, serve until SIGINT/SIGTERM, then stop gracefully."""
    server = Server(app, config, access_log=configure_logging(config))
    await server.startup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    # One line a script (or a test) can read the bound address from, port 0 included.
    print("Serving the demo on " + " ".join(server.urls()), flush=True)
    try:
        await stop.wait()
    finally:
        await server.shutdown()


def main(argv: Sequence[str] | None = None) -> int:
    config = build_config(parse(argv))
    loop = loop_factory("auto")()  # uvloop when installed, as the hypercorn command does
    try:
        loop.run_until_complete(serve(config))
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
