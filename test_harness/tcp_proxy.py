"""A TCP relay between one process and a server, for the partition tests: an orchestratord instance
reaches Redis through it, and stopping the relay (SIGSTOP) cuts that instance off exactly as a dead link
would, with its connections open and silent, while every other instance still reaches Redis.

    python -m test_harness.tcp_proxy --port 7001 --to 127.0.0.1:6379
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

CHUNK = 65_536


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            writer.close()


async def serve(port: int, host: str, target_port: int) -> None:
    async def relay(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(host, target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(_pipe(client_reader, server_writer), _pipe(server_reader, client_writer))

    server = await asyncio.start_server(relay, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="where to listen, on 127.0.0.1")
    parser.add_argument("--to", required=True, help="HOST:PORT of the server")
    args = parser.parse_args()
    host, _, target = args.to.rpartition(":")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, host, int(target)))


if __name__ == "__main__":
    main()
