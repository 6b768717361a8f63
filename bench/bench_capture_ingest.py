"""Bulk ingest through the one door, ``activities.service.capture_many``, on SQLite: N already-validated activities
(calls, e-mails, chat conversations, meetings, visits, CRM notes from every source system) of a company with 60 reps,
3,000 leads and 1,000 deals, in batches of ``service.BATCH``, one transaction per batch; against a plain
``executemany`` of the same final rows (read back from the ingested database) into the same tables of an identical
database, one transaction per batch too, in the same run.

Rows name their lead by CRM id (40 %), phone written "+86 139 0000 0000" (25 %), e-mail in capitals (20 %) or a deal
(10 %); 3 % name an unknown rep and 2 % an unknown lead: they park in the reconciliation list. Building the
``ActivityCreate`` rows is not timed (validation is the callers' work: the API, an import, a connector). The same
rows sent again (nothing changes) are timed too.

    .venv/bin/python bench/bench_capture_ingest.py --rows 50000    # alone, quick
    .venv/bin/python bench/run.py capture_ingest                  # 200,000 rows, written to bench/results

EVENHAND_BENCH_CAPTURE changes the default row count."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

N = int(os.environ.get("EVENHAND_BENCH_CAPTURE", "200000"))
REPS, LEADS, DEALS = 60, 3_000, 1_000
START = datetime(2024, 1, 1, tzinfo=UTC)
KINDS = (  # type, source system, direction
    ("call", "telephony", "outbound"), ("email", "outlook", "outbound"), ("message", "wecom", "inbound"),
    ("message", "dingtalk", "outbound"), ("meeting", "outlook", "internal"), ("visit", "crm", "outbound"),
    ("note", "crm", "internal"), ("call", "wecom", "inbound"))
ACTIVITY_COLUMNS = ("type", "direction", "source_system", "external_id", "rep_id", "lead_id", "opportunity_id",
                    "occurred_at", "duration_seconds", "answered", "replied", "attachment_count", "subject",
                    "recording_ref", "message_count", "body", "declared_type")
WAITING_COLUMNS = ("source_system", "external_id", "occurred_at", "reason", "fields", "received_at", "resolved_at",
                   "activity_id")


def _phone(i: int) -> str:
    return f"139{i:08d}"


def _seed(url: str) -> None:
    """Reps, leads and deals inserted directly (Core executemany): setup, not measured."""
    from sqlalchemy import insert

    from evenhand.db import make_engine
    from evenhand.migrate import upgrade
    from evenhand.models import Lead, Opportunity, User

    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(insert(User), [{"id": r, "username": f"rep{r}", "display_name": f"销售{r}", "role": "rep",
                                     "external_id": f"A{r:03d}", "email": f"rep{r}@acme.cn"}
                                    for r in range(1, REPS + 1)])
        conn.execute(insert(Lead), [{
            "id": i, "source": ("salesforce", "website")[i % 2], "external_id": f"00Q{i:07d}", "company": f"公司{i}",
            "owner_id": 1 + i % REPS, "email": f"buyer{i}@corp{i % 97}.cn", "email_key": f"buyer{i}@corp{i % 97}.cn",
            "phone": _phone(i), "phone_key": _phone(i), "created_at": START - timedelta(minutes=i)}
            for i in range(1, LEADS + 1)])
        conn.execute(insert(Opportunity), [{"id": d, "source": "salesforce", "external_id": f"006{d:07d}",
                                            "name": f"Deal {d}", "lead_id": d * 3, "owner_id": 1 + d % REPS,
                                            "created_at": START} for d in range(1, DEALS + 1)])
    engine.dispose()


def _fields(i: int) -> dict[str, Any]:
    """Row ``i`` as a source system states it."""
    kind, source, direction = KINDS[i % len(KINDS)]
    lead, share = 1 + (i * 7919) % LEADS, i % 100
    row: dict[str, Any] = {"source_system": source, "external_id": f"E{i:09d}", "type": kind, "direction": direction,
                           "occurred_at": START + timedelta(seconds=41 * i), "rep": f"A{1 + i % REPS:03d}",
                           "subject": f"跟进 {i}"}
    if share < 40:
        row["lead"] = f"00Q{lead:07d}"
    elif share < 65:
        digits = _phone(lead)
        row["phone"] = f"+86 {digits[:3]} {digits[3:7]} {digits[7:]}"
    elif share < 85:
        row["email"] = f"BUYER{lead}@CORP{lead % 97}.CN"
    elif share < 95:
        row["opportunity"] = f"006{1 + i % DEALS:07d}"
    elif share < 98:
        row["rep"], row["lead"] = "A999", f"00Q{lead:07d}"
    else:
        row["lead"] = f"00Q{LEADS + lead:07d}"
    return row | _details(kind, i)


def _details(kind: str, i: int) -> dict[str, Any]:
    if kind == "call":
        return {"duration_seconds": (i * 13) % 1800, "answered": i % 5 != 0, "recording_ref": f"rec/{i}.mp3"}
    if kind == "email":
        return {"attachment_count": i % 3, "replied": i % 4 == 0}
    if kind == "message":
        return {"message_count": 1 + i % 40}
    if kind == "note":
        return {"body": f"电话沟通了报价 {i}。\n客户下周回复。", "declared_type": ("call", "visit", "meeting")[i % 3]}
    return {"duration_seconds": 3600}


def _batches(n: int, size: int) -> Iterator[list[Any]]:
    from evenhand.activities.schemas import ActivityCreate

    for lo in range(0, n, size):
        yield [ActivityCreate.model_validate(_fields(i)) for i in range(lo, min(lo + size, n))]


def _ingest(url: str, n: int, size: int) -> dict[str, Any]:
    return _ingest_batches(url, _batches(n, size))


def _ingest_batches(url: str, batches: Iterable[list[Any]]) -> dict[str, Any]:
    """Every batch through ``capture_many`` in a transaction of its own; only that and the commit are timed."""
    from evenhand.activities import service
    from evenhand.db import make_engine, session_scope

    engine = make_engine(url)
    tally, seconds = service.Tally(), 0.0
    for rows in batches:
        started = time.perf_counter()
        with session_scope(engine) as session:
            service.capture_many(session, rows, tally=tally)
        seconds += time.perf_counter() - started
    engine.dispose()
    return {"seconds": seconds, **tally.as_dict()}


def _final_rows(url: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """What the door stored, as the driver gives it back: the baseline writes exactly these."""
    from evenhand.db import make_engine

    engine = make_engine(url)
    raw = engine.raw_connection()
    cursor = raw.cursor()
    acts = cursor.execute(f"SELECT {', '.join(ACTIVITY_COLUMNS)} FROM activities ORDER BY id").fetchall()
    waits = cursor.execute(f"SELECT {', '.join(WAITING_COLUMNS)} FROM unmatched_activities ORDER BY id").fetchall()
    raw.close()
    engine.dispose()
    return acts, waits


def _plain(url: str, acts: list[tuple[Any, ...]], waits: list[tuple[Any, ...]], size: int) -> float:
    """The same final rows with the driver's ``executemany``, a transaction per batch of ``size`` input rows (the
    app's connection settings: WAL, synchronous=FULL, foreign keys)."""
    from evenhand.db import make_engine

    engine = make_engine(url)
    raw = engine.raw_connection()
    cursor = raw.cursor()
    insert_act = (f"INSERT INTO activities ({', '.join(ACTIVITY_COLUMNS)}) "
                  f"VALUES ({', '.join('?' * len(ACTIVITY_COLUMNS))})")
    insert_wait = (f"INSERT INTO unmatched_activities ({', '.join(WAITING_COLUMNS)}) "
                   f"VALUES ({', '.join('?' * len(WAITING_COLUMNS))})")
    share = len(waits) / max(1, len(acts) + len(waits))
    act_step, wait_step = max(1, round(size * (1 - share))), max(1, round(size * share))
    started = time.perf_counter()
    for a, w in zip(range(0, len(acts) + act_step, act_step), range(0, len(waits) + wait_step, wait_step),
                    strict=False):
        cursor.execute("BEGIN IMMEDIATE")  # the app's connections run in autocommit and begin explicitly
        cursor.executemany(insert_act, acts[a:a + act_step])
        cursor.executemany(insert_wait, waits[w:w + wait_step])
        raw.commit()
    seconds = time.perf_counter() - started
    raw.close()
    engine.dispose()
    return seconds


def run(n: int = N) -> dict[str, Any]:
    from evenhand.activities.service import BATCH

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "seeded.sqlite"
        _seed(f"sqlite:///{base}")
        copies = {name: Path(tmp) / f"{name}.sqlite" for name in ("door", "plain")}
        for copy in copies.values():
            shutil.copy(base, copy)
        door = _ingest(f"sqlite:///{copies['door']}", n, BATCH)
        again = _ingest(f"sqlite:///{copies['door']}", n, BATCH)
        acts, waits = _final_rows(f"sqlite:///{copies['door']}")
        plain = _plain(f"sqlite:///{copies['plain']}", acts, waits, BATCH)
    return {
        "rows": n, "batch": BATCH, "reps": REPS, "leads": LEADS, "deals": DEALS,
        "created": door["created"], "waiting": door["waiting"],
        "ingest_s": round(door["seconds"], 2), "ingest_rows_per_s": round(n / door["seconds"]),
        "again_s": round(again["seconds"], 2), "again_rows_per_s": round(n / again["seconds"]),
        "again_unchanged": again["unchanged"],
        "plain_executemany_s": round(plain, 2), "plain_rows_per_s": round(n / plain),
        "ingest_vs_plain": round(plain / door["seconds"], 3)}


def _profile(n: int, target: Path) -> None:
    """cProfile of the first ingest (setup outside), for finding where the door spends its time."""
    import cProfile

    from evenhand.activities.service import BATCH

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'door.sqlite'}"
        _seed(url)
        batches = list(_batches(n, BATCH))
        cProfile.runctx("_ingest_batches(url, batches)", globals(), {"url": url, "batches": batches}, str(target))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=N)
    parser.add_argument("--profile", type=Path, help="write a cProfile of the first ingest here")
    args = parser.parse_args()
    if args.profile:
        _profile(args.rows, args.profile)
        return
    print(json.dumps({"bench": "capture_ingest", **run(args.rows)}, ensure_ascii=False))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    main()
