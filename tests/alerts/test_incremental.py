"""The incremental scan decides as the full scan does: a small pipeline, random events (activities through the real
door, deals moved, given to another rep or closed, a lead's response recorded, alerts snoozed and resolved by hand)
and clock advances, an incremental scan after each step; at every step a full scan at the same moment, rolled back,
finds nothing to open, resolve or bring back. Hypothesis on SQLite; one seeded walk on both databases."""

from __future__ import annotations

import random
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import evenhand.alerts.tasks  # noqa: F401 - registers the capture hook and the marks, as the app and the worker do
from evenhand.alerts import service
from evenhand.db import make_engine, session_scope
from evenhand.kit.clock import frozen
from evenhand.models import (
    ActivityType,
    Alert,
    AlertStatus,
    FlagKind,
    FlagStatus,
    HonestyFlag,
    Lead,
    Opportunity,
    Stage,
)
from evenhand.models.alerts import AlertMark
from tests.alerts import company as co
from tests.alerts.company import DAY, NOW, Company
from tests.builders import make_activity
from tests.databases import fresh_sqlite

REPS = ("chen", "zhang", "liu")
STAGES = (Stage.QUALIFICATION, Stage.NEEDS_ANALYSIS, Stage.PROPOSAL, Stage.NEGOTIATION, Stage.WON, Stage.LOST)
Step = tuple[Any, ...]

steps = st.one_of(
    st.tuples(st.just("wait"), st.integers(1, 10 * 60)),
    st.tuples(st.just("call"), st.integers(0, 7), st.booleans(), st.integers(0, 3 * 24 * 60)),
    st.tuples(st.just("reply"), st.integers(0, 7)),
    st.tuples(st.just("move"), st.integers(0, 4), st.sampled_from(STAGES)),
    st.tuples(st.just("owner"), st.integers(0, 4), st.sampled_from(REPS)),
    st.tuples(st.just("respond"), st.integers(0, 2)),
    st.tuples(st.just("snooze"), st.integers(0, 9), st.integers(30, 2 * 24 * 60)),
    st.tuples(st.just("resolve"), st.integers(0, 9)),
)


@dataclass
class Pipeline:
    """Five deals and three leads of the alert tests' company, ages spread over the rules' thresholds."""

    engine: Engine
    company: Company
    now: datetime = NOW
    calls: int = 0

    @classmethod
    def build(cls, engine: Engine, seed: int) -> Pipeline:
        rng = random.Random(seed)
        with session_scope(engine) as session:
            company = co.build(session)
            for i in range(5):
                co.deal(session, company, rng.choice(REPS), stage=rng.choice(STAGES[:4]),
                        age=timedelta(hours=rng.randint(1, 20 * 24)), key=f"D-{i}")
            for i in range(3):
                co.lead(session, company, rng.choice(REPS), assigned=timedelta(minutes=rng.randint(0, 300)),
                        key=f"L-{i}")
        return cls(engine, company)

    def apply(self, step: Step) -> None:
        getattr(self, f"_{step[0]}")(*step[1:])

    def _wait(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    def _call(self, target: int, answered: bool, ago: int) -> None:
        self.calls += 1
        where = {"opportunity": f"D-{target}"} if target < 5 else {"lead": f"L-{target - 5}"}
        co.capture(self.engine, [{"external_id": f"c-{self.calls}", "rep": "chen", "answered": answered,
                                  "occurred_at": (self.now - timedelta(minutes=ago)).isoformat(), **where}],
                   at=self.now)

    def _reply(self, target: int) -> None:
        self.calls += 1
        where = {"opportunity": f"D-{target}"} if target < 5 else {"lead": f"L-{target - 5}"}
        co.capture(self.engine, [{"external_id": f"r-{self.calls}", "rep": "chen", "type": "email",
                                  "direction": "inbound", "occurred_at": self.now.isoformat(), **where}], at=self.now)

    def _move(self, deal: int, stage: Stage) -> None:
        """As ``opportunities.service`` moves a deal: through the ORM."""
        with frozen(self.now), session_scope(self.engine) as session:
            row = session.scalars(select(Opportunity).where(Opportunity.external_id == f"D-{deal}")).one()
            if row.stage in STAGES[:4] and row.stage is not stage:
                row.stage, row.stage_changed_at = stage, self.now
                row.closed_at = self.now if stage in (Stage.WON, Stage.LOST) else None

    def _owner(self, deal: int, rep: str) -> None:
        with frozen(self.now), session_scope(self.engine) as session:
            row = session.scalars(select(Opportunity).where(Opportunity.external_id == f"D-{deal}")).one()
            row.owner_id = self.company.id(rep)

    def _respond(self, lead: int) -> None:
        with frozen(self.now), session_scope(self.engine) as session:
            row = session.scalars(select(Lead).where(Lead.external_id == f"L-{lead}")).one()
            row.first_response_at = row.first_response_at or self.now

    def _snooze(self, which: int, minutes: int) -> None:
        alert = self._live(which, AlertStatus.OPEN)
        if alert is not None:
            with frozen(self.now), session_scope(self.engine) as session:
                service.snooze(session, self.company.principal("li"), alert, reason="等客户回来",
                               until=self.now + timedelta(minutes=minutes), now=self.now)

    def _resolve(self, which: int) -> None:
        alert = self._live(which)
        if alert is not None:
            with frozen(self.now), session_scope(self.engine) as session:
                service.resolve(session, self.company.principal("li"), alert)

    def _live(self, which: int, status: AlertStatus | None = None) -> int | None:
        with session_scope(self.engine, readonly=True) as session:
            stmt = select(Alert.id).where(Alert.open_key.is_not(None)).order_by(Alert.id)
            found = list(session.scalars(stmt if status is None else stmt.where(Alert.status == status)))
        return found[which % len(found)] if found else None

    def scan(self) -> service.ScanResult:
        with frozen(self.now), session_scope(self.engine) as session:
            return service.scan(session, now=self.now, full=False)

    def full_would_change(self) -> dict[str, int]:
        """What a full scan at this moment would open, resolve and bring back (rolled back)."""
        with frozen(self.now), Session(self.engine) as session:
            found = service.scan(session, now=self.now)
            session.rollback()
        return {"opened": found.opened, "resolved": found.resolved, "woke": found.woke}

    def live(self) -> set[tuple[str, str, int, str]]:
        with session_scope(self.engine, readonly=True) as session:
            rows = session.execute(select(Alert.rule, Alert.entity_type, Alert.entity_id, Alert.status)
                                   .where(Alert.open_key.is_not(None))).tuples()
            return {(rule, entity, i, status.value) for rule, entity, i, status in rows}


def walk(engine: Engine, seed: int, walk_steps: list[Step]) -> list[service.ScanResult]:
    pipeline = Pipeline.build(engine, seed)
    results, full_at = [pipeline.scan()], pipeline.now
    assert results[0].full  # no scan ran before
    for step in walk_steps:
        pipeline.apply(step)
        results.append(pipeline.scan())
        assert results[-1].full is (pipeline.now - full_at >= service.FULL_EVERY)
        full_at = pipeline.now if results[-1].full else full_at
        assert pipeline.full_would_change() == {"opened": 0, "resolved": 0, "woke": 0}, (step, pipeline.live())
    return results


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(seed=st.integers(0, 1000), walk_steps=st.lists(steps, min_size=1, max_size=12))
def test_incremental_scans_decide_as_a_full_scan_does(sqlite_template: Path, seed: int,
                                                       walk_steps: list[Step]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        engine = make_engine(fresh_sqlite(sqlite_template, Path(directory)))
        try:
            walk(engine, seed, walk_steps)
        finally:
            engine.dispose()


def seeded_walk(seed: int, length: int) -> list[Step]:
    rng = random.Random(seed)
    return [_drawn(rng) for _ in range(length)]


def _drawn(rng: random.Random) -> Step:
    kind = rng.choice(("wait", "wait", "call", "reply", "move", "owner", "respond", "snooze", "resolve"))
    return {"wait": lambda: ("wait", rng.randint(1, 10 * 60)),
            "call": lambda: ("call", rng.randint(0, 7), rng.random() < 0.3, rng.randint(0, 3 * 24 * 60)),
            "reply": lambda: ("reply", rng.randint(0, 7)),
            "move": lambda: ("move", rng.randint(0, 4), rng.choice(STAGES)),
            "owner": lambda: ("owner", rng.randint(0, 4), rng.choice(REPS)),
            "respond": lambda: ("respond", rng.randint(0, 2)),
            "snooze": lambda: ("snooze", rng.randint(0, 9), rng.randint(30, 2 * 24 * 60)),
            "resolve": lambda: ("resolve", rng.randint(0, 9))}[kind]()


def test_a_seeded_walk_on_both_databases(engine: Engine) -> None:
    """Thirty steps over two weeks: the incremental scans look at a few entities each, and decide as a full scan."""
    results = walk(engine, 7, seeded_walk(7, 30))
    assert sum(r.opened for r in results) >= 3 and sum(r.resolved for r in results) >= 1


def test_a_change_marks_its_entity_and_the_scan_takes_the_marks(engine: Engine) -> None:
    pipeline = Pipeline.build(engine, 3)
    pipeline.scan()
    pipeline.apply(("move", 1, Stage.WON))
    pipeline.apply(("call", 6, False, 5))
    with session_scope(engine, readonly=True) as session:
        marked = set(session.execute(select(AlertMark.entity_type, AlertMark.entity_id)).tuples())
        deal = session.scalars(select(Opportunity.id).where(Opportunity.external_id == "D-1")).one()
        lead = session.scalars(select(Lead.id).where(Lead.external_id == "L-1")).one()
    assert {("opportunity", deal), ("lead", lead)} <= marked
    pipeline.apply(("wait", 5))
    result = pipeline.scan()
    assert not result.full and result.marked >= 2
    with session_scope(engine, readonly=True) as session:
        assert session.scalars(select(AlertMark.id)).all() == []


def test_a_scan_is_full_when_due(engine: Engine) -> None:
    """The first scan, the first after the rules changed, and the first a day after the last full one."""
    pipeline = Pipeline.build(engine, 5)
    assert pipeline.scan().full
    pipeline.apply(("wait", 10))
    assert not pipeline.scan().full
    with session_scope(engine) as session:
        body = service.RULES.active(session).body.replace("negotiation: 5", "negotiation: 6")
        service.save(session, body, author=None, note="谈判阶段放宽到 6 天")
    assert pipeline.scan().full
    pipeline.apply(("wait", 23 * 60))
    assert not pipeline.scan().full
    pipeline.apply(("wait", 61))
    assert pipeline.scan().full
    assert DAY == service.FULL_EVERY


def marked(engine: Engine) -> set[tuple[str, int]]:
    with session_scope(engine, readonly=True) as session:
        return set(session.execute(select(AlertMark.entity_type, AlertMark.entity_id)).tuples())


def test_a_flag_marks_its_rep_and_the_flagged_notes_deal_and_an_unchanged_record_marks_nothing(engine: Engine) -> None:
    pipeline = Pipeline.build(engine, 3)
    pipeline.scan()
    with session_scope(engine) as session:
        deal = session.scalars(select(Opportunity).where(Opportunity.external_id == "D-2")).one()
        deal.name = deal.name  # set to what it was: no change
        note = make_activity(session, rep=pipeline.company.users["zhang"], type=ActivityType.NOTE,
                             opportunity_id=deal.id, occurred_at=NOW)
        session.flush()
        note_marks = marked_in(session)
        flag = HonestyFlag(activity_id=note.id, kind=FlagKind.UNBACKED, rep_id=pipeline.company.id("zhang"),
                           evidence={})
        session.add(flag)
        session.flush()
        flag_marks = marked_in(session) - note_marks
        deal_id = deal.id
    assert note_marks == {("opportunity", deal_id)}  # the note, not the untouched deal's name
    assert flag_marks == {("rep", pipeline.company.id("zhang"))}  # the deal was marked already
    pipeline.apply(("wait", 5))
    pipeline.scan()
    with session_scope(engine) as session:
        session.get(HonestyFlag, flag.id).status = FlagStatus.DISMISSED  # type: ignore[union-attr]
    assert marked(engine) == {("rep", pipeline.company.id("zhang")), ("opportunity", deal_id)}


def marked_in(session: Session) -> set[tuple[str, int]]:
    return set(session.execute(select(AlertMark.entity_type, AlertMark.entity_id)).tuples())
