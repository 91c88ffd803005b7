"""Servers of this project, started in-process for the conformance suites.

When no external target is configured, each suite runs against this server on
127.0.0.1:0, once in the clear and once over TLS with a throwaway certificate authority
(``trustme``), so CI proves both transports.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypercorn.config import Config
from tests.helpers import LiveServer


@dataclass(frozen=True)
class Certificates:
    ca_file: str
    cert_file: str
    key_file: str


def make_certificates(folder: Path) -> Certificates:
    """A CA and a certificate for 127.0.0.1 and localhost, written as PEM files."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    paths = Certificates(str(folder / "ca.pem"), str(folder / "cert.pem"), str(folder / "key.pem"))
    ca.cert_pem.write_to_path(paths.ca_file)
    cert.private_key_pem.write_to_path(paths.key_file)
    for index, pem in enumerate(cert.cert_chain_pems):
        pem.write_to_path(paths.cert_file, append=index > 0)
    return paths


@contextlib.contextmanager
def live_server(
    app: Any, *, tls: Certificates | None = None, loop: str = "uvloop", **options: Any
) -> Iterator[int]:
    """Serve ``app`` on 127.0.0.1:0 (over TLS when ``tls`` is given); yield the port."""
    if tls is not None:
        options.update(certfile=tls.cert_file, keyfile=tls.key_file)
    config = Config(bind=["127.0.0.1:0"], log_level="warning", **options)
    with LiveServer(app, config, loop=loop) as server:
        yield server.port
