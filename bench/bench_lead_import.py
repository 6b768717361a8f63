"""Importing a company's lead export on SQLite: 100,000 rows of history (``evenhand import leads --history``:
mapped, validated, the rep found, dedup-linked, behaviour counts stored as events, scored as on arrival,
audited) against a plain ``executemany`` of the same rows into the same ``leads`` table, in the same run.

Each side runs in a child process of its own, so its peak memory (``ru_maxrss``) is its own. Run alone with
``python bench/bench_lead_import.py [ROWS]``; ``make bench`` runs it with 100,000 rows.
"""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROWS = 100_000
REPS = 50
HEADER = ["Prospect ID", "Company", "Lead Source", "Industry", "Employees", "Email", "Phone", "Converted",
          "TotalVisits", "Total Time Spent on Website", "Created On", "Lead Owner Email"]
MAPPING = """
fields:
  external_id: Prospect ID
  company: Company
  source: {column: Lead Source, case: lower}
  industry: Industry
  company_size: Employees
  email: Email
  phone: Phone
  outcome: {column: Converted, map: {"1": converted, "0": open}}
  page_views: TotalVisits
  dwell_seconds: Total Time Spent on Website
  created_at: Created On
  owner: Lead Owner Email
timezone: Asia/Shanghai
"""


def write_export(path: Path, rows: int) -> None:
    rng = random.Random(7)
    sources = ["Google", "Direct Traffic", "Olark Chat", "Organic Search", "Reference", "Welingak Website"]
    industries = ["制造业", "金融", "零售", "互联网", "物流", "Finance", "Retail"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(HEADER)
        for i in range(rows):
            day = 1 + i * 700 // rows
            out.writerow([f"P-{i:07d}", f"Company {i % (rows // 3 + 1)}", rng.choice(sources), rng.choice(industries),
                          rng.choice(["", "12", "250", "1800"]), f"buyer{i}@example{i % 997}.com",
                          f"+86 139 {i % 10_000:04d} {i // 10_000 % 10_000:04d}", rng.choice("0001"),
                          rng.choice(["0", "1", "2", "3", "5", "8"]), str(rng.randrange(0, 2400)),
                          f"2024-{1 + (day // 31) % 12:02d}-{1 + day % 28:02d} {rng.randrange(8, 20):02d}:15",
                          f"rep{i % REPS}@acme.cn"])


def _database(tmp: Path) -> str:
    from evenhand.db import make_engine, session_scope
    from evenhand.migrate import upgrade
    from evenhand.models import Role, User

    url = f"sqlite:///{tmp / 'bench.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    with session_scope(engine) as session:
        session.add_all(User(username=f"rep{i}", display_name=f"Rep {i}", email=f"rep{i}@acme.cn", role=Role.REP)
                        for i in range(REPS))
    engine.dispose()
    return url


def child_import(tmp: Path) -> dict[str, float]:
    import time

    from evenhand.db import make_engine, session_scope
    from evenhand.intake import flows

    engine = make_engine(_database(tmp))
    started = time.perf_counter()
    with session_scope(engine) as session:
        done = flows.take_in_file(session, tmp / "leads.csv", MAPPING, actor=None, dedup=["email", "phone"],
                                  skip_invalid=False, backfilled=True)
    seconds = time.perf_counter() - started
    assert done.created == done.rows, done
    return {"rows": done.rows, "seconds": seconds}


def child_executemany(tmp: Path) -> dict[str, float]:
    """The floor: the same rows read with the csv module and inserted as they are, columns as the import fills."""
    import time
    from datetime import datetime

    from sqlalchemy import insert

    from evenhand.db import make_engine, session_scope
    from evenhand.models import Lead

    engine = make_engine(_database(tmp))
    started = time.perf_counter()
    with (tmp / "leads.csv").open(encoding="utf-8", newline="") as handle:
        rows = [{"source": r["Lead Source"].lower(), "external_id": r["Prospect ID"], "company": r["Company"],
                 "industry": r["Industry"], "company_size": int(r["Employees"]) if r["Employees"] else None,
                 "email": r["Email"], "phone": r["Phone"], "status": "converted" if r["Converted"] == "1" else "new",
                 "page_views": int(r["TotalVisits"]), "dwell_seconds": int(r["Total Time Spent on Website"]),
                 "created_at": datetime.fromisoformat(r["Created On"]), "backfilled": True}
                for r in csv.DictReader(handle)]
    with session_scope(engine) as session:
        session.execute(insert(Lead), rows)
    seconds = time.perf_counter() - started
    return {"rows": len(rows), "seconds": seconds}


def _child(kind: str, tmp: Path) -> dict[str, float]:
    """Run one side in a fresh interpreter and read back its figures with its peak memory."""
    here = str(Path(__file__).parent)
    code = (f"import json, resource, sys; sys.path.insert(0, {here!r}); import bench_lead_import as b; "
            f"from pathlib import Path; out = b.child_{kind}(Path({str(tmp)!r})); "
            "out['peak_mib'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024; print(json.dumps(out))")
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def run(rows: int = ROWS) -> dict[str, float]:
    results = {}
    with tempfile.TemporaryDirectory() as root:
        for kind in ("executemany", "import"):
            tmp = Path(root) / kind
            tmp.mkdir()
            write_export(tmp / "leads.csv", rows)
            results[kind] = _child(kind, tmp)
    imported, floor = results["import"], results["executemany"]
    return {"rows": rows, "import_rows_per_s": round(rows / imported["seconds"]),
            "import_peak_mib": round(imported["peak_mib"]),
            "executemany_rows_per_s": round(rows / floor["seconds"]), "executemany_peak_mib": round(floor["peak_mib"]),
            "import_vs_executemany": round(floor["seconds"] / imported["seconds"], 3)}


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else ROWS)))
