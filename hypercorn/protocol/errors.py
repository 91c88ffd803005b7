"""The protocol layer's own exceptions.

Errors from the parsing libraries (httptools, h11) are translated into these at one boundary,
the parser backends, so nothing above them ever catches a library's exception type.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Base class of every protocol-layer error."""


class RemoteProtocolError(ProtocolError):
    """The peer broke the protocol.

    ``status`` is the HTTP status to answer with, when an answer is still possible (400 for
    malformed syntax, 414 for an over-long request line, 431 for over-large headers, 501 for
    an unsupported transfer coding, 505 for an unsupported HTTP version).
    """

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class LocalProtocolError(ProtocolError):
    """The application asked this server to break the protocol.

    Raised from the ASGI ``send`` callable for an invalid message: the message is refused,
    the problem is logged, and the client gets a 500 if nothing has been sent yet.
    """


class ClientDisconnected(OSError):
    """Raised from ``send`` once the client has gone away.

    The ASGI specification asks servers to raise a subclass of :class:`OSError` here, so
    that an app streaming to a client that left stops instead of writing into the void.
    """
