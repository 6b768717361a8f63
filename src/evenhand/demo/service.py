"""Fill an empty database with the demo company: a year of simulated sales operations.

The data is simulated, not drawn: the Android push failures after the mid-August CRM upgrade slow
first responses, and slower responses convert worse; favouritism in the old hand-out rules starves
new hires of good leads; deep discounts win deals and lose renewals. Nothing in the data names
these causes — finding them is what evenhand is for.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.orm import Session

from evenhand.auth.passwords import hash_password
from evenhand.demo.frame import SNAPSHOT_HOUR
from evenhand.demo.live import LIVE_TABLES, go_live
from evenhand.demo.recordings import write_clips
from evenhand.demo.simulate import World, simulate
from evenhand.demo.worktime import holidays
from evenhand.demo.writer import write_tables
from evenhand.i18n import N_
from evenhand.kit.audit import append
from evenhand.kit.clock import frozen, utcnow
from evenhand.leads.predict import service as predict_service
from evenhand.leads.scoring_bulk import rescore_all
from evenhand.leads.service import refresh_aggregates
from evenhand.models import AuditEntry, Base, Lead, User
from evenhand.monitor import scan as monitor_scan
from evenhand.monitor import service as monitor_service
from evenhand.performance import peer_demo
from evenhand.performance.period import containing
from evenhand.qa.audio import root as audio_root
from evenhand.standards import service as standards_service
from evenhand.standards.document import default_text

DEMO_PASSWORD = "evenhand-demo"
SIMULATION_SHARE = 0.3  # of the progress bar; writing takes the rest
SHANGHAI = ZoneInfo("Asia/Shanghai")  # the demo company's zone
DONE = N_("Demo company ready")
SCORING = N_("Scoring the leads")
GOING_LIVE = N_("Routing the last afternoon live")
SERIES = N_("Computing the KPI series")
YEAR_SCANNED = 330  # the demo's days with a full baseline behind them
Progress = Callable[[str, float], None]


class DemoError(RuntimeError):
    """The demo cannot be built into this database (it is not empty)."""


class DemoLogin(NamedTuple):
    username: str
    role: str
    display_name: str
    team: str | None


@dataclass(frozen=True)
class DemoSummary:
    seed: int
    end_date: date
    counts: dict[str, int]  # rows written per table
    seconds: float  # wall time of the whole build
    accounts: list[DemoLogin]  # everyone still employed; all share ``password``
    password: str = DEMO_PASSWORD
    fabricated_note_ids: tuple[int, ...] = ()  # the ground truth the honesty checks are measured against


def build(engine: Engine, *, seed: int = 7, end_date: date | None = None, progress: Progress | None = None,
          scale: float = 1.0, recordings: Path | None = None) -> DemoSummary:
    """Simulate the company and write it into an empty, migrated database in one transaction.

    ``end_date`` defaults to ``last_snapshot_day()``; the data stops at 17:00 that day. ``scale``
    shrinks or grows the volume of leads and deals (the organisation stays the same size). The calls' recordings
    are played from a few generated clips written under ``recordings`` (default: the configured recordings
    directory, ``qa.audio.root``).
    """
    if not scale > 0:
        raise ValueError(f"scale must be positive, not {scale}")
    started = time.perf_counter()
    report = progress or (lambda _label, _done: None)
    end = end_date or last_snapshot_day(utcnow())
    _require_empty(engine)
    world = simulate(seed, end, scale=scale, progress=lambda label, f: report(label, f * SIMULATION_SHARE))
    _set_password(world, hash_password(DEMO_PASSWORD))
    with engine.begin() as conn:
        counts = write_tables(conn, world.tables, world.team_supervisors,
                              lambda label, f: report(label, SIMULATION_SHARE + f * (1 - SIMULATION_SHARE)))
        _standards(conn, end)
        report(SCORING, 0.95)
        _score(conn, end)
        report(GOING_LIVE, 0.98)
        counts = _go_live(conn, seed, end, scale, counts)
        _peer_review(conn, seed, end)
        report(SERIES, 0.99)
        _series(conn, end)
        _audit(conn, seed, end, scale, counts)
    write_clips(recordings or audio_root())
    report(DONE, 1.0)
    return DemoSummary(seed, end, counts, time.perf_counter() - started, _logins(world),
                       fabricated_note_ids=tuple(world.fabricated_notes.tolist()))


def fabricated_note_ids(session: Session) -> list[int]:
    """The ids of the demo's CRM notes that write up contacts never made, for a database the demo built: the
    simulation is run again from the seed, end date and scale its build recorded in the audit log (the rows
    it writes are the same, so are their ids). Empty when the database was not built by the demo."""
    payload = session.scalar(select(AuditEntry.payload).where(AuditEntry.action == "demo.built")
                             .order_by(AuditEntry.seq.desc()).limit(1))
    if payload is None:
        return []
    world = simulate(int(payload["seed"]), date.fromisoformat(payload["end_date"]), scale=float(payload["scale"]))
    return world.fabricated_notes.tolist()


def last_snapshot_day(now: datetime) -> date:
    """The last day whose 17:00 in Asia/Shanghai has passed at ``now``: a demo built in the morning ends
    yesterday, so nothing in it (a presence, a call, an appeal) is dated later than the moment it is opened."""
    day = now.astimezone(SHANGHAI).date()
    return day if now >= _end_of(day) else day - timedelta(days=1)


def _standards(conn: Connection, end: date) -> None:
    """Version 1 of the stage standards: the shipped ones with the public holidays the company keeps
    (``demo.worktime``, the days its reps do not work). Deadlines roll past them, and conversion counts its days to
    mature without them."""
    listed = ", ".join(f'"{day.isoformat()}"' for day in holidays(end.year - 2, end.year + 1))
    body, found = re.subn(r"^(\s*holidays:\s*)\[\]", rf"\g<1>[{listed}]", default_text(), count=1, flags=re.MULTILINE)
    assert found == 1, "the default standards list no holidays to fill in"
    with Session(bind=conn) as session, frozen(_end_of(end)):  # dated at the snapshot, as the series' rows are
        standards_service.STANDARDS.install(session, body, note="the shipped standards, with the company's holidays")
        session.flush()


def _score(conn: Connection, end: date) -> None:
    """Behaviour totals from the events; every lead scored by the shipped rule model as it stood on arrival
    (what routing would have seen); and a predictive model learned from the year's outcomes."""
    with Session(bind=conn) as session:
        refresh_aggregates(session)
        rescore_all(session, now=utcnow(), as_of_intake=True)
        history = predict_service.history_dataset(session, now=_end_of(end))
        predict_service.train(session, history, seed=42)
        session.flush()


def _go_live(conn: Connection, seed: int, end: date, scale: float, counts: dict[str, int]) -> dict[str, int]:
    """The last working afternoon routed by evenhand (``demo.live``); the counts then include its rows."""
    with Session(bind=conn) as session:
        go_live(session, seed=seed, end=end, zone=SHANGHAI, scale=scale)
        session.flush()
    return counts | {table: conn.execute(select(func.count()).select_from(Base.metadata.tables[table])).scalar_one()
                     for table in LIVE_TABLES}


def _peer_review(conn: Connection, seed: int, end: date) -> None:
    """Last full month's peer review, opened under the demo's seed, most of its reviews written."""
    with Session(bind=conn) as session:
        peer_demo.demo_cycle(session, containing(end).previous().key, seed=seed)
        session.flush()


def _series(conn: Connection, end: date) -> None:
    """Every KPI's daily series through the last day, and the year scanned, so monitoring opens on the whole year
    with the incident's anomalies found and explained. Computed as of the snapshot (the shipped definitions
    installed, the standards judged and the watermarks set then), so the same seed builds the same rows."""
    with Session(bind=conn) as session, frozen(_end_of(end)):
        monitor_service.refresh(session, until=end)
        monitor_scan.scan(session, days=YEAR_SCANNED)
        session.flush()


def _end_of(day: date) -> datetime:
    return datetime.combine(day, clock_time(SNAPSHOT_HOUR, 0), tzinfo=SHANGHAI)


def _audit(conn: Connection, seed: int, end: date, scale: float, counts: dict[str, int]) -> None:
    """The build itself is evidence: which seed and end date produced this database."""
    with Session(bind=conn) as session:
        append(session, action="demo.built", subject_type="database",
               payload={"seed": seed, "end_date": end.isoformat(), "scale": scale, "counts": counts})


def _require_empty(engine: Engine) -> None:
    with engine.connect() as conn:
        users = conn.execute(select(func.count()).select_from(User)).scalar_one()
        leads = conn.execute(select(func.count()).select_from(Lead)).scalar_one()
    if users or leads:
        raise DemoError(f"the database already holds {users} users and {leads} leads; the demo needs an empty one")


def _set_password(world: World, password_hash: str) -> None:
    """Every demo account shares one password, hashed once (argon2 is deliberately slow)."""
    users = next(t for t in world.tables if t.name == "users")
    users.columns["password_hash"] = [password_hash] * len(users)


def _logins(world: World) -> list[DemoLogin]:
    team_names = {t.id: t.name for t in world.org.teams}
    return [DemoLogin(p.username, p.role, p.display_name, team_names.get(p.team_id) if p.team_id else None)
            for p in world.org.people if p.left_on is None]
