"""`evenhand scoring rescore` on SQLite: N leads with ~3 events each, read → score → write, timed.

The issue's bar: 1,000,000 leads in ≤ 20 s on a 2-core machine. The baseline measured in the same run
is a plain ``UPDATE leads SET score = score`` over the same rows: the floor any rescoring pays.
Set EVENHAND_BENCH_LEADS to change N (default 1,000,000).
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, insert, text

from evenhand.db import make_engine, session_scope
from evenhand.leads import scoring_bulk, scoring_service
from evenhand.migrate import upgrade
from evenhand.models import BehaviourEvent, Lead

N = int(os.environ.get("EVENHAND_BENCH_LEADS", "1000000"))
CHUNK = 50_000
INDUSTRIES = ["制造业", "金融", "零售", "互联网", "医疗", "教育", "物流", None]
REGIONS = ["east", "south", "north", "central", "southwest", None]
SOURCES = ["website", "baidu_ads", "trade_show", "partner", "referral", "webinar"]
TITLES = ["采购经理", "总监", "CEO", "工程师", None]
KINDS = ["page_view", "whitepaper_download", "webinar", "form_submit", "email_open", "email_click"]


def _seed(engine: Engine, n: int) -> None:
    rng = np.random.default_rng(7)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        for lo in range(0, n, CHUNK):
            ids = range(lo + 1, min(lo + CHUNK, n) + 1)
            conn.execute(insert(Lead), [{
                "id": i, "source": SOURCES[i % 6], "external_id": f"b{i}", "company": f"公司{i}",
                "industry": INDUSTRIES[i % 8], "region": REGIONS[i % 6], "title": TITLES[i % 5],
                "company_size": int(rng.integers(5, 5000)), "email": f"u{i}@corp{i % 97}.cn",
                "phone": None if i % 9 == 0 else "13800000000", "created_at": start + timedelta(minutes=i % 400_000),
            } for i in ids])
            lead = rng.integers(lo + 1, min(lo + CHUNK, n) + 1, size=3 * len(ids))
            kind = rng.integers(0, 6, size=lead.size)
            conn.execute(insert(BehaviourEvent), [{
                "lead_id": int(lead[j]), "kind": KINDS[kind[j]],
                "occurred_at": start + timedelta(minutes=int(lead[j] % 400_000) - int(kind[j]) * 600),
                "dwell_seconds": int(lead[j] % 300) if kind[j] == 0 else None} for j in range(lead.size)])


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'rescore.sqlite'}")
        upgrade(engine)
        started = time.perf_counter()
        _seed(engine, N)
        seeded = time.perf_counter() - started
        with session_scope(engine) as session:
            scoring_service.active(session)
        stages: dict[str, float] = {}
        last = time.perf_counter()

        def mark(stage: str, done: int, total: int) -> None:
            nonlocal last
            if done == total:
                stages[stage] = stages.get(stage, 0.0) + time.perf_counter() - last
                last = time.perf_counter()

        started = time.perf_counter()
        with session_scope(engine) as session:
            count, _ = scoring_bulk.rescore_all(session, now=datetime(2026, 11, 27, tzinfo=UTC), progress=mark)
        rescore = time.perf_counter() - started
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(text("UPDATE leads SET score = score"))
        floor = time.perf_counter() - started
        engine.dispose()
    return {"leads": count, "events": 3 * N, "seed_s": round(seeded, 1), "rescore_s": round(rescore, 2),
            "read_s": round(stages.get("read", 0), 2), "score_s": round(stages.get("scored", 0), 2),
            "write_s": round(stages.get("written", 0), 2), "plain_update_s": round(floor, 2),
            "leads_per_s": round(count / rescore), "target_s": 20.0 * N / 1_000_000}
