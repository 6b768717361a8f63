"""A real server process on a free port, and headless Debian Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from evenhand.db import make_engine, session_scope
from evenhand.migrate import upgrade
from evenhand.models import Department, Level, Presence, Region, Role, Team
from evenhand.org import service as org_service
from evenhand.org.schemas import UserCreate

# A page answers over a WebSocket from a server sharing two cores with the suite: give it time on a busy machine.
expect.set_options(timeout=15_000)

CHROMIUM = os.environ.get("EVENHAND_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PASSWORD = "browser-test-pw"


def missing(reason: str) -> None:
    """Outside CI a missing browser skips with the reason; in CI it fails the run."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _seed(url: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    with session_scope(engine) as session:
        dept = Department(code="smb", name="中小企业部")  # the shipped policy's catch-all pool
        east = Region(code="east", name="华东")
        session.add_all([dept, east])
        session.flush()
        team = Team(name="华东一组", department_id=dept.id, region_id=east.id)
        other = Team(name="华南一组", department_id=dept.id)
        session.add_all([team, other])
        session.flush()
        boss = org_service.create_user(session, UserCreate(username="wangqiang", display_name="王强",
                                                           role=Role.SUPERVISOR, password=PASSWORD), actor=None)
        team.supervisor_id = boss.id
        org_service.create_user(session, UserCreate(username="admin", display_name="管理员", role=Role.ADMIN,
                                                    password=PASSWORD), actor=None)
        reps = {}
        for username, name, level, tid in (("xiaochen", "陈小雨", Level.JUNIOR, team.id),
                                           ("zhangwei", "张伟", Level.SENIOR, team.id),
                                           ("lihua", "李华", Level.SENIOR, other.id)):
            reps[username] = org_service.create_user(
                session, UserCreate(username=username, display_name=name, role=Role.REP, level=level, team_id=tid,
                                    password=PASSWORD), actor=None)
        reps["xiaochen"].presence = Presence.ONLINE
    engine.dispose()


@dataclass(frozen=True)
class Server:
    base: str
    db_url: str


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("e2e")
    url = f"sqlite:///{data / 'e2e.sqlite'}"
    _seed(url)
    seed_leads(url)
    with serving(data, url) as running:
        yield running


@contextmanager
def serving(data: Path, url: str) -> Iterator[Server]:
    """One uvicorn process on a free port over the database at ``url``, stopped on exit."""
    port = _free_port()
    env = {**os.environ, "EVENHAND_DATABASE_URL": url, "EVENHAND_DATA_DIR": str(data), "EVENHAND_LOCALE": "zh-CN"}
    log = data / "server.log"
    proc = launch([sys.executable, "-m", "uvicorn", "evenhand.asgi:app", "--port", str(port)], env, log, cwd=data)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, proc, log)
        yield Server(base=base, db_url=url)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def evenhand_serve(db_url: str, data: Path, settings: dict[str, str] | None = None, *,
                   workers: int = 1) -> Iterator[str]:
    """``evenhand serve`` over ``db_url`` in a process group of its own, ``settings`` as its environment's
    ``EVENHAND_…`` variables: its base URL once each of its ``workers`` processes has answered; stopped on exit."""
    port = _free_port()
    env = {**os.environ, "EVENHAND_DATABASE_URL": db_url, "EVENHAND_DATA_DIR": str(data), **(settings or {})}
    log = data / "server.log"
    proc = launch([sys.executable, "-m", "evenhand.cli", "serve", "--port", str(port),
                   *(["--workers", str(workers)] if workers > 1 else [])], env, log, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        assert len(wait_for_processes(base, workers, proc, log)) == workers, "every worker process should answer"
        yield base
    finally:
        stop(proc)


def launch(args: list[str], env: dict[str, str], log: Path, **options: Any) -> subprocess.Popen[bytes]:
    """A server process writing to ``log``: a file, not a pipe — a pipe nobody reads fills up and stalls it."""
    with log.open("wb") as out:
        return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, **options)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Ask the server's process group to stop; kill it if it has not within 20 s."""
    import signal

    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _wait_until_up(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("server did not come up within 30 s")


def wait_for_processes(base: str, count: int, proc: subprocess.Popen[bytes], log: Path) -> set[int]:
    """The distinct server processes answering ``/healthz``, once ``count`` of them have: a worker process can come
    up seconds after the first one on a loaded machine, so the first answer says nothing about the second."""
    _wait_until_up(base, proc, log)
    seen: set[int] = set()
    deadline = time.monotonic() + 60
    while len(seen) < count and time.monotonic() < deadline:
        seen.add(httpx.get(f"{base}/healthz", headers={"Connection": "close"}, timeout=5).json()["process"])
        if len(seen) < count:
            time.sleep(0.05)
    return seen


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        missing(f"Chromium not found at {CHROMIUM}; install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
    pg = context.new_page()
    yield pg
    context.close()


def seed_leads(url: str) -> None:
    """A few scored leads with behaviour for the lead and scoring pages (owned by 张伟 and 陈小雨)."""
    from datetime import timedelta

    from sqlalchemy import select

    from evenhand.kit.clock import utcnow
    from evenhand.leads import service as lead_service
    from evenhand.leads.schemas import EventCreate, LeadCreate
    from evenhand.models import EventKind, User

    engine = make_engine(url)
    with session_scope(engine) as session:
        owners = {u.username: u for u in session.scalars(select(User))}
        for n, (company, industry, owner) in enumerate((("苏州精密制造有限公司", "制造业", "zhangwei"),
                                                        ("杭州新零售科技", "零售", "xiaochen"),
                                                        ("广州物流集团", "物流", "lihua"))):
            data = LeadCreate(source="website", external_id=f"E-{n}", company=company, industry=industry,
                              region="east", company_size=800, title="采购总监", phone="13800000000")
            lead = lead_service.intake(session, data, actor=None, dedup=[]).lead
            lead.owner_id = owners[owner].id
            lead_service.record_events(session, lead, [
                EventCreate(kind=EventKind.WHITEPAPER_DOWNLOAD, occurred_at=utcnow() - timedelta(hours=2)),
                EventCreate(kind=EventKind.PAGE_VIEW, dwell_seconds=240, occurred_at=utcnow() - timedelta(hours=3))])
    engine.dispose()
