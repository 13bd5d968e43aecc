"""A loopback TCP proxy that shapes a link: bandwidth per direction and one-way latency.

``python -m benchmarks.shaper --port P --target 127.0.0.1:Q --rate 40e6 --latency 0.02``
listens on 127.0.0.1:P and forwards every connection to the target. Each direction is one
link shared by all connections: bytes leave at most ``rate`` bytes per second (serialisation,
first come first served) and arrive ``latency`` seconds later (propagation). A store behind it
then behaves like one across a network, where overlapping download and upload pays off, rather
than like moto on the same CPUs. Buffers are bounded: a slow side stops reading the other.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from benchmarks.moto_server import stop_process

#: Bytes read from a socket at once.
READ_SIZE = 64 * 1024
#: Reads in flight per direction and connection (bounds the proxy's memory).
QUEUE_DEPTH = 64
#: How far ahead of now a connection may book the wire. The proxy shares two busy cores with
#: the store and the clients, so it often wakes milliseconds late; had it booked only one read
#: (1.6 ms at 40 MB/s) ahead, the wire would idle meanwhile and one connection each way got
#: ~30 MB/s of a 40 MB/s link. Bytes booked ahead are sent back to back when it wakes, as a
#: network card's queue sends them, and a small request waits at most this long behind them.
HORIZON = 0.010


@dataclass
class Link:
    """One direction of the shaped link: when the wire is next free."""

    rate: float
    latency: float
    horizon: float = HORIZON
    free_at: float = 0.0

    def book(self, size: int, now: float) -> tuple[float, float]:
        """Take the wire for ``size`` bytes after what is booked: (wait, arrival time).

        ``wait`` is how long the sender must wait before booking more, so that it is never
        more than ``horizon`` ahead of ``now``; the bytes reach the far end at the arrival
        time (their last bit on the wire, plus the latency).
        """
        start = max(self.free_at, now)
        self.free_at = start + size / self.rate
        return max(0.0, self.free_at - now - self.horizon), self.free_at + self.latency

    async def send(self, size: int) -> float:
        """Book the wire for ``size`` bytes, wait for the horizon; when they arrive.

        Each connection books one read at a time and reads no more while it is booked more
        than ``horizon`` ahead, so connections share the link read by read (as packets
        interleave on a real link) instead of queueing whole bodies: a small request is never
        held behind megabytes of another connection's upload.
        """
        wait, arrival = self.book(size, time.monotonic())
        if wait > 0:
            await asyncio.sleep(wait)
        return arrival


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: Link) -> None:
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(QUEUE_DEPTH)

    async def deliver() -> None:
        while True:
            arrive_at, data = await queue.get()
            if not data:
                break
            delay = arrive_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            writer.write(data)
            await writer.drain()
        with contextlib.suppress(OSError):
            writer.write_eof()

    delivering = asyncio.create_task(deliver())
    try:
        while not delivering.done() and (data := await reader.read(READ_SIZE)):
            await queue.put((await link.send(len(data)), data))
    except OSError:
        pass
    finally:
        if not delivering.done():
            await queue.put((0.0, b""))
        with contextlib.suppress(OSError):
            await delivering


async def serve(port: int, target: tuple[str, int], rate: float, latency: float) -> None:
    """Proxy 127.0.0.1:``port`` to ``target`` until cancelled."""
    upstream, downstream = Link(rate, latency), Link(rate, latency)

    async def handle(client_reader: asyncio.StreamReader, client_writer: Any) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*target)
        except OSError:
            client_writer.close()
            return
        try:
            await asyncio.gather(
                _pump(client_reader, server_writer, upstream),
                _pump(server_reader, client_writer, downstream),
            )
        finally:
            for writer in (client_writer, server_writer):
                writer.close()

    connections: set[asyncio.Task[None]] = set()

    def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Hold each connection's task: asyncio keeps only a weak reference to it.
        task = asyncio.get_running_loop().create_task(handle(reader, writer))
        connections.add(task)
        task.add_done_callback(connections.discard)

    server = await asyncio.start_server(connected, "127.0.0.1", port)
    print(f"listening {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


class ShapedLink:
    """The proxy in its own process, in front of ``target``; stopped on ``close``."""

    def __init__(self, target_port: int, port: int, *, rate: float, latency: float) -> None:
        self.port, self.rate, self.latency = port, rate, latency
        self.endpoint = f"http://127.0.0.1:{port}"
        command = [
            sys.executable,
            "-m",
            "benchmarks.shaper",
            "--port",
            str(port),
            "--target",
            f"127.0.0.1:{target_port}",
            "--rate",
            str(rate),
            "--latency",
            str(latency),
        ]
        self._process: subprocess.Popen[str] | None = subprocess.Popen(
            command, stdout=subprocess.PIPE, text=True
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line.startswith("listening"):
            self.close()
            raise RuntimeError("the shaping proxy did not start")

    def describe(self) -> dict[str, Any]:
        """The link's profile, for the JSON."""
        return {
            "rate_bytes_per_second_each_direction": self.rate,
            "rate_mb_per_second_each_direction": round(self.rate / 1e6, 1),
            "one_way_latency_ms": round(self.latency * 1000, 1),
            "how": "loopback TCP proxy (benchmarks/shaper.py) in its own process, one shared "
            "link per direction",
        }

    def close(self) -> None:
        """Stop the proxy."""
        stop_process(self._process, timeout=5)
        self._process = None


def main(argv: list[str] | None = None) -> None:
    """Command line: serve until terminated."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.shaper")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--target", required=True, help="host:port")
    parser.add_argument("--rate", type=float, required=True, help="bytes per second")
    parser.add_argument("--latency", type=float, default=0.0, help="one-way, seconds")
    args = parser.parse_args(argv)
    host, _, port = args.target.rpartition(":")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, (host, int(port)), args.rate, args.latency))


if __name__ == "__main__":
    main()
