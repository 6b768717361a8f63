"""Hostile documents against a served app (uvicorn on a real socket): refused with a 422 while /healthz keeps
answering, and the connection they came on stays usable. Their timing is measured by bench/bench_yamldoc.py."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import uvicorn
from fastapi import FastAPI

from evenhand.routing.policy import default_text
from tests.builders import Org
from tests.kit.documents import BAD_DATES, BOMB_LINE, BOMBS, BRACKETS

VALIDATE = ("/api/v1/routing/validate", "/api/v1/scoring/validate")
# Generous: the old loader took 24 s over the eight-level bomb, and /healthz waited as long behind it.
TIMEOUT = 8.0


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """``app`` served by uvicorn in a thread on a free port, stopped on exit."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            thread.join(0.05)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_an_alias_bomb_is_refused_while_healthz_keeps_answering(app: FastAPI, org: Org) -> None:
    with served(app) as base, httpx.Client(base_url=base, headers=org.headers("ops"), timeout=TIMEOUT) as client, \
            httpx.Client(base_url=base, timeout=TIMEOUT) as probe, ThreadPoolExecutor(1) as pool:
        for path in VALIDATE:
            for name, bomb in BOMBS.items():
                sent = pool.submit(client.post, path, json={"body": bomb})
                health = probe.get("/healthz")
                refused = sent.result()
                assert health.status_code == 200, (path, name)
                assert refused.status_code == 422, (path, name, refused.text)
                assert [d["line"] for d in refused.json()["error"]["details"]] == [BOMB_LINE], (path, name)


def test_the_connection_stays_usable_after_broken_documents(app: FastAPI, org: Org) -> None:
    broken = [BRACKETS, *BAD_DATES.values(), *BOMBS.values()] * 3
    with served(app) as base, httpx.Client(base_url=base, headers=org.headers("ops"), timeout=TIMEOUT) as client:
        for body in broken:
            for path in VALIDATE:
                assert client.post(path, json={"body": body}).status_code in (200, 422), (path, body[:40])
            assert client.put("/api/v1/routing/policy", json={"body": body}).status_code == 422, body[:40]
        checked = client.post(VALIDATE[0], json={"body": default_text()})
        assert checked.status_code == 200 and checked.json()["valid"] is True
