"""The sales organisation: departments × regions teams, supervisors, reps and their habits.

Each rep gets a profile letter that drives their hidden traits (never stored):
V veteran the supervisor favours · P veteran favourite who wins on price (deep discounts) · S senior ·
J junior · N new hire (joined in the last three months) · D junior who left during the year.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from numpy.typing import NDArray

from evenhand.demo.catalog import DEPARTMENTS, INDUSTRIES, PRODUCTS, REGIONS
from evenhand.demo.frame import Frame
from evenhand.demo.names import NameBook, PersonName
from evenhand.demo.worktime import DAY, OFFSET, day_number

TEAM_PROFILES: dict[tuple[str, str], str] = {
    ("key_accounts", "east"): "VSJND", ("key_accounts", "south"): "PPPJD", ("key_accounts", "north"): "VSJ",
    ("key_accounts", "central"): "VJ", ("key_accounts", "southwest"): "SJ",
    ("smb", "east"): "VSSJJND", ("smb", "south"): "VSJJN", ("smb", "north"): "VSJJD",
    ("smb", "central"): "SJJ", ("smb", "southwest"): "VJN",
    ("channel", "east"): "SJN", ("channel", "south"): "VJ", ("channel", "north"): "SJD",
    ("channel", "central"): "SJ", ("channel", "southwest"): "SJ",
}
STAFF = (("admin", "系统管理员", "admin"), ("lina", "李娜", "ops"), ("zhaomin", "赵敏", "ops"),
         ("sunli", "孙丽", "auditor"))
PERSONAS = {("key_accounts", "east", "supervisor"): PersonName("王强", "wangqiang"),
            ("key_accounts", "east", "V"): PersonName("张伟", "zhangwei"),
            ("smb", "east", "N"): PersonName("陈晓", "chenxiao")}
QUOTA = {"V": 1.0, "P": 1.0, "S": 0.75, "J": 0.5, "N": 0.25, "D": 0.5}
DEPT_QUOTA = {"key_accounts": 500_000, "smb": 220_000, "channel": 200_000}
SPEED_MIN = {"V": 30, "P": 28, "S": 25, "J": 20, "N": 15, "D": 26}  # median minutes to react to a push
SKILL = {"V": 1.15, "P": 1.1, "S": 1.05, "J": 0.95, "N": 0.85, "D": 0.85}


@dataclass(frozen=True)
class TeamRow:
    id: int
    name: str
    department: int  # index into DEPARTMENTS (id = index + 1)
    region: int  # index into REGIONS
    supervisor_id: int


@dataclass(frozen=True)
class Person:
    id: int
    username: str
    display_name: str
    role: str
    profile: str  # "staff", "supervisor" or a rep profile letter
    team_id: int | None
    region: int | None
    hired_on: date
    left_on: date | None
    quota: float
    skills: list[str]
    product_ids: list[int]


@dataclass(frozen=True)
class LeaveRow:
    id: int
    user_id: int
    starts_on: date
    ends_on: date
    reason: str


@dataclass(frozen=True)
class Org:
    teams: list[TeamRow]
    people: list[Person]
    leaves: list[LeaveRow]
    traits: Traits
    available: NDArray[np.bool_]  # [user id, calendar day]: may receive leads that day


@dataclass(frozen=True)
class Traits:
    """Hidden habits of every user, as arrays indexed by user id (non-reps hold neutral values)."""

    is_rep: NDArray[np.bool_]
    team: NDArray[np.int64]
    dept: NDArray[np.int64]
    region: NDArray[np.int64]
    senior: NDArray[np.bool_]
    favourite: NDArray[np.bool_]
    newcomer: NDArray[np.bool_]
    hired: NDArray[np.int64]  # local day number
    left: NDArray[np.int64]  # local day number, far future when still employed
    speed: NDArray[np.float64]  # median working seconds from noticing a lead to acting on it
    skill: NDArray[np.float64]
    discount_mean: NDArray[np.float64]
    fabricate: NDArray[np.float64]  # chance of logging a follow-up that never happened
    android: NDArray[np.bool_]
    update_lag: NDArray[np.float64]  # days between an app release and installing it
    check_pm: NDArray[np.float64]  # chance of an afternoon look at the CRM lead list
    successor: NDArray[np.int64]  # who inherits the book when a rep leaves
    quality: NDArray[np.float64]  # service quality after the sale, on the satisfaction scale


def handover(rep: NDArray[np.int64], at: NDArray[np.int64], traits: Traits) -> NDArray[np.int64]:
    """Who holds a rep's work at ``at``: their successor from the day they left."""
    left_at = traits.left[rep] * DAY - OFFSET
    return np.where(at >= left_at, traits.successor[rep], rep)


def build_org(rnd: random.Random, rng: np.random.Generator, frame: Frame) -> Org:
    book = NameBook(rnd)
    for name in PERSONAS.values():
        book.taken_names.add(name.hanzi)
    people = [_staff(i + 1, *s, frame, book) for i, s in enumerate(STAFF)]
    teams: list[TeamRow] = []
    for dept_code, region_code in TEAM_PROFILES:
        team_id = len(teams) + 1
        d = next(i for i, x in enumerate(DEPARTMENTS) if x.code == dept_code)
        r = next(i for i, x in enumerate(REGIONS) if x.code == region_code)
        sup = _supervisor(len(people) + 1, team_id, r, dept_code, region_code, frame, book, rnd)
        teams.append(TeamRow(team_id, f"{DEPARTMENTS[d].name}{REGIONS[r].name}组", d, r, sup.id))
        people.append(sup)
    for team in teams:
        dept_code, region_code = DEPARTMENTS[team.department].code, REGIONS[team.region].code
        for profile in TEAM_PROFILES[(dept_code, region_code)]:
            people.append(_rep(len(people) + 1, profile, team, frame, book, rnd))
    traits = _traits(people, teams, rng)
    leaves = _leaves(people, frame, rnd)
    return Org(teams, people, leaves, traits, _availability(people, leaves, frame))


def _staff(uid: int, username: str, name: str, role: str, frame: Frame, book: NameBook) -> Person:
    book.taken_names.add(name)
    book.taken_usernames.add(username)
    hired = frame.end - timedelta(days=365 * 6 + 30 * uid)
    return Person(uid, username, name, role, "staff", None, None, hired, None, 0.0, [], [])


def _supervisor(uid: int, team_id: int, region: int, dept: str, region_code: str, frame: Frame,
                book: NameBook, rnd: random.Random) -> Person:
    persona = PERSONAS.get((dept, region_code, "supervisor"))
    name, username = (persona, book.reserve(persona)) if persona else book.fresh()
    hired = frame.end - timedelta(days=rnd.randint(5 * 365, 11 * 365))
    products = [i + 1 for i in range(len(PRODUCTS))]
    return Person(uid, username, name.hanzi, "supervisor", "supervisor", team_id, region, hired, None,
                  0.0, [], products)


def _rep(uid: int, profile: str, team: TeamRow, frame: Frame, book: NameBook, rnd: random.Random) -> Person:
    dept = DEPARTMENTS[team.department].code
    persona = PERSONAS.get((dept, REGIONS[team.region].code, profile))
    name, username = (persona, book.reserve(persona)) if persona else book.fresh()
    hired, left = _tenure(profile, frame, rnd, persona is not None)
    skills = rnd.sample([i.name for i in INDUSTRIES], 2)
    products = sorted(rnd.sample(range(1, len(PRODUCTS) + 1), rnd.randint(2, 3)))
    quota = round(DEPT_QUOTA[dept] * QUOTA[profile], -4)
    return Person(uid, username, name.hanzi, "rep", profile, team.id, team.region, hired, left, quota,
                  skills, products)


def _tenure(profile: str, frame: Frame, rnd: random.Random, persona: bool) -> tuple[date, date | None]:
    end = frame.end
    if profile == "N":
        return end - timedelta(days=21 if persona else rnd.randint(10, 85)), None
    if profile == "D":
        hired = end - timedelta(days=rnd.randint(270, 420))
        return hired, end - timedelta(days=rnd.randint(30, 150))
    years = {"V": (5, 10), "P": (6, 9), "S": (2, 6), "J": (0.6, 2.2)}[profile]
    return end - timedelta(days=int(365 * rnd.uniform(*years))), None


def _traits(people: list[Person], teams: list[TeamRow], rng: np.random.Generator) -> Traits:
    n = len(people) + 1
    profile = np.array(["-", *[p.profile for p in people]])
    is_rep = np.isin(profile, list("VPSJND"))
    team_of = {t.id: t for t in teams}
    team = np.array([0, *[p.team_id or 0 for p in people]], dtype=np.int64)
    dept = np.array([-1, *[team_of[p.team_id].department if p.team_id else -1 for p in people]])
    far = day_number(date(9999, 1, 1))
    left = np.array([far, *[day_number(p.left_on) if p.left_on else far for p in people]], dtype=np.int64)
    fabricate = np.where(is_rep, 0.004, 0.0)
    fabricate[rng.choice(np.flatnonzero(np.isin(profile, ["S", "J"])), 4, replace=False)] = 0.3
    laggard = rng.random(n) < 0.2
    return Traits(
        is_rep=is_rep, team=team, dept=dept.astype(np.int64),
        region=np.array([-1, *[p.region if p.region is not None else -1 for p in people]], dtype=np.int64),
        senior=np.isin(profile, ["V", "P", "S"]), favourite=np.isin(profile, ["V", "P"]),
        newcomer=profile == "N",
        hired=np.array([0, *[day_number(p.hired_on) for p in people]], dtype=np.int64), left=left,
        speed=_per(SPEED_MIN, profile) * 60 * rng.lognormal(0, 0.3, n),
        skill=_per(SKILL, profile) * rng.lognormal(0, 0.08, n),
        discount_mean=np.where(profile == "P", rng.uniform(0.22, 0.3, n), rng.uniform(0.01, 0.05, n)),
        fabricate=fabricate, android=rng.random(n) < 0.75,
        update_lag=rng.exponential(2.5, n) + laggard * rng.uniform(10, 40, n),
        check_pm=rng.uniform(0.5, 0.9, n), successor=_successors(people, n),
        quality=rng.normal(0, 0.25, n) + np.isin(profile, ["V", "S"]) * 0.15,
    )


def _per(table: dict[str, int] | dict[str, float], profile: NDArray[np.str_]) -> NDArray[np.float64]:
    return np.array([table.get(str(p), 1.0) for p in profile], dtype=np.float64)


def _successors(people: list[Person], n: int) -> NDArray[np.int64]:
    """A departing rep's open leads and customers go to the team's longest-serving rep."""
    successor = np.arange(n, dtype=np.int64)
    for p in people:
        if p.left_on is None:
            continue
        mates = [q for q in people if q.team_id == p.team_id and q.role == "rep" and q.left_on is None]
        successor[p.id] = min(mates, key=lambda q: (q.hired_on, q.id)).id
    return successor


def _leaves(people: list[Person], frame: Frame, rnd: random.Random) -> list[LeaveRow]:
    lengths = {"年假": (3, 7), "病假": (1, 3), "事假": (1, 2), "婚假": (10, 10), "培训": (2, 3)}
    rows: list[LeaveRow] = []
    reps = [p for p in people if p.role == "rep"]
    for p in reps:
        first = max(p.hired_on + timedelta(days=30), frame.start)
        last = (p.left_on or frame.end) - timedelta(days=10)
        for _ in range(rnd.choice((0, 0, 1, 1, 2)) if first < last else 0):
            reason = rnd.choices(list(lengths), weights=(6, 4, 3, 1, 2))[0]
            start = first + timedelta(days=rnd.randint(0, (last - first).days))
            rows.append(LeaveRow(len(rows) + 1, p.id, start, start + timedelta(days=rnd.randint(*lengths[reason]) - 1),
                                 reason))
    away = next(p for p in reps if p.profile == "S")  # someone is on leave today
    rows.append(LeaveRow(len(rows) + 1, away.id, frame.end - timedelta(days=2), frame.end + timedelta(days=3), "年假"))
    return rows


def _availability(people: list[Person], leaves: list[LeaveRow], frame: Frame) -> NDArray[np.bool_]:
    days = frame.cal.first_day + np.arange(len(frame.cal.working))
    grid = np.zeros((len(people) + 1, len(days)), dtype=bool)
    for p in people:
        if p.role == "rep":
            stop = day_number(p.left_on) if p.left_on else days[-1] + 1
            grid[p.id] = (days >= day_number(p.hired_on)) & (days < stop)
    for leave in leaves:
        grid[leave.user_id, (days >= day_number(leave.starts_on)) & (days <= day_number(leave.ends_on))] = False
    return grid
