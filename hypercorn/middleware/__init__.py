"""ASGI middleware that ships with the server."""

from .dispatcher import DispatcherMiddleware
from .proxy_fix import ProxyFixMiddleware
from .redirect import HTTPToHTTPSRedirectMiddleware

__all__ = ["DispatcherMiddleware", "HTTPToHTTPSRedirectMiddleware", "ProxyFixMiddleware"]
