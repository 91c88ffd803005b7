"""systemd integration: socket activation (``LISTEN_FDS``) and readiness (``sd_notify``).

Both are plain environment-variable protocols, implemented here without libsystemd:

* socket activation (``sd_listen_fds(3)``): when ``LISTEN_PID`` is this process's pid,
  ``LISTEN_FDS`` sockets start at file descriptor 3 and are served instead of ``bind``;
  ``LISTEN_FDNAMES`` (``FileDescriptorName=`` in the .socket unit) names them, and a socket
  named ``insecure`` is served in the clear when TLS is on (like ``insecure_bind``);
* notification (``sd_notify(3)``): a datagram such as ``READY=1`` to the unix socket named
  by ``NOTIFY_SOCKET``; a name starting with ``@`` is in the abstract namespace.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass

from .sockets import BindError

__all__ = [
    "LISTEN_FDS_START",
    "ActivatedSocket",
    "Notifier",
    "listen_fds",
    "notify",
    "notify_address",
    "take_listen_fds",
]

#: SD_LISTEN_FDS_START: the first passed descriptor (after stdin, stdout and stderr).
LISTEN_FDS_START = 3

#: The ``FileDescriptorName=`` that marks a socket to serve in the clear when TLS is on.
INSECURE_NAME = "insecure"


@dataclass(frozen=True, slots=True)
class ActivatedSocket:
    """One socket systemd passed: its descriptor and its ``FileDescriptorName=``."""

    fd: int
    name: str

    @property
    def bind(self) -> str:
        return f"fd://{self.fd}"

    @property
    def insecure(self) -> bool:
        return self.name == INSECURE_NAME


def listen_fds(environ: Mapping[str, str], pid: int) -> list[ActivatedSocket]:
    """The sockets passed to process ``pid`` by socket activation (none when not for us).

    As ``sd_listen_fds(3)``: the variables count only when ``LISTEN_PID`` is ``pid``, since
    a process may have inherited them from a parent that was the one activated.
    """
    if environ.get("LISTEN_PID", "").strip() != str(pid):
        return []
    try:
        count = int(environ.get("LISTEN_FDS", ""))
    except ValueError:
        return []
    if count <= 0:
        return []
    names = environ.get("LISTEN_FDNAMES", "").split(":")
    if len(names) != count:
        names = ["unknown"] * count  # what sd_listen_fds_with_names reports without names
    return [ActivatedSocket(LISTEN_FDS_START + i, names[i]) for i in range(count)]


def take_listen_fds() -> list[ActivatedSocket]:
    """This process's activated sockets; the variables are removed from the environment.

    Raises :class:`~hypercorn.sockets.BindError` when a descriptor it names is not open.

    The descriptors are made close-on-exec, as ``sd_listen_fds(3)`` does: a worker is
    handed them on purpose, nothing else the server or the app starts inherits them.
    """
    sockets = listen_fds(os.environ, os.getpid())
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(name, None)
    for item in sockets:
        try:
            os.set_inheritable(item.fd, False)
        except OSError:
            raise BindError(
                f"LISTEN_FDS: file descriptor {item.fd} was not passed (it is not open)"
            ) from None
    return sockets


def notify_address(value: str) -> str | None:
    """The ``AF_UNIX`` address ``NOTIFY_SOCKET`` names: a path, or ``@name`` (abstract)."""
    if value.startswith("@"):
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    return None  # vsock: and other transports are not supported


def notify(message: str, value: str | None) -> bool:
    """Send ``message`` (``READY=1``, ``STOPPING=1``...) to ``value``, a ``NOTIFY_SOCKET``.

    Returns whether it was sent. Never raises: the service manager going away must not stop
    the server.
    """
    if not value:
        return False
    address = notify_address(value)
    if address is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError:
        return False
    return True


def reloading_message() -> str:
    """``RELOADING=1`` with the ``MONOTONIC_USEC`` that ``Type=notify-reload`` requires."""
    return f"RELOADING=1\nMONOTONIC_USEC={time.monotonic_ns() // 1000}"


class Notifier:
    """Sends this process's notifications to the ``NOTIFY_SOCKET`` it was started with.

    The variable is read once and removed from the environment, so that no child process
    (a worker, or one the app starts) sends notifications in the server's name.
    """

    def __init__(self, environ: MutableMapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        self.address = environ.pop("NOTIFY_SOCKET", None) or None

    def __call__(self, message: str) -> bool:
        return notify(message, self.address)
