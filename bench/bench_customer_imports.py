"""`evenhand import payments` on SQLite: N payment rows (回款) of 2,000 accounts with a contract each, streamed from a
CSV through its mapping, each matched to its account's contract and written; then the same file again (nothing
changes); against a plain ``executemany`` of the same rows, already matched, into an identical database in the same
run. The payments name no contract, so each is matched to the contract its account signed last before it came.

    .venv/bin/python bench/bench_customer_imports.py --rows 50000    # alone, quick
    make bench                                                        # with the others, 200,000 rows

EVENHAND_BENCH_PAYMENTS changes the default row count."""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

N = int(os.environ.get("EVENHAND_BENCH_PAYMENTS", "200000"))
ACCOUNTS = 2000
START = datetime(2024, 2, 1, tzinfo=UTC)
SHANGHAI = timedelta(hours=8)
MAPPING = """\
fields:
  account: Account
  amount: Amount
  received_at: Received
timezone: Asia/Shanghai
"""


def _seed(url: str) -> None:
    """Accounts and one contract each, inserted directly: setup, not measured."""
    from sqlalchemy import insert

    from evenhand.db import make_engine
    from evenhand.migrate import upgrade
    from evenhand.models import Account, Contract, User

    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(insert(User), [{"id": 1, "username": "rep1", "display_name": "销售1", "role": "rep"}])
        conn.execute(insert(Account), [{"id": a, "source": "crm", "external_id": f"KH{a:05d}", "name": f"客户{a}",
                                        "owner_id": 1} for a in range(1, ACCOUNTS + 1)])
        conn.execute(insert(Contract), [{"id": a, "account_id": a, "owner_id": 1, "kind": "new", "amount": 1_000_000,
                                         "signed_at": datetime(2024, 1, 1), "starts_on": date(2024, 1, 2),
                                         "ends_on": date(2025, 1, 1)} for a in range(1, ACCOUNTS + 1)])
    engine.dispose()


def _row(i: int) -> tuple[list[str], tuple[Any, ...]]:
    """Row ``i`` as the export has it (local time, no zone), and as stored: contract, amount, UTC time."""
    account, when = 1 + i % ACCOUNTS, START + timedelta(minutes=i)
    amount = f"{100 + i % 997}.50"
    return ([f"KH{account:05d}", amount, (when + SHANGHAI).strftime("%Y-%m-%d %H:%M")],
            (account, amount, when.strftime("%Y-%m-%d %H:%M:%S.%f")))


def _import(url: str, path: Path) -> dict[str, Any]:
    from zoneinfo import ZoneInfo

    from evenhand.db import make_engine, session_scope
    from evenhand.kit.rows import Rejects
    from evenhand.opportunities import customers_import

    engine = make_engine(url)
    started = time.perf_counter()
    with session_scope(engine) as session:
        report = customers_import.import_file(session, customers_import.PAYMENTS, path, MAPPING,
                                              zone=ZoneInfo("Asia/Shanghai"), skip_invalid=False,
                                              rejects=Rejects(header=[]))
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"seconds": seconds, "created": report.created, "unchanged": report.unchanged}


def _plain(url: str, n: int) -> float:
    """The same rows, matched, written with the driver's ``executemany`` in one transaction (only that is timed)."""
    from evenhand.db import make_engine

    engine = make_engine(url)
    raw = engine.raw_connection()  # the app's own connection settings (WAL, synchronous=FULL, foreign keys)
    rows = [_row(i)[1] for i in range(n)]
    cursor = raw.cursor()
    started = time.perf_counter()
    cursor.execute("BEGIN IMMEDIATE")
    cursor.executemany("INSERT INTO payments (contract_id, amount, received_at) VALUES (?, ?, ?)", rows)
    raw.commit()
    seconds = time.perf_counter() - started
    raw.close()
    engine.dispose()
    return seconds


def run(n: int = N) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        base, data = Path(tmp) / "seeded.sqlite", Path(tmp) / "payments.csv"
        _seed(f"sqlite:///{base}")
        with data.open("w", newline="", encoding="utf-8") as handle:
            out = csv.writer(handle)
            out.writerow(["Account", "Amount", "Received"])
            out.writerows(_row(i)[0] for i in range(n))
        plain_db = Path(tmp) / "plain.sqlite"
        shutil.copy(base, plain_db)
        imported = _import(f"sqlite:///{base}", data)
        again = _import(f"sqlite:///{base}", data)
        plain = _plain(f"sqlite:///{plain_db}", n)
    assert imported["created"] == n and again["unchanged"] == n
    return {"rows": n, "accounts": ACCOUNTS, "import_s": round(imported["seconds"], 2),
            "import_rows_per_s": round(n / imported["seconds"]), "reimport_s": round(again["seconds"], 2),
            "reimport_rows_per_s": round(n / again["seconds"]), "plain_executemany_s": round(plain, 2),
            "plain_rows_per_s": round(n / plain), "import_vs_plain": round(plain / imported["seconds"], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=N)
    print(json.dumps({"bench": "customer_imports", **run(parser.parse_args().rows)}, ensure_ascii=False))


if __name__ == "__main__":
    main()
