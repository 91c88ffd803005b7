"""The Quart demo: a page, a JSON API, a WebSocket chat, a stream and HTTP/2 server push.

``hypercorn examples.demo:app`` serves it on http://127.0.0.1:8000;
``python -m examples.demo --tls`` serves it on https://127.0.0.1:8443 with HTTP/2 by ALPN,
using a development certificate made on first use. See examples/demo/README.md.
"""

from __future__ import annotations

from .app import ChatRoom, create_app

__all__ = ["ChatRoom", "app", "create_app"]

#: The app the README's serve command names: ``hypercorn examples.demo:app``.
app = create_app()
