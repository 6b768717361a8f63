"""Hostile YAML documents over HTTP: how fast a server process (uvicorn, SQLite) refuses an alias bomb, against
a normal small validate in the same run, and whether ``/healthz`` stays quick while bombs keep coming.

The bombs are the ones of the security finding: ``l0`` ten values, each next level ten aliases of the one
before (eight levels: 380 bytes, a hundred million values expanded; the old loader answered after 24.6 s
and held ``/healthz`` for 23.9 s). The baseline is the shipped default routing policy (3.4 KB), checked by
the same endpoint, its text new each time (a real read, not the services' cache). Figures are milliseconds
per request for one keep-alive client (p50 and max), then ``/healthz`` latency alone and while four clients
post bombs without pause (the clients share this process, so its maxima include their contention). The
loader alone (no HTTP) is timed too, in µs.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx

from evenhand.auth import service as auth_service
from evenhand.db import make_engine, session_scope
from evenhand.kit import yamldoc
from evenhand.migrate import upgrade
from evenhand.models import Role, User
from evenhand.routing.document import PolicyError
from evenhand.routing.policy import default_text

sys.path.insert(0, str(Path(__file__).parent))
import http_load

ROUNDS = 60
PINGS = 300
BOMBERS = 4
PATHS = {"routing": "/api/v1/routing/validate", "scoring": "/api/v1/scoring/validate"}
AIM_BOMB_MS = 100


def alias_bomb(levels: int) -> str:
    lines = ["l0: &l0 [x,x,x,x,x,x,x,x,x,x]"]
    lines += [f"l{n}: &l{n} [{','.join([f'*l{n - 1}'] * 10)}]" for n in range(1, levels)]
    return "\n".join(lines) + "\n"


BOMBS = {"bomb_8": alias_bomb(8), "bomb_9": alias_bomb(9)}


def _token(url: str) -> str:
    engine = make_engine(url)
    upgrade(engine)
    with session_scope(engine) as session:
        session.add(User(username="ops", display_name="运营", role=Role.OPS))
        session.flush()
        token, _ = auth_service.create_token(session, username="ops", role=Role.OPS)
    engine.dispose()
    return token


def _ms(fn: Callable[[], Any], n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def _cut(latencies: list[float]) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(latencies), 2), "max_ms": round(max(latencies), 2)}


def _post(client: httpx.Client, path: str, body: str, status: int) -> Callable[[], None]:
    def send() -> None:
        response = client.post(path, json={"body": body})
        assert response.status_code == status, response.text

    return send


def _fresh(client: httpx.Client, path: str, body: str) -> Callable[[], None]:
    """``body`` with a new comment each time: the services cache what they compiled by text."""
    sent = iter(range(10**9))
    return lambda: _post(client, path, f"{body}# {next(sent)}\n", 200)()


def _loader_us() -> dict[str, float]:
    """The loader alone: a bomb refused, against the default policy read, in µs (median of 200)."""
    def read(text: str) -> Callable[[], None]:
        def go() -> None:
            with suppress(PolicyError):
                yamldoc.load(text, error=PolicyError, not_a_mapping="")
        return go

    figures = {f"loader_{name}_us": round(statistics.median(_ms(read(text), 200)) * 1000, 1)
               for name, text in BOMBS.items()}
    return {"loader_default_policy_us": round(statistics.median(_ms(read(default_text()), 200)) * 1000, 1),
            **figures}


def _under_fire(base: str, token: str) -> list[float]:
    """/healthz latencies while ``BOMBERS`` clients post the eight-level bomb without pause."""
    stop = threading.Event()

    def bomber() -> None:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
            while not stop.is_set():
                _post(c, PATHS["routing"], BOMBS["bomb_8"], 422)()

    threads = [threading.Thread(target=bomber) for _ in range(BOMBERS)]
    for thread in threads:
        thread.start()
    try:
        with httpx.Client(base_url=base, timeout=60) as probe:
            time.sleep(0.5)
            return _ms(lambda: probe.get("/healthz").raise_for_status(), PINGS)
    finally:
        stop.set()
        for thread in threads:
            thread.join()


def _measure(base: str, token: str) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client, \
            httpx.Client(base_url=base, timeout=60) as probe:
        _wait(probe)
        _ms(_fresh(client, PATHS["routing"], default_text()), 10)  # warm
        figures["baseline_default_policy"] = _cut(_ms(_fresh(client, PATHS["routing"], default_text()), ROUNDS))
        for doc, path in PATHS.items():
            for name, bomb in BOMBS.items():
                figures[f"{doc}_{name}"] = _cut(_ms(_post(client, path, bomb, 422), ROUNDS))
        figures["healthz_alone"] = _cut(_ms(lambda: probe.get("/healthz").raise_for_status(), PINGS))
    figures[f"healthz_under_{BOMBERS}_bombers"] = _cut(_under_fire(base, token))
    worst = max(v["p50_ms"] for k, v in figures.items() if k.startswith(tuple(PATHS)))
    return {**figures, "worst_bomb_p50_ms": worst,
            "worst_bomb_vs_baseline": round(worst / figures["baseline_default_policy"]["p50_ms"], 2),
            "aim_bomb_ms": AIM_BOMB_MS, **_loader_us()}


def _wait(probe: httpx.Client) -> None:
    for _ in range(150):
        try:
            if probe.get("/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not start")


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'api.sqlite'}"
        token = _token(url)
        port = http_load.free_port()
        env = {**os.environ, "EVENHAND_DATABASE_URL": url, "EVENHAND_DATA_DIR": tmp}
        with (Path(tmp) / "server.log").open("wb") as log:
            server = subprocess.Popen([sys.executable, "-m", "uvicorn", "evenhand.asgi:app", "--port", str(port),
                                       "--log-level", "warning"], env=env, cwd=tmp, stdout=log, stderr=log)
        try:
            return _measure(f"http://127.0.0.1:{port}", token)
        finally:
            server.terminate()
            server.wait(timeout=20)


if __name__ == "__main__":
    print(run())
