"""Scorecards (R3.2, R3.3): live cards computed now, frozen cards of a closed period, closing and re-opening.

A period's cards are live (provisional, revision 0) until someone closes it: closing freezes every rep's card with
the measures, targets and facts it was computed from, as a new revision, and runs the ``ON_CLOSE`` hooks (the
incentives' grants) in the same transaction. A late correction re-opens the period with a reason; the cards of
every revision stay readable, and the next close writes the next revision beside them, never over them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from evenhand.auth import visibility
from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.errors import Conflict, Forbidden, Invalid, NotFound
from evenhand.i18n import N_
from evenhand.kit import audit
from evenhand.kit.clock import local, utcnow
from evenhand.kit.text import require_clean
from evenhand.models import Department, Level, Role, Scorecard, ScorePeriod, Team, User
from evenhand.models.performance import PeriodStatus
from evenhand.performance import document, repository, scoring
from evenhand.performance.metrics import Measure
from evenhand.performance.period import Period, containing
from evenhand.performance.period import parse as parse_period
from evenhand.performance.template import RepFacts, Templates
from evenhand.performance.views import CardView

Hook = Callable[[Session, ScorePeriod, list[Scorecard]], None]
ON_CLOSE: list[Hook] = []  # run in the closing transaction, in order; one that raises rolls the close back
SCORED_ROLES = (Role.REP, Role.SUPERVISOR)  # repository.rep_facts decides which of them carry a card
REASON_LENGTH = 500


@dataclass(frozen=True)
class Person:
    user_id: int
    name: str
    team_id: int | None
    team: str | None
    department: str | None


@dataclass(frozen=True)
class Gathered:
    """What a period's cards are computed from, read once: scoring it under two templates costs no second read."""

    people: dict[int, Person]
    facts: dict[int, RepFacts]
    measures: dict[int, dict[str, Measure]]
    targets: dict[int, dict[str, float]]


# --- live cards ----------------------------------------------------------------------------------------------------


def live(session: Session, principal: Principal, period: Period, *, body: str | None = None,
         team_id: int | None = None, user_id: int | None = None) -> list[CardView]:
    """Every visible rep's card computed now under the active templates (or ``body``, the editor's preview),
    provisional (revision 0), best total first."""
    doc = document.TEMPLATES.validate(body) if body is not None else document.active(session)[1]
    return _ranked(principal, scored(gather(session, principal, period, team_id=team_id, user_id=user_id),
                                     doc, period))


def gather(session: Session, principal: Principal, period: Period, *, team_id: int | None = None,
           user_id: int | None = None) -> Gathered:
    people = _people(session, visibility.scorecards_visible(principal, User.id, User.team_id), team_id, user_id)
    facts = repository.rep_facts(session, list(people))
    ids = list(facts)
    return Gathered({u: people[u] for u in ids}, facts, repository.measure(session, period, ids),
                    repository.targets(session, period, ids))


def scored(gathered: Gathered, doc: Templates, period: Period) -> list[CardView]:
    """The cards ``doc`` gives the gathered reps (live: revision 0, not frozen)."""
    labels = {t.key: {"zh-CN": t.label.zh, "en": t.label.en} for t in doc.templates}
    views = []
    for user_id, facts in gathered.facts.items():
        card = scoring.score(doc, facts, gathered.measures.get(user_id, {}), months=period.months,
                             targets=gathered.targets.get(user_id))
        views.append(_view(gathered.people[user_id], card, period.key, 0, labels[card.template]))
    return views


def _view(person: Person, card: scoring.Card, period: str, revision: int, label: dict[str, str]) -> CardView:
    return CardView(user_id=person.user_id, name=person.name, team_id=person.team_id, team=person.team,
                    department=person.department, level=card.level, period=period, revision=revision,
                    frozen=revision > 0, template=card.template, template_label=label, total=card.total,
                    coverage=card.coverage, gate=card.gate, tier=card.tier, metrics=list(card.metrics))


_PEOPLE = (
    select(User.id, User.display_name, User.team_id, Team.name, Department.code)
    .outerjoin(Team, Team.id == User.team_id).outerjoin(Department, Department.id == Team.department_id)
    .where(User.active.is_(True), User.role.in_(SCORED_ROLES)))


def _people(session: Session, visible: ColumnElement[bool], team_id: int | None, user_id: int | None
            ) -> dict[int, Person]:
    stmt = _PEOPLE.where(visible)
    if team_id is not None:
        stmt = stmt.where(User.team_id == team_id)
    if user_id is not None:
        stmt = stmt.where(User.id == user_id)
    people = [Person(*row) for row in session.execute(stmt).tuples()]
    return {person.user_id: person for person in people}


def _ranked(principal: Principal, views: list[CardView]) -> list[CardView]:
    """Best total first (no total last), then by name; a colleague's card shows only its total and tier."""
    views.sort(key=lambda v: (v.total is None, -(v.total or 0), v.name, v.user_id))
    return [v if visibility.scorecard_in_full(principal, v.user_id, v.team_id) else _place_only(v) for v in views]


def _place_only(view: CardView) -> CardView:
    return CardView(**{**_fields(view), "metrics": [], "gate": None, "coverage": 0.0})


def _fields(view: CardView) -> dict[str, Any]:
    return {name: getattr(view, name) for name in view.__dataclass_fields__}


# --- frozen cards --------------------------------------------------------------------------------------------------


def cards(session: Session, principal: Principal, period: Period, *, team_id: int | None = None,
          user_id: int | None = None, revision: int | None = None) -> list[CardView]:
    """A closed period's frozen cards (its revision in force, or ``revision``), else the live ones."""
    row = find(session, period)
    if revision is not None:
        if row is None or not 0 < revision <= _last_revision(session, row):
            raise NotFound(N_("The period {period} has no revision {revision}."), field="revision",
                           period=period.key, revision=revision)
        return _frozen(session, principal, row, revision, team_id, user_id)
    if row is None or row.status is not PeriodStatus.CLOSED:
        return live(session, principal, period, team_id=team_id, user_id=user_id)
    return _frozen(session, principal, row, row.revision, team_id, user_id)


def find(session: Session, period: Period) -> ScorePeriod | None:
    return session.scalar(select(ScorePeriod).where(ScorePeriod.period == period.key))


def revisions(session: Session, period: Period) -> list[int]:
    """Every revision the period was ever closed in, oldest first; each stays readable."""
    row = find(session, period)
    return list(range(1, _last_revision(session, row) + 1)) if row else []


def _last_revision(session: Session, row: ScorePeriod) -> int:
    found = session.scalar(select(Scorecard.revision).where(Scorecard.period_id == row.id)
                           .order_by(Scorecard.revision.desc()).limit(1))
    return max(found or 0, row.revision)


def _frozen(session: Session, principal: Principal, row: ScorePeriod, revision: int, team_id: int | None,
            user_id: int | None) -> list[CardView]:
    stmt = (select(Scorecard, User.display_name, Team.name)
            .join(User, User.id == Scorecard.user_id).outerjoin(Team, Team.id == Scorecard.team_id)
            .where(Scorecard.period_id == row.id, Scorecard.revision == revision,
                   visibility.scorecards_visible(principal, Scorecard.user_id, Scorecard.team_id)))
    if team_id is not None:
        stmt = stmt.where(Scorecard.team_id == team_id)
    if user_id is not None:
        stmt = stmt.where(Scorecard.user_id == user_id)
    return _ranked(principal, [_thawed(card, name, team, row.period) for card, name, team in session.execute(stmt)])


def _thawed(card: Scorecard, name: str, team: str | None, period: str) -> CardView:
    shown = card.inputs["card"]
    return CardView(user_id=card.user_id, name=name, team_id=card.team_id, team=team,
                    department=shown["department"], level=Level(shown["level"]), period=period,
                    revision=card.revision, frozen=True, template=shown["template"],
                    template_label=shown["template_label"], total=card.total, coverage=shown["coverage"],
                    gate=card.gate, tier=card.tier, metrics=[scoring.MetricScore(**m) for m in card.metrics])


# --- closing and re-opening ----------------------------------------------------------------------------------------


def close(session: Session, period: Period, *, actor: Principal, today: date | None = None) -> ScorePeriod:
    """Freeze every rep's card as the period's next revision, with its inputs as evidence (admin, ops), audited;
    then the ``ON_CLOSE`` hooks. A period closes only once it has ended (in the organisation's zone), and a
    closed one only after it was re-opened."""
    _may_close(actor)
    if period.ends_on > (today or local(utcnow(), get_settings().zone).date()):
        raise Invalid(N_("The period {period} has not ended yet; it can be closed from {day}."), field="period",
                      period=period.key, day=period.ends_on.isoformat())
    audit.lock(session)  # the chain first, then the period's row (CONVENTIONS: lock order)
    row = _period_row(session, period)
    if row.status is PeriodStatus.CLOSED:
        raise Conflict(N_("The period {period} is already closed (revision {revision})."), field="period",
                       period=period.key, revision=row.revision)
    version, doc = document.active(session)
    frozen = _freeze(session, row, _last_revision(session, row) + 1, version, doc, period)
    row.closed_by = _actor_id(actor)
    audit.append(session, action="performance.period_closed", subject_type="score_periods", subject_id=row.id,
                 actor_id=_actor_id(actor), payload={"period": period.key, "revision": row.revision,
                                                  "template_version": version, "cards": len(frozen)})
    for hook in ON_CLOSE:
        hook(session, row, frozen)
    return row


def _actor_id(actor: Principal) -> int | None:
    return None if actor.via == "system" else actor.user_id  # the command line acts as nobody in particular


def _may_close(actor: Principal) -> None:
    if not actor.manages_org:
        raise Forbidden(N_("Only sales ops and admins close and re-open scoring periods."))


def _period_row(session: Session, period: Period) -> ScorePeriod:
    stmt = select(ScorePeriod).where(ScorePeriod.period == period.key).with_for_update()
    row = session.scalar(stmt)
    if row is None:
        row = ScorePeriod(period=period.key, starts_on=period.starts_on, ends_on=period.ends_on,
                          status=PeriodStatus.OPEN, revision=0)
        session.add(row)
        session.flush()
    return row


def _freeze(session: Session, row: ScorePeriod, revision: int, version: int, doc: Templates, period: Period
            ) -> list[Scorecard]:
    gathered = gather(session, SYSTEM, period)
    frozen = [_frozen_card(row, revision, version, doc, gathered, view) for view in scored(gathered, doc, period)]
    session.add_all(frozen)
    row.status, row.revision, row.closed_at, row.closed_by = PeriodStatus.CLOSED, revision, utcnow(), None
    session.flush()
    return frozen


def _frozen_card(row: ScorePeriod, revision: int, version: int, doc: Templates, gathered: Gathered,
                 view: CardView) -> Scorecard:
    """The card and, as evidence, everything it was computed from: the rep's facts, the targets set for the
    period, and each metric's measure with the figures behind it."""
    facts = gathered.facts[view.user_id]
    inputs = {
        "card": {"template": view.template, "template_label": view.template_label, "level": view.level.value,
                 "coverage": view.coverage, "department": view.department},
        "rep": {"level": facts.level.value, "department": facts.department, "region": facts.region,
                "product_lines": sorted(facts.product_lines), "monthly_quota": facts.monthly_quota},
        "targets": gathered.targets.get(view.user_id, {}),
        "measures": {key: asdict(m) for key, m in gathered.measures.get(view.user_id, {}).items()},
    }
    return Scorecard(period_id=row.id, revision=revision, user_id=view.user_id, team_id=view.team_id,
                     template_version=version, template_name=doc.name, total=view.total, gate=view.gate,
                     tier=view.tier, metrics=[asdict(m) for m in view.metrics], inputs=inputs)


def reopen(session: Session, period: Period, *, actor: Principal, reason: str) -> ScorePeriod:
    """Re-open a closed period for a late correction (admin, ops), with the reason in the audit log. Its frozen
    cards stay as they are; the period shows live cards until the next close writes the next revision."""
    _may_close(actor)
    reason = reason.strip()
    require_clean(reason, field="reason")
    if not reason or len(reason) > REASON_LENGTH:
        raise Invalid(N_("Say why the period is re-opened, in at most {limit} characters."), field="reason",
                      limit=REASON_LENGTH)
    audit.lock(session)
    row = session.scalar(select(ScorePeriod).where(ScorePeriod.period == period.key).with_for_update())
    if row is None or row.status is not PeriodStatus.CLOSED:
        raise Conflict(N_("The period {period} is not closed."), field="period", period=period.key)
    row.status = PeriodStatus.OPEN
    session.flush()
    audit.append(session, action="performance.period_reopened", subject_type="score_periods", subject_id=row.id,
                 actor_id=_actor_id(actor), payload={"period": period.key, "revision": row.revision, "reason": reason})
    return row


def periods(session: Session) -> list[ScorePeriod]:
    """Every period ever closed, the latest first."""
    return list(session.scalars(select(ScorePeriod).order_by(ScorePeriod.starts_on.desc())))


# Closing freezes every rep's card, whoever closes: the cards are read as the system, never through a person's view.
SYSTEM = Principal(user_id=0, username="scorecards", display_name="scorecards", role=Role.AUDITOR, via="system")


# --- the templates editor's preview --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """A period's ranking under the active templates and under a draft, from the same inputs."""

    period: str
    frozen: bool  # True: the last closed period's frozen inputs; False: the last full month, measured now
    active: list[CardView]
    draft: list[CardView]
    tier_labels: dict[str, dict[str, str]]  # a tier's key: its zh-CN and en labels, the draft's over the active's


def preview(session: Session, principal: Principal, body: str, *, today: date | None = None) -> Comparison:
    """The last closed period's ranking rescored from its frozen inputs under ``body`` beside the active templates
    (or, with no period closed, the last full month measured now), so only the templates differ."""
    draft = document.TEMPLATES.validate(body)
    active = document.active(session)[1]
    row = session.scalar(select(ScorePeriod).where(ScorePeriod.status == PeriodStatus.CLOSED)
                         .order_by(ScorePeriod.starts_on.desc()).limit(1))
    if row is not None:
        the_period, gathered = parse_period(row.period), thawed_inputs(session, principal, row)
    else:
        the_period = containing(today or local(utcnow(), get_settings().zone).date()).previous()
        gathered = gather(session, principal, the_period)
    labels = {t.key: {"zh-CN": t.label.zh, "en": t.label.en} for t in (*active.tiers, *draft.tiers)}
    return Comparison(the_period.key, row is not None, _ranked(principal, scored(gathered, active, the_period)),
                      _ranked(principal, scored(gathered, draft, the_period)), labels)


def thawed_inputs(session: Session, principal: Principal, row: ScorePeriod) -> Gathered:
    """What the period's revision in force was computed from, as its frozen cards kept it."""
    stmt = (select(Scorecard, User.display_name, Team.name)
            .join(User, User.id == Scorecard.user_id).outerjoin(Team, Team.id == Scorecard.team_id)
            .where(Scorecard.period_id == row.id, Scorecard.revision == row.revision,
                   visibility.scorecards_visible(principal, Scorecard.user_id, Scorecard.team_id)))
    people, facts, measures, targets = {}, {}, {}, {}
    for card, name, team in session.execute(stmt).tuples():
        rep = card.inputs["rep"]
        people[card.user_id] = Person(card.user_id, name, card.team_id, team, rep["department"])
        facts[card.user_id] = RepFacts(card.user_id, Level(rep["level"]), rep["department"], rep["region"],
                                       frozenset(rep["product_lines"]), float(rep["monthly_quota"]))
        measures[card.user_id] = {key: Measure(**m) for key, m in card.inputs["measures"].items()}
        targets[card.user_id] = dict(card.inputs["targets"])
    return Gathered(people, facts, measures, targets)


def changes(comparison: Comparison) -> list[dict[str, Any]]:
    """One row per rep in the draft's order: rank, total and tier under each, and how many places they move
    (positive: up)."""
    before = {v.user_id: (n, v) for n, v in enumerate(comparison.active, 1)}
    rows = []
    for rank, view in enumerate(comparison.draft, 1):
        was, old = before.get(view.user_id, (None, None))
        rows.append({"user_id": view.user_id, "name": view.name, "team": view.team, "active_rank": was,
                     "active_total": old.total if old else None, "active_tier": old.tier if old else None,
                     "draft_rank": rank, "draft_total": view.total, "draft_tier": view.tier,
                     "moved": (was - rank) if was is not None else None})
    return rows
