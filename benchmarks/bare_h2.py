"""The HTTP/2 ceiling: a uvloop Protocol on the h2 state machine, with no ASGI at all.

Every request gets the benchmark app's answer for ``GET /`` (13 bytes) straight from the
protocol callback, so this measures h2 plus the event loop and nothing else: what a Python
HTTP/2 server built on h2 cannot beat. The harness runs it as the peer ``bare-h2`` for the
HTTP/2 scenarios (it speaks nothing else, so the HTTP/1.1 probes skip it).

    python bare_h2.py --port 8000 [--certfile cert.pem --keyfile key.pem]
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import uvloop

CONFIG = h2.config.H2Configuration(
    client_side=False,
    header_encoding=None,
    validate_outbound_headers=False,
    normalize_outbound_headers=False,
)
HEADERS = [(b":status", b"200"), (b"content-type", b"text/plain")]
BODY = b"Hello, world!"


class BareH2(asyncio.Protocol):
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.conn = h2.connection.H2Connection(CONFIG)
        self.conn.initiate_connection()
        transport.write(self.conn.data_to_send())

    def data_received(self, data: bytes) -> None:
        conn = self.conn
        try:
            events = conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            self.transport.write(conn.data_to_send())
            self.transport.close()
            return
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                try:
                    conn.send_headers(event.stream_id, HEADERS)
                    conn.send_data(event.stream_id, BODY, end_stream=True)
                except h2.exceptions.ProtocolError:
                    break  # the client said GOAWAY in the same read
            elif isinstance(event, h2.events.DataReceived):
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        out = conn.data_to_send()
        if out:
            self.transport.write(out)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--certfile")
    parser.add_argument("--keyfile")
    args = parser.parse_args()
    context = None
    if args.certfile:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.certfile, args.keyfile)
        context.set_alpn_protocols(["h2"])
    loop = asyncio.get_running_loop()
    server = await loop.create_server(BareH2, "127.0.0.1", args.port, ssl=context, backlog=2048)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(main())
