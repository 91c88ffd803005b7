"""ASGI middleware that ships with the server."""

from .redirect import HTTPToHTTPSRedirectMiddleware

__all__ = ["HTTPToHTTPSRedirectMiddleware"]
