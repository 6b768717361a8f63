"""Rows for the organisation tables and the change log, from the simulated company."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from evenhand.demo.catalog import DEPARTMENTS, EMAIL_DOMAIN, PRODUCTS, REGIONS
from evenhand.demo.changes import ChangePlan
from evenhand.demo.frame import Frame
from evenhand.demo.org import Org, Person
from evenhand.demo.records import Table
from evenhand.demo.worktime import HOUR, day_number

WORKING_HOURS = {**{d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}, "sat": [], "sun": []}
SENIOR_PROFILES = ("V", "P", "S", "supervisor", "staff")
DAILY_CAP = {"key_accounts": 8, "smb": 20, "channel": 15}


def reference_tables(frame: Frame) -> list[Table]:
    since = frame.ts(frame.legacy_start, 9)

    def simple(name: str, rows: list[tuple[str, str]]) -> Table:
        return Table(name, {"id": np.arange(1, len(rows) + 1), "code": [c for c, _ in rows],
                            "name": [n for _, n in rows], "created_at": np.full(len(rows), since)}, ("created_at",))

    return [simple("departments", [(d.code, d.name) for d in DEPARTMENTS]),
            simple("regions", [(r.code, r.name) for r in REGIONS]),
            simple("product_lines", [(p.code, p.name) for p in PRODUCTS])]


def team_table(org: Org, frame: Frame) -> Table:
    """Teams start without a supervisor: the users they point to are written after them."""
    teams = org.teams
    return Table("teams", {
        "id": [t.id for t in teams], "name": [t.name for t in teams],
        "department_id": [t.department + 1 for t in teams],
        "region_id": [t.region + 1 for t in teams], "supervisor_id": [None] * len(teams),
        "created_at": np.full(len(teams), frame.ts(frame.legacy_start, 9)),
    }, ("created_at",))


def user_tables(org: Org, frame: Frame, rng: np.random.Generator) -> list[Table]:
    people = org.people
    presence, since = _presence(org, frame, rng)
    team_dept = {t.id: DEPARTMENTS[t.department].code for t in org.teams}
    users = Table("users", {
        "id": [p.id for p in people], "username": [p.username for p in people],
        "display_name": [p.display_name for p in people],
        "email": [f"{p.username}@{EMAIL_DOMAIN}" for p in people],
        "phone": [f"1{380_000_0000 + p.id * 7919:010d}" for p in people], "password_hash": [None] * len(people),
        "role": [p.role for p in people],
        "level": ["senior" if p.profile in SENIOR_PROFILES else "junior" for p in people],
        "team_id": [p.team_id for p in people],
        "region_id": [None if p.region is None else p.region + 1 for p in people],
        "monthly_quota": [p.quota for p in people], "max_open_leads": [30 if p.profile == "N" else 50 for p in people],
        "daily_lead_cap": [_cap(p, team_dept) for p in people], "skills": [p.skills for p in people],
        "timezone": ["Asia/Shanghai"] * len(people), "working_hours": [WORKING_HOURS] * len(people),
        "presence": presence, "presence_since": since, "locale": ["zh-CN"] * len(people),
        "active": [p.left_on is None for p in people], "hired_on": [p.hired_on for p in people],
        "left_on": [p.left_on for p in people],
        "created_at": np.array([frame.ts(p.hired_on, 9) for p in people], dtype=np.int64),
    }, ("presence_since", "created_at"))
    links = [(p.id, pl) for p in people for pl in p.product_ids]
    products = Table("user_product_lines", {"user_id": [u for u, _ in links], "product_line_id": [p for _, p in links]})
    return [users, products, _leave_table(org, frame)]


def _cap(p: Person, team_dept: dict[int, str]) -> int:
    if p.role != "rep" or p.team_id is None:
        return 20
    return 10 if p.profile == "N" else DAILY_CAP[team_dept[p.team_id]]


def _presence(org: Org, frame: Frame, rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """Who is online at the snapshot: nobody on leave or gone; the rest as a working afternoon has it."""
    today = day_number(frame.end) - frame.cal.first_day
    states, since = [], []
    for p in org.people:
        if p.left_on is not None:
            states.append("offline")
            since.append(frame.ts(p.left_on - timedelta(days=1), 18))
            continue
        on_leave = p.role == "rep" and not org.available[p.id, today]
        states.append("offline" if on_leave else str(rng.choice(["online", "away", "offline"], p=[0.6, 0.2, 0.2])))
        since.append(frame.now - int(rng.integers(5 * 60, 6 * HOUR)))
    return states, np.array(since, dtype=np.int64)


def _leave_table(org: Org, frame: Frame) -> Table:
    rows = org.leaves
    return Table("leaves", {
        "id": [r.id for r in rows], "user_id": [r.user_id for r in rows], "starts_on": [r.starts_on for r in rows],
        "ends_on": [r.ends_on for r in rows], "reason": [r.reason for r in rows],
        "created_at": np.array([frame.ts(r.starts_on - timedelta(days=7), 10) for r in rows], dtype=np.int64),
    }, ("created_at",))


def change_table(plan: ChangePlan) -> Table:
    rows = plan.entries
    return Table("change_entries", {
        "id": list(range(1, len(rows) + 1)), "title": [r["title"] for r in rows], "kind": [r["kind"] for r in rows],
        "system": [r["system"] for r in rows], "description": [r["description"] for r in rows],
        "effective_at": np.array([r["effective_at_ts"] for r in rows], dtype=np.int64),
        "author_id": [r["author_id"] for r in rows], "affected_metrics": [r["affected_metrics"] for r in rows],
        "created_at": np.array([r["created_at_ts"] for r in rows], dtype=np.int64),
    }, ("effective_at", "created_at"))
