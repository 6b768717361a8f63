"""A local HTTP endpoint standing in for a channel (webhook, SMS gateway): it records every request and can
refuse some (HTTP 500), answer too late for the sender's timeout, or redirect every request elsewhere. Used by
the tests and the benches."""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    key: str | None  # the Idempotency-Key header
    body: dict[str, Any]
    outcome: str  # ok, fail, timeout, redirect
    started: float
    finished: float

    @property
    def content(self) -> str:
        """What the recipient reads (title and message), for "same key, same content" checks."""
        return hashlib.sha256(f"{self.body.get('title')}\x00{self.body.get('message')}".encode()).hexdigest()


@dataclass
class Faults:
    failure_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_seconds: float = 1.0  # how long a "timed out" request is held (longer than the sender waits)
    delay_seconds: float = 0.0  # every request takes at least this long
    seed: int = 7


@dataclass
class Sink:
    faults: Faults = field(default_factory=Faults)
    received: list[Received] = field(default_factory=list)
    in_flight: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    overlaps: list[str] = field(default_factory=list)  # keys that arrived while the same key was in flight
    host: str = "127.0.0.1"  # any of 127.0.0.0/8 works on Linux
    redirect_to: str | None = None  # answer every request with 307 to this URL (the body is to be sent again)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.rng = random.Random(self.faults.seed)
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                sink._handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((self.host, 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str = "/hook", scheme: str = "json") -> str:
        return f"{scheme}://{self.host}:{self.port}{path}"

    def start(self) -> Sink:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Sink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _draw(self) -> str:
        if self.redirect_to:
            return "redirect"
        with self.lock:
            x = self.rng.random()
        if x < self.faults.failure_rate:
            return "fail"
        if x < self.faults.failure_rate + self.faults.timeout_rate:
            return "timeout"
        return "ok"

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        started = time.monotonic()
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        key = handler.headers.get("Idempotency-Key")
        with self.lock:
            if key and self.in_flight[key]:
                self.overlaps.append(key)
            if key:
                self.in_flight[key] += 1
        outcome = self._draw()
        try:
            time.sleep(self.faults.timeout_seconds if outcome == "timeout" else self.faults.delay_seconds)
            # Recorded before the answer goes out: a sender that has its answer finds the request here.
            self._record(handler.path, key, raw, outcome, started)
            status = {"fail": 500, "redirect": 307}.get(outcome, 200)
            payload = b'{"ok": true}' if status == 200 else b'{"ok": false}'
            handler.send_response(status)
            if status == 307:
                handler.send_header("Location", str(self.redirect_to))
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except OSError:
            pass  # the sender gave up (timeout) and closed the connection
        finally:
            if key:
                with self.lock:
                    self.in_flight[key] -= 1

    def _record(self, path: str, key: str | None, raw: bytes, outcome: str, started: float) -> None:
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {"raw": raw.decode(errors="replace")}
        with self.lock:
            self.received.append(Received(path, key, body, outcome, started, time.monotonic()))

    # --- what arrived ---

    def accepted(self, path: str | None = None) -> list[Received]:
        """Requests answered 200 (what the recipient got), optionally for one path."""
        with self.lock:
            return [r for r in self.received if r.outcome == "ok" and (path is None or r.path.startswith(path))]

    def keys_with_different_content(self) -> list[str]:
        """Keys that arrived more than once with different content: the duplicates that must never happen."""
        seen: dict[str, set[str]] = defaultdict(set)
        with self.lock:
            for r in self.received:
                if r.key:
                    seen[r.key].add(r.content)
        return sorted(k for k, contents in seen.items() if len(contents) > 1)

    def repeated_keys(self) -> list[str]:
        """Keys the recipient took in more than once (resends of the same message): answered, or answered
        too late for the sender, who then sent it again."""
        counts: dict[str, int] = defaultdict(int)
        with self.lock:
            for r in self.received:
                if r.key and r.outcome != "fail":
                    counts[r.key] += 1
        return sorted(k for k, n in counts.items() if n > 1)


def main() -> None:
    """Serve a sink in its own process (benches: it must not share the measured process's interpreter lock);
    prints the port, then serves until killed."""
    import argparse
    import sys

    parser = argparse.ArgumentParser()
    parser.add_argument("--failure-rate", type=float, default=0.0)
    parser.add_argument("--timeout-rate", type=float, default=0.0)
    args = parser.parse_args()
    sink = Sink(Faults(failure_rate=args.failure_rate, timeout_rate=args.timeout_rate))
    sink.received = _Discard()  # type: ignore[assignment]
    print(sink.port, flush=True)
    sys.stdout.close()
    sink.server.serve_forever()


class _Discard(list):  # type: ignore[type-arg]
    """Keeps nothing: a long-running sink must not grow without bound."""

    def append(self, item: object) -> None:
        pass


if __name__ == "__main__":
    main()
