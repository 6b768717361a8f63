"""The baseline of bench/bench_intake_wrk.py: a bare FastAPI endpoint that validates the same lead body as
``POST /api/v1/leads`` (``evenhand.leads.schemas.LeadCreate``) and commits one row durably, and nothing else.

``EVENHAND_BENCH_BARE_DB`` names the store: a SQLite file path (WAL, ``synchronous=FULL``: the commit is on disk
when it returns) or a PostgreSQL conninfo (``postgresql://…``; the server's own ``synchronous_commit``). The table
is created by ``prepare`` before the server starts, so two server processes never race to create it.

    EVENHAND_BENCH_BARE_DB=/tmp/bare.sqlite .venv/bin/uvicorn --factory --app-dir bench/wrk bare_app:from_environment
"""

from __future__ import annotations

import os
import sqlite3
import threading
from typing import Any, Protocol

import psycopg
from fastapi import FastAPI

from evenhand.leads.schemas import LeadCreate

# The natural key evenhand enforces too (a lead posted again is found by source and external id).
_SQLITE_TABLE = ("CREATE TABLE IF NOT EXISTS bare_leads (id INTEGER PRIMARY KEY, source TEXT NOT NULL, "
                 "external_id TEXT NOT NULL, body TEXT NOT NULL, UNIQUE (source, external_id))")
_PG_TABLE = ("CREATE TABLE IF NOT EXISTS bare_leads (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
             "source TEXT NOT NULL, external_id TEXT NOT NULL, body TEXT NOT NULL, UNIQUE (source, external_id))")
_INSERT = "INSERT INTO bare_leads (source, external_id, body) VALUES ({p}, {p}, {p})"


class Store(Protocol):
    def insert(self, lead: LeadCreate) -> int: ...


def _is_pg(target: str) -> bool:
    return target.startswith(("postgresql://", "postgres://"))


def _values(lead: LeadCreate) -> tuple[str, str, str]:
    return lead.source, lead.external_id, lead.model_dump_json()


class SqliteStore:
    """One connection behind a lock: SQLite has one writer anyway, and a lock hands it over without the busy
    handler's sleeps, so the baseline is the best this file allows, not a pessimistic one."""

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=30000"):
            self.conn.execute(f"PRAGMA {pragma}")
        self.lock = threading.Lock()

    def insert(self, lead: LeadCreate) -> int:
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            cursor = self.conn.execute(_INSERT.format(p="?"), _values(lead))
            self.conn.execute("COMMIT")
            return int(cursor.lastrowid or 0)


class PgStore:
    """A connection per request thread: PostgreSQL takes concurrent commits and flushes them together."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo, self.local = conninfo, threading.local()

    def insert(self, lead: LeadCreate) -> int:
        if not hasattr(self.local, "conn"):
            self.local.conn = psycopg.connect(self.conninfo)
        conn = self.local.conn
        try:
            row = conn.execute(_INSERT.format(p="%s") + " RETURNING id", _values(lead)).fetchone()
            conn.commit()
        except psycopg.Error:
            conn.rollback()  # the thread's connection stays usable; the request still fails (and is counted)
            raise
        return int(row[0]) if row else 0


def prepare(target: str) -> None:
    """Create the table (once, before any server process starts)."""
    if _is_pg(target):
        with psycopg.connect(target, autocommit=True) as conn:
            conn.execute(_PG_TABLE)
        return
    with sqlite3.connect(target) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(_SQLITE_TABLE)


def create_app(store: Store) -> FastAPI:
    app = FastAPI()

    @app.post("/leads", status_code=201)
    def create(lead: LeadCreate) -> dict[str, Any]:  # a sync handler, in the thread pool, as evenhand's is
        return {"id": store.insert(lead)}

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def from_environment() -> FastAPI:
    target = os.environ["EVENHAND_BENCH_BARE_DB"]
    return create_app(PgStore(target) if _is_pg(target) else SqliteStore(target))
