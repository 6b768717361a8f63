"""A company's own calendar around National Day 2025 (R3.1 on own data): its team sheet, leads and call log imported
from files, and stage standards that list the holidays (1–8 October) and the two make-up working days (调休: Sunday 28
September and Saturday 11 October) on which everyone works. A first contact due within a working day counts those
days: a call on the Monday after the make-up Sunday is late, as is one on the Monday after the make-up Saturday; with
the make-up days left out, both are on time. The monitor counts the same days worked."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import yaml

from evenhand.db import make_engine, session_scope
from evenhand.monitor import service as monitor_service
from evenhand.monitor.series import day_number
from tests.board.test_own_company import MAPPINGS
from tests.files import write_csv
from tests.support import Run

HOLIDAYS = [date(2025, 10, 1) + timedelta(days=n) for n in range(8)]
MAKE_UP = [date(2025, 9, 28), date(2025, 10, 11)]
TEAM = [["Anna Lee", "anna.lee@acme.com", "Cara Losch", "East"], ["Boris Faz", "boris.faz@acme.com", "Cara Losch",
                                                                    "East"]]
# Assigned on import to their owner when created (Shanghai time); each called once.
LEADS = [["L1", "Prospect 1", "2025-09-26 15:00", "anna.lee@acme.com", "+86 138 0000 0001"],  # Friday
         ["L2", "Prospect 2", "2025-09-26 15:00", "boris.faz@acme.com", "+86 138 0000 0002"],  # Friday
         ["L3", "Prospect 3", "2025-09-30 15:00", "anna.lee@acme.com", "+86 138 0000 0003"],  # Tuesday, then holidays
         ["L4", "Prospect 4", "2025-10-10 15:00", "boris.faz@acme.com", "+86 138 0000 0004"]]  # Friday, then make-up
CALLS = [["C1", "anna.lee@acme.com", "+8613800000001", "2025-09-28 10:00", "0:03:00", "Outbound"],  # make-up Sunday
         ["C2", "boris.faz@acme.com", "+8613800000002", "2025-09-29 10:00", "0:03:00", "Outbound"],  # Monday
         ["C3", "anna.lee@acme.com", "+8613800000003", "2025-10-09 10:00", "0:03:00", "Outbound"],  # after the holidays
         ["C4", "boris.faz@acme.com", "+8613800000004", "2025-10-13 10:00", "0:03:00", "Outbound"]]  # Monday


def _standards(folder: Path, *, make_up: bool) -> Path:
    body = {"name": "华东阶段标准", "calendar": {"holidays": [d.isoformat() for d in HOLIDAYS],
                                                "workdays": [d.isoformat() for d in MAKE_UP] if make_up else []},
            "stages": {"first_contact": {"within": "1 working day", "any_of": ["call"]}}}
    path = folder / f"standards-{'made-up' if make_up else 'plain'}.yaml"
    path.write_text(yaml.safe_dump(body, allow_unicode=True), encoding="utf-8")
    return path


def _import(run: Run, folder: Path) -> None:
    for kind, text in MAPPINGS.items():
        (folder / f"{kind}.yaml").write_text(text.replace("timezone: UTC", "timezone: Asia/Shanghai"), "utf-8")
    files = {"team": write_csv(folder / "team.csv", ["sales_agent", "email", "manager", "regional_office"], TEAM),
             "leads": write_csv(folder / "leads.csv", ["id", "company", "created", "owner", "phone"], LEADS),
             "calls": write_csv(folder / "calls.csv", ["id", "agent", "phone", "at", "duration", "direction"], CALLS)}
    assert run("init", "--starter", "neutral").exit_code == 0
    for command, kind, *extra in (("org", "team"), ("leads", "leads", "--history"), ("activities", "calls")):
        done = run("import", command, str(files[kind]), "--mapping", str(folder / f"{kind}.yaml"), *extra)
        assert done.exit_code == 0, done.output


def _first_contacts(run: Run) -> dict[str, int]:
    checked = run("standards", "check", "--since", "2025-09-20", "--until", "2025-10-20", "--json")
    assert checked.exit_code == 0, checked.output
    overall = json.loads(checked.stdout)["overall"]
    return {status: overall[status] for status in ("met", "late", "open", "overdue", "missed") if overall.get(status)}


def test_make_up_working_days_count_in_a_company_from_its_files(run: Run, tmp_path: Path, db_url: str) -> None:
    _import(run, tmp_path)
    assert run("standards", "set", str(_standards(tmp_path, make_up=False)), "--note", "国庆").exit_code == 0
    assert _first_contacts(run) == {"met": 4}
    done = run("standards", "set", str(_standards(tmp_path, make_up=True)), "--note", "国庆调休")
    assert done.exit_code == 0, done.output
    # L2 was due by the end of the make-up Sunday, L4 by the end of the make-up Saturday: both called on a Monday
    assert _first_contacts(run) == {"met": 2, "late": 2}
    engine = make_engine(db_url)
    with session_scope(engine, readonly=True) as session:
        off = monitor_service.days_off(session)
    engine.dispose()
    assert off.workdays == {day_number(day) for day in MAKE_UP} and off.weekdays == {5, 6}
    days = np.array([day_number(date(2025, 9, 27)), *(day_number(d) for d in MAKE_UP), day_number(HOLIDAYS[0])])
    assert off.of(days).tolist() == [True, False, False, True]  # Saturday 27 off, the make-up days worked
