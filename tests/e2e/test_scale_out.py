"""Two server processes on one PostgreSQL share everything a request needs (R: scale-out path)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import func, select

from evenhand.db import make_engine, session_scope
from evenhand.migrate import upgrade
from evenhand.models import AuditEntry, Role
from evenhand.org import service as org_service
from evenhand.org.schemas import UserCreate
from tests.e2e.conftest import evenhand_serve, missing

pytestmark = [pytest.mark.pg, pytest.mark.slow]
SERVER = os.environ.get("EVENHAND_TEST_PG_URL", "postgresql+psycopg:///postgres")


@pytest.fixture
def pg_url() -> object:
    name = f"evenhand_scale_{os.getpid()}"
    plain = SERVER.replace("postgresql+psycopg", "postgresql")
    try:
        admin = psycopg.connect(plain, autocommit=True)
    except psycopg.OperationalError as exc:
        missing(f"PostgreSQL not reachable at {SERVER}: {exc}")
    admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.execute(f'CREATE DATABASE "{name}"')
    url = SERVER.rsplit("/", 1)[0] + f"/{name}"
    yield url
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def test_two_workers_share_sessions_rate_limit_and_audit_chain(pg_url: str, tmp_path: Path) -> None:
    engine = make_engine(pg_url)
    upgrade(engine)
    with session_scope(engine) as session:
        org_service.create_user(session, UserCreate(username="ops", display_name="李娜", role=Role.OPS,
                                                    password="ops-password"), actor=None)
    try:
        with evenhand_serve(pg_url, tmp_path, workers=2) as base:
            signed_in = httpx.post(f"{base}/auth/login", data={"username": "ops", "password": "ops-password"},
                                   headers={"Origin": base})
            cookie = signed_in.cookies["evenhand_session"]

            def create_region(i: int) -> int:
                with httpx.Client(base_url=base, cookies={"evenhand_session": cookie}) as client:
                    me = client.get("/api/v1/me")
                    assert me.status_code == 200, "a session opened on one process is valid on the other"
                    csrf = me.json()["csrf_token"]
                    return client.post("/api/v1/regions", json={"code": f"r{i}", "name": f"区域{i}"},
                                       headers={"X-CSRF-Token": csrf}).status_code

            with ThreadPoolExecutor(max_workers=8) as pool:
                codes = list(pool.map(create_region, range(40)))
            assert codes == [201] * 40
            with session_scope(engine) as session:
                assert session.scalar(select(func.count()).select_from(AuditEntry)) == 41  # user + 40 regions
                assert [*session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq))] == list(range(1, 42))
            from evenhand.kit import audit_check

            with session_scope(engine) as session:
                assert audit_check.verify(session) == (41, None)

            refused = [httpx.post(f"{base}/auth/login", data={"username": "ops", "password": "wrong"},
                                  headers={"Origin": base, "Connection": "close"}) for _ in range(12)]
            assert refused[-1].status_code == 429, "the throttle counts across processes"
            assert int(refused[-1].headers["retry-after"]) >= 1
    finally:
        engine.dispose()

