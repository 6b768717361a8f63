"""The alert scan over 1,000,000 open opportunities on PostgreSQL (the requirement: at most 2 s).

Setup (not timed): a fresh database ``evenhand_bench_alerts`` on the local server (EVENHAND_BENCH_PG_URL, default
``postgresql+psycopg:///postgres`` for the admin connection), migrated; 40 teams of 25 reps; the deals and their
activities written with COPY. The company is a healthy one, seeded (16):

- every deal is open, in one of the four open stages, entered 0 to 200 days ago (no stage history: the stage
  standards judge it from when it last moved);
- 99% of the deals have an answered call in the last 4 days; 1% were last touched 20 to 60 days ago (stale);
- 0.3% have three unanswered outbound contacts after that call (a customer gone quiet).

Timed, in the same run and on the same rows, each with the load average when it ended: the baseline, a plain
``SELECT count(*)`` of the open deals and one ``GROUP BY`` of the activities per deal (what any full read of the facts
pays), before and after the scans; the first scan (cold and full: it opens and tells every alert, and remembers the
stage standards it judged); three steady full scans 5, 10 and 15 minutes later; three incremental scans 20, 25 and 30
minutes later with nothing captured between them; three incremental scans 35, 40 and 45 minutes later, each after
0.5% of the deals (5,000) got an answered call through ``activities.service.capture_many`` (not timed: its hook marks
and judges them); the full scan's SQL narrowing alone. Medians are the figures.

    .venv/bin/python bench/bench_alerts.py            # alone
    .venv/bin/python bench/run.py alerts              # written to bench/results/alerts.json

EVENHAND_BENCH_ALERTS_DEALS changes the number of deals (default 1,000,000); EVENHAND_BENCH_ALERTS_BUSY=N keeps N
processes spinning on the CPU from a minute before the steady scans until they end (a busy machine).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

DEALS = int(os.environ.get("EVENHAND_BENCH_ALERTS_DEALS", "1000000"))
BUSY = int(os.environ.get("EVENHAND_BENCH_ALERTS_BUSY", "0"))  # processes spinning while the steady scans run
ADMIN_URL = os.environ.get("EVENHAND_BENCH_PG_URL", "postgresql+psycopg:///postgres")
DATABASE = "evenhand_bench_alerts"
NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
STAGES = ("qualification", "needs_analysis", "proposal", "negotiation")
TEAMS, REPS = 40, 25


def _database() -> str:
    from evenhand.db import make_engine

    admin = make_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    admin.dispose()
    return make_url(ADMIN_URL).set(database=DATABASE).render_as_string(hide_password=False)


def _people(engine: Engine) -> list[int]:
    from evenhand.db import session_scope
    from evenhand.models import Department, Role, Team, User

    with session_scope(engine) as session:
        dept = Department(code="SALES", name="销售部")
        session.add(dept)
        session.flush()
        reps: list[User] = []
        for t in range(TEAMS):
            boss = User(username=f"sup{t}", display_name=f"主管{t}", role=Role.SUPERVISOR)
            session.add(boss)
            session.flush()
            team = Team(name=f"团队{t}", department_id=dept.id, supervisor_id=boss.id)
            session.add(team)
            session.flush()
            boss.team_id = team.id
            reps += [User(username=f"rep{t}_{r}", display_name=f"销售{t}-{r}", role=Role.REP, team_id=team.id)
                     for r in range(REPS)]
        session.add_all(reps)
        session.add(User(username="ops", display_name="运营", role=Role.OPS))
        session.flush()
        return [r.id for r in reps]


def _naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None)


def _rows(reps: list[int]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The deals (with ids 1..N) and their activities."""
    rng = random.Random(16)
    deals: list[tuple[Any, ...]] = []
    acts: list[tuple[Any, ...]] = []
    for i in range(1, DEALS + 1):
        entered = NOW - timedelta(days=rng.uniform(0, 200))
        created = entered - timedelta(days=rng.uniform(0, 30))
        owner = rng.choice(reps)
        deals.append((i, "crm", f"D{i}", f"商机 {i}", owner, rng.choice(STAGES), 50000, 0, _naive(created),
                      _naive(entered)))
        stale = rng.random() < 0.01
        last = NOW - timedelta(days=rng.uniform(20, 60) if stale else rng.uniform(0, 4))
        acts.append(("call", "outbound", "telephony", f"a{i}", owner, i, _naive(last), 120, True, None, 0))
        if rng.random() < 0.003:
            for k, kind in enumerate(("call", "email", "message")):
                acts.append((kind, "outbound", "telephony", f"q{i}-{k}", owner, i,
                             _naive(last + timedelta(hours=k + 1)), 0, False, False, 0))
    return deals, acts


def _copy(engine: Engine, deals: list[tuple[Any, ...]], acts: list[tuple[Any, ...]]) -> None:
    raw: Any = engine.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy("COPY opportunities (id, source, external_id, name, owner_id, stage, amount, discount_pct, "
                      "created_at, stage_changed_at) FROM STDIN") as copy:
            for row in deals:
                copy.write_row(row)
        with cur.copy("COPY activities (type, direction, source_system, external_id, rep_id, opportunity_id, "
                      "occurred_at, duration_seconds, answered, replied, attachment_count) FROM STDIN") as copy:
            for row in acts:
                copy.write_row(row)
        cur.execute("SELECT setval('opportunities_id_seq', (SELECT max(id) FROM opportunities))")
        raw.commit()
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


def _timed(engine: Engine, work: Any, *, write: bool = False, at: datetime = NOW) -> tuple[Any, float]:
    from evenhand.db import session_scope
    from evenhand.kit.clock import frozen

    with frozen(at), session_scope(engine, readonly=not write) as session:
        began = time.perf_counter()
        result = work(session)
        return result, round(time.perf_counter() - began, 3)


def _baseline(engine: Engine) -> dict[str, float]:
    count = text("SELECT count(*) FROM opportunities WHERE stage IN "
                 "('qualification', 'needs_analysis', 'proposal', 'negotiation')")
    grouped = text("SELECT count(*) FROM (SELECT opportunity_id, max(occurred_at) FROM activities "
                   "GROUP BY opportunity_id) t")
    _, counted = _timed(engine, lambda s: s.execute(count).scalar())
    _, aggregated = _timed(engine, lambda s: s.execute(grouped).scalar())
    return {"count_open_deals_seconds": counted, "group_activities_per_deal_seconds": aggregated}


def _narrowing(engine: Engine, at: datetime) -> tuple[int, float]:
    from evenhand.alerts import repository, service
    from evenhand.standards import service as standards

    def work(session: Any) -> int:
        rules = service.RULES.compiled(service.active(session).body)
        band, version = service.deadline_band(session), standards.active(session).version
        repository.roomy(session)
        return len(set().union(*repository.candidates(session, "opportunity", rules.of("opportunity"), at, band,
                                                      version).values()))

    found, seconds = _timed(engine, work)
    return int(found), seconds


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _scans(engine: Engine, minutes: tuple[int, ...], *, full: bool, touched: int = 0
           ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Scans at these minutes after the first, as the worker runs them; before each incremental one, ``touched``
    deals get an answered call through the one door activities come in by (not timed)."""
    from evenhand.alerts import service

    timings: list[dict[str, Any]] = []
    result: dict[str, Any] = {}
    for minute in minutes:
        at = NOW + timedelta(minutes=minute)
        if touched:
            _touch(engine, at, touched, minute)
        result, seconds = _timed(engine, lambda s, at=at: service.scan(s, now=at, full=full).as_dict(), write=True,
                                 at=at)
        timings.append({"seconds": seconds, "load": _load(), "candidates": result["candidates"].get("opportunity"),
                        "marked": result["marked"], "full": result["full"]})
    return timings, result


def _touch(engine: Engine, at: datetime, count: int, minute: int) -> None:
    """``count`` deals, drawn under a seed, each get an answered call a few minutes before ``at``, captured through
    ``activities.service.capture_many`` (its hook marks and judges them as the worker's capture would)."""
    from evenhand.activities import service as activities
    from evenhand.activities.schemas import ActivityCreate
    from evenhand.db import session_scope
    from evenhand.kit.clock import frozen

    rng = random.Random(minute)
    rows = [ActivityCreate.model_validate({
        "source_system": "telephony", "direction": "outbound", "type": "call", "answered": True,
        "external_id": f"t{minute}-{deal}", "rep": "rep0_0", "opportunity": f"D{deal}",
        "occurred_at": (at - timedelta(minutes=rng.uniform(0, 5))).isoformat()})
        for deal in rng.sample(range(1, DEALS + 1), count)]
    with frozen(at), session_scope(engine) as session:
        activities.capture_many(session, rows)


def _full_check(engine: Engine, at: datetime) -> dict[str, int]:
    """A full scan at the moment of the last incremental one, rolled back: what it would open, resolve and bring
    back (nothing, if the incremental scans decided as it does)."""
    from sqlalchemy.orm import Session

    from evenhand.alerts import service
    from evenhand.kit.clock import frozen

    with frozen(at), Session(engine) as session:
        found = service.scan(session, now=at, full=True)
        session.rollback()
    return {"opened": found.opened, "resolved": found.resolved, "woke": found.woke}


@contextmanager
def _busy(count: int) -> Iterator[None]:
    """``count`` processes spinning on the CPU while the steady scans run: a machine as busy as it is on a bad day."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        if spinners:
            time.sleep(60)  # the load average is a minute's
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def _median(timings: list[dict[str, Any]]) -> float:
    return sorted(t["seconds"] for t in timings)[len(timings) // 2]


def run() -> dict[str, Any]:
    import evenhand.alerts.tasks  # noqa: F401 - the capture hook and the marks, as the worker runs them
    from evenhand.alerts import service
    from evenhand.db import make_engine
    from evenhand.migrate import upgrade

    url = _database()
    engine = make_engine(url)
    try:
        upgrade(engine)
        reps = _people(engine)
        started = time.perf_counter()
        _copy(engine, *_rows(reps))
        setup = round(time.perf_counter() - started, 1)
        _timed(engine, lambda s: service.active(s), write=True)  # installs the shipped rules, as a first read does
        baseline = {**_baseline(engine), "load": _load()}
        first, first_seconds = _timed(engine, lambda s: service.scan(s, now=NOW).as_dict(), write=True)
        first_load = _load()
        with _busy(BUSY):
            full, _ = _scans(engine, (5, 10, 15), full=True)
            quiet, _ = _scans(engine, (20, 25, 30), full=False)
            busy, again = _scans(engine, (35, 40, 45), full=False, touched=DEALS // 200)
        check = _full_check(engine, NOW + timedelta(minutes=45))
        after = {**_baseline(engine), "load": _load()}
        candidates, narrowed = _narrowing(engine, NOW + timedelta(minutes=50))
        return {"deals": DEALS, "busy_processes": BUSY, "setup_seconds": setup, "baseline": baseline,
                "baseline_after": after,
                "first_scan_seconds": first_seconds, "first_scan_load": first_load, "first_scan": first,
                "steady_full_scans": full, "steady_full_scan_seconds": _median(full),
                "incremental_untouched_scans": quiet, "incremental_untouched_scan_seconds": _median(quiet),
                "incremental_scans": busy, "incremental_scan_seconds": _median(busy), "incremental_scan": again,
                "full_scan_after_the_last_incremental": check, "touched_per_scan": DEALS // 200,
                "full_narrowing_seconds": narrowed, "full_narrowed_to": candidates,
                "incremental_over_group_by": round(_median(busy) / max(
                    baseline["group_activities_per_deal_seconds"], 1e-6), 2)}
    finally:
        engine.dispose()


if __name__ == "__main__":
    import json

    print(json.dumps(run(), ensure_ascii=False, indent=2))
