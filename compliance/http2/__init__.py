"""HTTP/2 (RFC 9113) and HPACK (RFC 7541) conformance suite: raw frames against a live server.

See README.md beside this file for what it covers and how to point it at a server.
"""
