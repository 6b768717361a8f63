"""`evenhand import activities` on SQLite: 1,000,000 activity rows of a company with ~100 reps, ~100,000 leads and
10,000 deals, streamed from a CSV through its mapping, matched and written; against a plain ``executemany`` of the
same rows (already matched, so only the writing) into the same tables of an identical database, in the same run.

Each side runs in a child process of its own, so its peak RSS (``ru_maxrss``) is its own; both start from a copy of
the same seeded file. The rows: 40 % name their lead by CRM id, 25 % by phone (written "+86 138 0000 0000" against
a stored "13800000000"), 20 % by e-mail (in capitals), 10 % a deal; 3 % name an unknown rep and 2 % an unknown lead
(they wait in the reconciliation list). A second import of the same file (nothing changes) is timed too.

    .venv/bin/python bench/bench_activities_import.py --rows 100000    # alone, quick
    make bench                                                          # with the others, 1,000,000 rows

EVENHAND_BENCH_ACTIVITIES changes the default row count."""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

N = int(os.environ.get("EVENHAND_BENCH_ACTIVITIES", "1000000"))
REPS, LEADS, DEALS = 100, 100_000, 10_000
CHUNK = 2000
HEADER = ["Id", "Agent", "Lead", "Deal", "Email", "Phone", "Type", "Direction", "Date", "Duration", "Subject"]
MAPPING = """\
fields:
  source_system: {value: telephony}
  external_id: Id
  rep: Agent
  lead: Lead
  opportunity: Deal
  email: Email
  phone: Phone
  type: {column: Type, map: {Call: call, Email: email, Meeting: meeting}}
  direction: {column: Direction, case: lower}
  occurred_at: Date
  duration: Duration
  subject: Subject
timezone: Asia/Shanghai
"""
START = datetime(2024, 1, 1, tzinfo=UTC)
SHANGHAI = timedelta(hours=8)  # the export writes local times without a zone; the mapping names the zone
STORED = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a time on SQLite
TYPES = (("Call", "call"), ("Email", "email"), ("Meeting", "meeting"))


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
        for lo in range(1, LEADS + 1, 20_000):
            conn.execute(insert(Lead), [{
                "id": i, "source": ("salesforce", "website", "trade_show")[i % 3], "external_id": f"00Q{i:07d}",
                "company": f"公司{i}", "owner_id": 1 + i % REPS, "email": f"buyer{i}@corp{i % 97}.cn",
                "email_key": f"buyer{i}@corp{i % 97}.cn", "phone": _phone(i), "phone_key": _phone(i),
                "created_at": START - timedelta(minutes=i)} for i in range(lo, min(lo + 20_000, LEADS + 1))])
        conn.execute(insert(Opportunity), [{"id": d, "source": "salesforce", "external_id": f"006{d:07d}",
                                            "name": f"Deal {d}", "lead_id": d * 7, "owner_id": 1 + d % REPS,
                                            "created_at": START} for d in range(1, DEALS + 1)])
    engine.dispose()


def _row(i: int) -> tuple[list[str], dict[str, Any]]:
    """Row ``i`` as the export has it, and as matched: where it goes (``activities`` or ``waiting``) and its ids."""
    rep = 1 + i % REPS
    lead = 1 + (i * 7919) % LEADS
    kind, when = i % 100, START + timedelta(seconds=37 * i)
    cells = {"Id": f"T{i:08d}", "Agent": f"A{rep:03d}", "Lead": "", "Deal": "", "Email": "", "Phone": ""}
    matched: dict[str, Any] = {"rep_id": rep, "lead_id": lead, "opportunity_id": None}
    if kind < 40:
        cells["Lead"] = f"00Q{lead:07d}"
    elif kind < 65:
        digits = _phone(lead)
        cells["Phone"] = f"+86 {digits[:3]} {digits[3:7]} {digits[7:]}"
    elif kind < 85:
        cells["Email"] = f"BUYER{lead}@CORP{lead % 97}.CN"
    elif kind < 95:
        deal = 1 + i % DEALS
        cells["Deal"], matched["opportunity_id"], matched["lead_id"] = f"006{deal:07d}", deal, deal * 7
    elif kind < 98:
        cells["Agent"], cells["Lead"], matched["rep_id"] = "A999", f"00Q{lead:07d}", None
    else:
        cells["Lead"], matched["lead_id"] = f"00Q{LEADS + lead:07d}", None
    label, kind_value = TYPES[i % 3]
    seconds = (i * 13) % 1800
    cells |= {"Type": label, "Direction": "Outbound" if i % 4 else "Inbound",
              "Date": (when + SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"),
              "Duration": f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}", "Subject": f"跟进 {i}"}
    matched |= {"external_id": cells["Id"], "type": kind_value, "direction": cells["Direction"].lower(),
                "occurred_at": when.strftime(STORED), "duration_seconds": seconds,
                "subject": cells["Subject"]}
    return [cells[h] for h in HEADER], matched


def _write_csv(path: Path, n: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(HEADER)
        for i in range(n):
            out.writerow(_row(i)[0])


def _chunks(n: int) -> Iterator[list[dict[str, Any]]]:
    for lo in range(0, n, CHUNK):
        yield [_row(i)[1] for i in range(lo, min(lo + CHUNK, n))]


def _rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _import(url: str, csv_path: Path) -> dict[str, Any]:
    from zoneinfo import ZoneInfo

    from evenhand.activities import importer
    from evenhand.db import make_engine, session_scope

    engine = make_engine(url)
    before = _rss_mb()
    started = time.perf_counter()
    with session_scope(engine) as session:
        report = importer.import_file(session, csv_path, MAPPING, zone=ZoneInfo("Asia/Shanghai"), skip_invalid=False,
                                      rejects_to=csv_path.with_suffix(".rejected.csv"))
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"seconds": seconds, "rss_before_mb": before, "peak_rss_mb": _rss_mb(), "rows": report.rows,
            **report.tally.as_dict()}


_ACTIVITY = ("INSERT INTO activities (type, direction, source_system, external_id, rep_id, lead_id, opportunity_id, "
             "occurred_at, duration_seconds, answered, replied, attachment_count, subject, recording_ref) "
             "VALUES (?, ?, 'telephony', ?, ?, ?, ?, ?, ?, NULL, NULL, 0, ?, NULL)")
_WAITING = ("INSERT INTO unmatched_activities (source_system, external_id, occurred_at, reason, fields, received_at) "
            "VALUES ('telephony', ?, ?, ?, ?, ?)")


def _plain(url: str, n: int) -> dict[str, Any]:
    """The same rows, already matched and as tuples, written with the driver's ``executemany`` in one transaction:
    only the ``executemany`` calls and the commit are timed (making the tuples is not)."""
    from evenhand.db import make_engine

    engine = make_engine(url)
    raw = engine.raw_connection()  # the app's own connection settings (WAL, synchronous=FULL, foreign keys)
    before = _rss_mb()
    cursor = raw.cursor()
    cursor.execute("BEGIN IMMEDIATE")  # the app's connections run in autocommit and begin explicitly
    now, seconds = datetime.now(UTC).strftime(STORED), 0.0
    for chunk in _chunks(n):
        matched, waiting = [], []
        for r in chunk:
            if r["rep_id"] is not None and (r["lead_id"] or r["opportunity_id"]):
                matched.append((r["type"], r["direction"], r["external_id"], r["rep_id"], r["lead_id"],
                                r["opportunity_id"], r["occurred_at"], r["duration_seconds"], r["subject"]))
            else:
                waiting.append((r["external_id"], r["occurred_at"], "no_rep" if r["rep_id"] is None else "no_link",
                                json.dumps(r, ensure_ascii=False), now))
        started = time.perf_counter()
        cursor.executemany(_ACTIVITY, matched)
        cursor.executemany(_WAITING, waiting)
        seconds += time.perf_counter() - started
    started = time.perf_counter()
    raw.commit()
    seconds += time.perf_counter() - started
    raw.close()
    engine.dispose()
    return {"seconds": seconds, "rss_before_mb": before, "peak_rss_mb": _rss_mb()}


def _child(phase: str, db: Path, csv_path: Path, n: int) -> dict[str, Any]:
    args = [sys.executable, __file__, "--phase", phase, "--db", str(db), "--csv", str(csv_path), "--rows", str(n)]
    done = subprocess.run(args, check=True, capture_output=True, text=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def run(n: int = N) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        base, data = Path(tmp) / "seeded.sqlite", Path(tmp) / "activities.csv"
        started = time.perf_counter()
        _seed(f"sqlite:///{base}")
        _write_csv(data, n)
        setup = time.perf_counter() - started
        csv_mb = round(data.stat().st_size / 2**20, 1)
        copies = {name: Path(tmp) / f"{name}.sqlite" for name in ("import", "plain")}
        for copy in copies.values():
            shutil.copy(base, copy)
        imported = _child("import", copies["import"], data, n)
        again = _child("import", copies["import"], data, n)
        plain = _child("plain", copies["plain"], data, n)
    return {
        "rows": n, "reps": REPS, "leads": LEADS, "deals": DEALS, "setup_s": round(setup, 1),
        "csv_mb": csv_mb, "import_s": round(imported["seconds"], 2),
        "import_rows_per_s": round(n / imported["seconds"]),
        "import_peak_rss_mb": imported["peak_rss_mb"], "import_rss_before_mb": imported["rss_before_mb"],
        "created": imported["created"], "waiting": imported["waiting"],
        "reimport_s": round(again["seconds"], 2), "reimport_rows_per_s": round(n / again["seconds"]),
        "reimport_unchanged": again["unchanged"],
        "plain_executemany_s": round(plain["seconds"], 2), "plain_rows_per_s": round(n / plain["seconds"]),
        "plain_peak_rss_mb": plain["peak_rss_mb"], "plain_rss_before_mb": plain["rss_before_mb"],
        "import_vs_plain": round(plain["seconds"] / imported["seconds"], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=N)
    parser.add_argument("--phase", choices=("import", "plain"))
    parser.add_argument("--db", type=Path)
    parser.add_argument("--csv", type=Path)
    args = parser.parse_args()
    if args.phase == "import":
        print(json.dumps(_import(f"sqlite:///{args.db}", args.csv)))
    elif args.phase == "plain":
        print(json.dumps(_plain(f"sqlite:///{args.db}", args.rows)))
    else:
        print(json.dumps({"bench": "activities_import", **run(args.rows)}, ensure_ascii=False))


if __name__ == "__main__":
    main()
