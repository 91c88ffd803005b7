"""Open N keep-alive HTTP/1.1 connections, one request each, then hold them idle.

Run by the harness (pinned to the load core) for the idle-connection memory scenario::

    python idle_client.py --port 8000 --connections 10000

Prints one JSON line once every connection has had its response (``opened``, ``failed``),
then waits. Each line read from stdin asks for a JSON line with how many connections are
still open (``alive``); end of stdin closes everything and exits. Standard library only, and
bounded: it exits on its own after ``--max-seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import sys

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
BODY = b"Hello, world!"


async def _open_one(
    port: int, limit: asyncio.Semaphore, timeout: float
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
    async with limit:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port), timeout
            )
            writer.write(REQUEST)
            received = b""
            while BODY not in received:
                chunk = await asyncio.wait_for(reader.read(4096), timeout)
                if not chunk:
                    return None
                received += chunk
        except (OSError, asyncio.TimeoutError):
            return None
        return reader, writer


def _alive(connections: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]) -> int:
    # A connection the server closed has had its EOF delivered to the reader by now.
    return sum(
        1 for reader, writer in connections if not reader.at_eof() and not writer.is_closing()
    )


async def _answer(
    stdin: asyncio.StreamReader,
    connections: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]],
) -> None:
    while await stdin.readline():
        await asyncio.sleep(0.2)  # let any pending EOFs arrive before counting
        print(json.dumps({"alive": _alive(connections)}))
        sys.stdout.flush()


async def _main(args: argparse.Namespace) -> None:
    limit = asyncio.Semaphore(args.concurrency)
    results = await asyncio.gather(
        *(_open_one(args.port, limit, args.timeout) for _ in range(args.connections))
    )
    connections = [pair for pair in results if pair is not None]
    print(json.dumps({"opened": len(connections), "failed": len(results) - len(connections)}))
    sys.stdout.flush()

    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(_answer(stdin, connections), args.max_seconds)
    for _, writer in connections:
        writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=200, help="connects in flight")
    parser.add_argument("--timeout", type=float, default=30.0, help="per connect/response")
    parser.add_argument("--max-seconds", type=float, default=600.0)
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(_main(args))


if __name__ == "__main__":
    main()
