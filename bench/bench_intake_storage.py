"""What storing a routed lead costs SQLite alone, beside the whole routed intake of the same lead, in process, in the
same run: the floor under the writer's work that no change to the Python above it can go below.

The organisation is bench/routed_org.py's (120 online reps in 15 teams, 20,000 leads of history, the shipped
default policy), built once and copied three times. Each lead is taken in through ``intake.flows.take_in`` in a
transaction of its own, as ``POST /api/v1/leads`` does for a group of one:

1. on the first copy, recording every statement the lead's transaction sends to the driver, with its parameters as
   the driver gets them (SQLAlchemy's cursor events, which the hot path's ``kit.cursor.Prepared`` statements go
   through while something listens, ``BEGIN IMMEDIATE`` among them);
2. then, lead after lead, taken in again on the second copy (nothing listening: the server's path) and its recorded
   statements replayed on the third copy straight on the driver (``sqlite3``: WAL, ``synchronous=FULL``, foreign
   keys on, as the app's connections are), followed by ``COMMIT``. The three copies start equal and the leads come in
   the same order, so the replay writes what the routed intake wrote; the two alternate, so both meet the same
   machine.

The replay's time is SQLite's share of a routed lead: the statements (their b-trees, indexes, triggers and foreign
keys) and the durable commit. The rest of the routed intake's time is the Python above them: reading and deciding,
the evidence and the audit chain, the message, SQLAlchemy and the ORM.

    .venv/bin/python bench/bench_intake_storage.py
"""

from __future__ import annotations

import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).parent))

from routed_org import build, lead_payload, take_one
from sqlalchemy import Engine, event

import evenhand
import evenhand.alerts.tasks  # the alert marks every lead leaves, registered as in the server
from evenhand.db import make_engine
from evenhand.leads.schemas import LeadCreate

WARM = 100
TIMED = 1000


class Sent(NamedTuple):
    """One statement as the driver got it."""

    sql: str
    parameters: Any
    many: bool


def _recorded(engine: Engine, leads: Sequence[LeadCreate]) -> list[list[Sent]]:
    """Each lead's statements, in the order its transaction sent them."""
    sent: list[Sent] = []

    def heard(_conn: Any, _cursor: Any, sql: str, parameters: Any, _context: Any, many: bool) -> None:
        sent.append(Sent(sql, parameters, many))

    event.listen(engine, "before_cursor_execute", heard)
    per_lead = []
    try:
        for lead in leads:
            take_one(engine, lead)
            per_lead.append(sent[:])
            sent.clear()
    finally:
        event.remove(engine, "before_cursor_execute", heard)
    return per_lead


def _driver(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=30000"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def _replay(conn: sqlite3.Connection, statements: Sequence[Sent]) -> None:
    cursor = conn.cursor()
    for one in statements:
        if one.many:
            cursor.executemany(one.sql, one.parameters)
        else:
            cursor.execute(one.sql, one.parameters)
            cursor.fetchall()
    cursor.close()
    assert conn.in_transaction, "the lead's statements began no transaction"
    conn.commit()


def run() -> dict[str, Any]:
    leads = [LeadCreate.model_validate(lead_payload(n)) for n in range(1, WARM + TIMED + 1)]
    with tempfile.TemporaryDirectory() as tmp:
        built = Path(tmp) / "org.sqlite"
        build(f"sqlite:///{built}").dispose()
        copies = {name: Path(tmp) / f"{name}.sqlite" for name in ("recorded", "routed", "replayed")}
        for path in copies.values():
            shutil.copy(built, path)
        recording = make_engine(f"sqlite:///{copies['recorded']}")
        routing = make_engine(f"sqlite:///{copies['routed']}")
        replaying = _driver(copies["replayed"])
        try:
            statements = _recorded(recording, leads)
            routed: list[tuple[float, float]] = []
            stored: list[tuple[float, float]] = []
            for n, (lead, sent) in enumerate(zip(leads, statements, strict=True)):
                # Alternating which goes first, so neither always follows the other's work.
                turns = ((routed, partial(take_one, routing, lead)), (stored, partial(_replay, replaying, sent)))
                for measured, work in turns[::1 if n % 2 else -1]:
                    began, used = time.perf_counter(), time.thread_time()
                    work()
                    if n >= WARM:
                        measured.append(((time.perf_counter() - began) * 1000, (time.thread_time() - used) * 1000))
            same = [conn.execute("SELECT count(*), max(id), (SELECT count(*) FROM audit_log), "
                                 "(SELECT count(*) FROM notifications) FROM leads").fetchone()
                    for conn in (sqlite3.connect(copies["routed"]), sqlite3.connect(copies["replayed"]))]
        finally:
            recording.dispose()
            routing.dispose()
            replaying.close()
    assert same[0] == same[1], f"the replay did not store what routing stored: {same}"
    routed_p50, stored_p50 = (statistics.median(w for w, _ in times) for times in (routed, stored))
    return {
        "statements_per_lead": statistics.median(len(s) for s in statements[WARM:]),
        "routed_p50_ms": round(routed_p50, 3), "routed_cpu_p50_ms": round(statistics.median(c for _, c in routed), 3),
        "storage_p50_ms": round(stored_p50, 3), "storage_cpu_p50_ms": round(statistics.median(c for _, c in stored), 3),
        "storage_share_of_routed_p50": round(stored_p50 / routed_p50, 3),
        "above_storage_p50_ms": round(routed_p50 - stored_p50, 3),
        "leads_timed": TIMED, "rows_after": list(same[0]), "package": str(Path(evenhand.__file__).parent)}


if __name__ == "__main__":
    print(run())
