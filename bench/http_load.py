"""A lean HTTP/1.1 load client for benchmarks: requests prepared as bytes before the clock starts, sent over a few
keep-alive connections by asyncio, one request in flight per connection. On a 2-core machine a thread pool of
httpx clients spends as much CPU as the server it measures; this one leaves the server nearly all of it.

Also a free port for a server the bench starts, and the wait until it answers."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import Sequence

import httpx


def free_port() -> int:
    """A port nothing listens on now, for a server the bench starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(base: str, server: subprocess.Popen[bytes] | None = None, *, seconds: float = 60) -> None:
    """Return once ``base``'s ``/healthz`` answers 200; fail if ``server`` exits first or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server is not None and server.poll() is not None:
            raise RuntimeError(f"the server for {base} exited with {server.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server for {base} did not start")


def request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}",
            *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def send_all(port: int, requests: Sequence[bytes], connections: int) -> tuple[float, list[tuple[int, bytes]]]:
    """Send every request; (seconds, [(status, body)] in the requests' order)."""
    return asyncio.run(_send_all(port, requests, connections))


async def _send_all(port: int, requests: Sequence[bytes], connections: int) -> tuple[float, list[tuple[int, bytes]]]:
    answers: list[tuple[int, bytes]] = [(0, b"")] * len(requests)
    turn = iter(range(len(requests)))
    streams = [await asyncio.open_connection("127.0.0.1", port) for _ in range(connections)]
    started = time.perf_counter()
    await asyncio.gather(*(_one_connection(reader, writer, requests, turn, answers) for reader, writer in streams))
    seconds = time.perf_counter() - started
    for _, writer in streams:
        writer.close()
    return seconds, answers


async def _one_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, requests: Sequence[bytes],
                          turn: object, answers: list[tuple[int, bytes]]) -> None:
    for i in turn:  # type: ignore[attr-defined]  # shared by every connection: each request is sent once
        writer.write(requests[i])
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        length = next((int(line.split(b":", 1)[1]) for line in lines if line.lower().startswith(b"content-length:")), 0)
        answers[i] = (int(lines[0].split()[1]), await reader.readexactly(length))
