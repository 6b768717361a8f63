"""Intake of reps and leads through the service layer on SQLite, against the raw commit rate.

Each intake is its own unit of work (one transaction with its audit entry), the way an API
request does it; the baseline is one plain INSERT + COMMIT per row into the same database file.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from evenhand.db import make_engine, session_scope
from evenhand.leads import service as lead_service
from evenhand.leads.schemas import LeadCreate
from evenhand.migrate import upgrade
from evenhand.models import Role
from evenhand.org import service as org_service
from evenhand.org.schemas import UserCreate

N_REPS = 500
N_LEADS = 3000


def _rate(n: int, seconds: float) -> float:
    return round(n / seconds, 1)


def _raw_commits(engine, n: int) -> float:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_raw (id INTEGER PRIMARY KEY, payload TEXT)"))
    started = time.perf_counter()
    for i in range(n):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO bench_raw (payload) VALUES (:p)"), {"p": f"row {i}"})
    return _rate(n, time.perf_counter() - started)


def _reps(engine, n: int) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    for i in range(n):
        with session_scope(engine) as session:
            org_service.create_user(session, UserCreate(username=f"rep{i}", display_name=f"销售{i}", role=Role.REP),
                                    actor=None)
    return _rate(n, time.perf_counter() - started)


def _lead(i: int) -> LeadCreate:
    return LeadCreate(source="website", external_id=f"w-{i}", company=f"华东制造{i}有限公司", contact_name="李雷",
                      email=f"buyer{i}@example.cn", phone="13800000000", title="采购经理", industry="制造业",
                      region="east", company_size=250)


def _leads(engine, n: int, *, per_transaction: int) -> float:  # type: ignore[no-untyped-def]
    payloads = [_lead(i) for i in range(n)]
    started = time.perf_counter()
    for start in range(0, n, per_transaction):
        with session_scope(engine) as session:
            for data in payloads[start:start + per_transaction]:
                lead_service.intake(session, data, actor=None, dedup=["email", "phone"])
    return _rate(n, time.perf_counter() - started)


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.sqlite'}")
        upgrade(engine)
        raw = _raw_commits(engine, N_LEADS)
        reps = _reps(engine, N_REPS)
        leads_single = _leads(engine, N_LEADS, per_transaction=1)
        with session_scope(engine) as session:
            session.execute(text("DELETE FROM leads"))
        leads_batched = _leads(engine, N_LEADS, per_transaction=500)
        engine.dispose()
    return {"raw_commits_per_s": raw, "reps_per_s": reps, "leads_per_s_one_per_tx": leads_single,
            "leads_per_s_500_per_tx": leads_batched, "lead_intake_vs_raw_commit": round(leads_single / raw, 3)}
