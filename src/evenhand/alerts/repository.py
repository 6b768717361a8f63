"""The reads alerts need, set-based: which open entities may hold a rule (the SQL side of its bounds), the facts
of a set of entities, and the live alerts. Which alerts a principal reads is ``auth.visibility``'s rule on the
alert's rep (``readable``)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    Select,
    String,
    Table,
    and_,
    case,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    true,
    type_coerce,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from evenhand.alerts import marks
from evenhand.alerts.conditions import OPEN_LEAD_STATUSES, OPEN_STAGES, Bound
from evenhand.alerts.document import CompiledRule
from evenhand.alerts.evaluate import Live
from evenhand.auth.principal import Principal
from evenhand.auth.visibility import owned_by_visible
from evenhand.kit.clock import as_utc
from evenhand.models import (
    Activity,
    Alert,
    AlertAction,
    AlertStatus,
    FlagKind,
    FlagStatus,
    HonestyFlag,
    Opportunity,
    User,
)
from evenhand.models.activity import ActivityType, Direction
from evenhand.models.alerts import AlertMark, AlertScanState, AlertStageClock
from evenhand.models.lead import Lead, LeadStatus
from evenhand.models.opportunity import Stage

CHUNK = 20_000  # ids per statement when reading facts
WORK_MEM = "64MB"  # the anti-join for days without activity hashes an activity per deal: in memory, not in batches
QUIET = ("met", "late")  # a stage standard met, on time or late, stays met on the same clock
CONTACTS = (ActivityType.CALL, ActivityType.EMAIL, ActivityType.MESSAGE)  # what counts as reaching out
MET = (ActivityType.MEETING, ActivityType.VISIT)  # a meeting or a visit is the customer answering
_OPEN_STAGES = tuple(Stage(s) for s in OPEN_STAGES)
_OPEN_LEADS = tuple(LeadStatus(s) for s in OPEN_LEAD_STATUSES)


def among(session: Session, column: Any, ids: Collection[int]) -> ColumnElement[bool]:
    """``column`` is one of ``ids``, sent as ONE parameter (a JSON array read by json_each on SQLite, an array on
    PostgreSQL): an expanding IN of thousands of ids costs more to render and send than the query does."""
    values = sorted(set(ids))
    if session.get_bind().dialect.name == "sqlite":
        return column.in_(select(literal_column("value")).select_from(func.json_each(literal(json.dumps(values)))))
    return column == func.any(literal(values, ARRAY(BigInteger)))


def naive(moment: datetime) -> datetime:
    """Bound parameters compared with stored times, which are naive UTC."""
    return as_utc(moment).replace(tzinfo=None)


# --- which entities may hold ---------------------------------------------------------------------------------


def _unanswered() -> ColumnElement[bool]:
    return and_(Activity.direction == Direction.OUTBOUND, Activity.type.in_(CONTACTS),
                or_(Activity.answered.is_(None), Activity.answered.is_(False)),
                or_(Activity.replied.is_(None), Activity.replied.is_(False)))


def _responded() -> ColumnElement[bool]:
    return or_(Activity.direction == Direction.INBOUND, Activity.answered.is_(True), Activity.replied.is_(True),
               Activity.type.in_(MET))


class Narrowing:
    """The SQL form of one entity type's bounds: ``where(rule)`` is a condition every entity the rule holds for
    meets (a superset); bounds on facts the database cannot bound cheaply narrow nothing."""

    def __init__(self, session: Session, entity: str, rules: Sequence[CompiledRule], now: datetime,
                 deadlines: dict[str, tuple[float, float]], remembered: int | None = None) -> None:
        self.session, self.entity, self.now, self.deadlines, self.rule = session, entity, naive(now), deadlines, ""
        self.within: Collection[int] | None = None
        self.remembered = remembered  # the standards version whose remembered clocks count
        self.key = {"opportunity": Activity.opportunity_id, "lead": Activity.lead_id, "rep": Activity.rep_id}[entity]

    def ago(self, days: float) -> datetime:
        return self.now - timedelta(days=days)

    def where(self, rule: CompiledRule, within: Collection[int] | None = None) -> ColumnElement[bool]:
        """``within``: only these entities (an incremental scan's), which every subquery is narrowed to as well."""
        self.rule, self.within = rule.id, within
        found = [self._bound(b) for b in rule.bounds]
        return and_(true(), *(c for c in found if c is not None))

    def _among(self, column: Any) -> ColumnElement[bool]:
        return true() if self.within is None else among(self.session, column, self.within)

    def _bound(self, bound: Bound) -> ColumnElement[bool] | None:
        method = getattr(self, f"_{self.entity}_{bound.fact}", None)
        return method(bound) if method is not None else None

    def _threshold(self, bound: Bound, stage: Any, scale: float = 1.0) -> Any:
        """The latest moment a clock may have started for ``fact >= value`` (or ``>``) to hold, per stage."""
        if isinstance(bound.value, tuple):
            return case({s: literal(self.ago(v * scale)) for s, v in bound.value}, value=stage, else_=None)
        return literal(self.ago(float(bound.value) * scale))

    def _minimum(self, bound: Bound) -> float:
        value = bound.value
        return min((v for _, v in value), default=0.0) if isinstance(value, tuple) else float(value)

    def _opportunity_days_since_update(self, bound: Bound) -> ColumnElement[bool]:
        latest = self._threshold(bound, Opportunity.stage)
        return and_(Opportunity.created_at <= latest,
                    func.coalesce(Opportunity.stage_changed_at, Opportunity.created_at) <= latest,
                    self._untouched_since(Opportunity.id, latest, bound))

    def _untouched_since(self, entity_id: Any, latest: Any, bound: Bound) -> ColumnElement[bool]:
        """No activity on the entity after ``latest``: an anti-join (PostgreSQL hashes it, in parallel). Only
        activities after the earliest threshold of any stage can count, which the hash is narrowed to first (a
        company's history stays out of it)."""
        values = [v for _, v in bound.value] if isinstance(bound.value, tuple) else [float(bound.value)]
        earliest = literal(self.ago(max(values, default=0.0)))
        return ~select(Activity.id).where(self.key == entity_id, Activity.occurred_at > earliest,
                                          Activity.occurred_at > latest, self._among(self.key)).exists()

    def _opportunity_days_in_stage(self, bound: Bound) -> ColumnElement[bool]:
        return func.coalesce(Opportunity.stage_changed_at, Opportunity.created_at) <= self._threshold(
            bound, Opportunity.stage)

    def _opportunity_standard_missed(self, bound: Bound) -> ColumnElement[bool] | None:
        """The deals whose current stage's deadline has passed, and not long ago: entered between ``latest`` and
        ``earliest`` days ago (see ``service.deadline_band``). Not a superset: an entry whose deadline passed before
        the band was judged by the scans that ran then, and an activity on the deal judges it again (the hook)."""
        if bound.value is not True:
            return None
        band = {s: band for s, band in self.deadlines.items() if s in OPEN_STAGES}
        if not band:
            return false()
        entered, stage = func.coalesce(Opportunity.stage_changed_at, Opportunity.created_at), Opportunity.stage
        alerted = select(Alert.entity_id).where(Alert.rule == self.rule, Alert.entity_type == "opportunity",
                                                Alert.open_key.is_not(None))
        return and_(entered <= case({s: literal(self.ago(lo)) for s, (lo, _) in band.items()}, value=stage),
                    entered >= case({s: literal(self.ago(hi)) for s, (_, hi) in band.items()}, value=stage),
                    Opportunity.id.not_in(alerted), ~self._quiet(entered))

    def _quiet(self, entered: Any) -> ColumnElement[bool]:
        """The deal's standard was judged on this clock, owner and standards version, and found met, or open with
        its deadline still ahead: it cannot be overdue now, so it is not judged again."""
        if self.remembered is None:
            return false()
        clock = AlertStageClock
        return select(clock.opportunity_id).where(
            clock.opportunity_id == Opportunity.id, clock.started_at == entered, clock.rep_id == Opportunity.owner_id,
            clock.standards_version == self.remembered,
            or_(clock.status.in_(QUIET), and_(clock.status == "open", clock.due_at > literal(self.now)))).exists()

    def _opportunity_consecutive_unanswered_outbound(self, bound: Bound) -> ColumnElement[bool] | None:
        return self._counted(bound, Opportunity.id)

    def _lead_consecutive_unanswered_outbound(self, bound: Bound) -> ColumnElement[bool] | None:
        return self._counted(bound, Lead.id)

    def _counted(self, bound: Bound, entity_id: Any) -> ColumnElement[bool] | None:
        """At least K unanswered outbound contacts in all: needed for K in a row."""
        least = self._minimum(bound)
        if least <= 0:
            return None
        count = func.count()
        stmt = select(self.key).where(self.key.is_not(None), self._among(self.key), _unanswered()).group_by(
            self.key).having(
            count >= least if bound.op == ">=" else count > least)
        return entity_id.in_(stmt)

    def _opportunity_unbacked_flags(self, bound: Bound) -> ColumnElement[bool] | None:
        return self._flagged(bound, Opportunity.id, Activity.opportunity_id)

    def _lead_unbacked_flags(self, bound: Bound) -> ColumnElement[bool] | None:
        return self._flagged(bound, Lead.id, Activity.lead_id)

    def _rep_unbacked_flags(self, bound: Bound) -> ColumnElement[bool] | None:
        return self._flagged(bound, User.id, HonestyFlag.rep_id)

    def _rep_duplicate_flags(self, bound: Bound) -> ColumnElement[bool] | None:
        return self._flagged(bound, User.id, HonestyFlag.rep_id, FlagKind.DUPLICATE)

    def _flagged(self, bound: Bound, entity_id: Any, key: Any, kind: FlagKind = FlagKind.UNBACKED
                 ) -> ColumnElement[bool] | None:
        least = self._minimum(bound)
        if not (least >= 1 or (bound.op == ">" and least >= 0)):
            return None  # zero flags would do
        flagged = select(key).select_from(HonestyFlag).join(Activity, Activity.id == HonestyFlag.activity_id).where(
            HonestyFlag.kind == kind, HonestyFlag.status == FlagStatus.OPEN, key.is_not(None), self._among(key))
        return entity_id.in_(flagged)

    def _lead_days_since_update(self, bound: Bound) -> ColumnElement[bool]:
        latest = self._threshold(bound, Lead.status)
        return and_(func.coalesce(Lead.assigned_at, Lead.created_at) <= latest,
                    self._untouched_since(Lead.id, latest, bound))

    def _lead_first_response_minutes(self, bound: Bound) -> ColumnElement[bool] | None:
        if isinstance(bound.value, tuple):
            return None
        return Lead.assigned_at <= literal(self.ago(float(bound.value) / (24 * 60)))

    def _lead_responded(self, bound: Bound) -> ColumnElement[bool] | None:
        return Lead.first_response_at.is_(None) if bound.value is False else None


Within = dict[str, set[int] | None]  # per rule, the entities an incremental scan looks at (None: every one)


def candidates(session: Session, entity: str, rules: Sequence[CompiledRule], now: datetime,
               deadlines: dict[str, tuple[float, float]], remembered: int | None = None,
               within: Within | None = None) -> dict[str, set[int]]:
    """Per rule, the open entities of ``entity`` that pass every bound of it: one statement, a branch per rule (an
    ``OR`` of the rules' bounds would keep PostgreSQL from planning each as the join it is). ``remembered``: the
    active standards version, whose remembered clocks spare the judging of standards that cannot be overdue.
    ``within``: an incremental scan's entities per rule (the same branches, narrowed to them)."""
    narrowing = Narrowing(session, entity, rules, now, deadlines, remembered)
    table, entity_id, scope = _scope(entity)
    branches = []
    for rule in rules:
        ids = None if within is None else within.get(rule.id)
        if ids is None or ids:
            narrowed = and_(scope, among(session, entity_id, ids)) if ids is not None else scope
            branches.append(select(entity_id, literal(rule.id).label("rule")).select_from(table)
                            .where(narrowed, narrowing.where(rule, ids)))
    found: dict[str, set[int]] = {rule.id: set() for rule in rules}
    for i, rule_id in (session.execute(union_all(*branches)).tuples() if branches else ()):
        found[rule_id].add(i)
    return found


# --- what an incremental scan looks at ------------------------------------------------------------------------

MARGIN = timedelta(minutes=2)  # the facts are rounded (0.001 day, 0.1 minute): a window a little wider than (W, T]


def take_marks(session: Session) -> dict[str, set[int]]:
    """The entities marked changed, per entity type, their marks deleted in the scan's transaction (a mark written
    by a transaction that commits after this statement stays for the next scan)."""
    found: dict[str, set[int]] = defaultdict(set)
    table = cast(Table, AlertMark.__table__)
    taken = session.connection().execute(table.delete().returning(table.c.entity_type, table.c.entity_id))
    marks.forget(session)  # a change later in this transaction marks its entity again
    for entity, i in taken.tuples():
        found[str(entity)].add(int(i))
    return found


def scan_state(session: Session) -> AlertScanState | None:
    """The scans' one row, locked: two scans never run over the same window."""
    return session.get(AlertScanState, 1, with_for_update=True)


def crossed(session: Session, entity: str, windows: dict[str, list[tuple[datetime, datetime]]]) -> set[int]:
    """The entities with a moment in one of the windows, per source (``Crossing``'s keys): a superset of those whose
    clock crossed a threshold in them, read by range on indexed columns."""
    found: set[int] = set()
    for source, ranges in windows.items():
        if ranges:
            column, key = _SOURCES[(entity, source)]
            within = or_(*(and_(column > naive(lo), column <= naive(hi)) for lo, hi in sorted(set(ranges))))
            found.update(i for (i,) in session.execute(select(key).where(within, key.is_not(None))).tuples())
    return found


_SOURCES: dict[tuple[str, str], tuple[Any, Any]] = {
    ("opportunity", "created"): (Opportunity.created_at, Opportunity.id),
    ("opportunity", "moved"): (Opportunity.stage_changed_at, Opportunity.id),
    ("opportunity", "activity"): (Activity.occurred_at, Activity.opportunity_id),
    ("opportunity", "due"): (AlertStageClock.due_at, AlertStageClock.opportunity_id),
    ("lead", "created"): (Lead.created_at, Lead.id),
    ("lead", "assigned"): (Lead.assigned_at, Lead.id),
    ("lead", "activity"): (Activity.occurred_at, Activity.lead_id),
}


def waking(session: Session, entity: str, until: datetime) -> set[tuple[str, int]]:
    """(rule, entity) of the snoozed alerts whose time is up by ``until``."""
    stmt = select(Alert.rule, Alert.entity_id).where(
        Alert.status == AlertStatus.SNOOZED, Alert.entity_type == entity, Alert.open_key.is_not(None),
        Alert.snoozed_until <= naive(until + MARGIN))
    return set(session.execute(stmt).tuples())


def analyze(session: Session) -> None:
    """Refresh PostgreSQL's statistics of the alerts and the remembered clocks after a scan that changed many (a
    company's first), so the next scans are not planned with the sizes from before it until autovacuum comes round
    (docs/alerts.md)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE alerts, alert_stage_clocks"))


def roomy(session: Session) -> None:
    """Set up the scan's transaction on PostgreSQL: memory for its anti-joins to hash in, and no JIT compilation
    (the narrowing's estimated cost crosses the JIT threshold, and compiling its expressions took longer than
    running them: 2.4 s against 1.0 s over a million deals)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
        session.execute(text("SET LOCAL jit = off"))


def _scope(entity: str) -> tuple[Any, Any, ColumnElement[bool]]:
    """The table, id and the condition of an entity that rules may hold for: an open deal, an owned open lead that
    came in live, an active person."""
    if entity == "opportunity":
        return Opportunity, Opportunity.id, Opportunity.stage.in_(_OPEN_STAGES)
    if entity == "lead":
        return Lead, Lead.id, and_(Lead.owner_id.is_not(None), Lead.status.in_(_OPEN_LEADS),
                                   Lead.backfilled.is_(False))
    return User, User.id, User.active.is_(True)


# --- facts ------------------------------------------------------------------------------------------------------


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start:start + CHUNK]


def _days(now: datetime, since: datetime | None) -> float | None:
    if since is None:
        return None
    if since.tzinfo is None and now.tzinfo is None:  # both naive UTC, as a bulk read gives them
        return round((now - since).total_seconds() / 86400, 3)
    return round((as_utc(now) - as_utc(since)).total_seconds() / 86400, 3)


def _latest(*moments: datetime | None) -> datetime | None:
    found = [as_utc(m) for m in moments if m is not None]
    return max(found) if found else None


def unanswered_in_a_row(session: Session, key: Any, ids: list[int]) -> dict[int, int]:
    """Outbound contacts (call, e-mail, message) since the customer last answered, replied, wrote or met."""
    answered = (select(key.label("id"), func.max(Activity.occurred_at).label("at"))
                .where(among(session, key, ids), _responded()).group_by(key).subquery())
    stmt = (select(key, func.count()).outerjoin(answered, answered.c.id == key)
            .where(among(session, key, ids), _unanswered(),
                   or_(answered.c.at.is_(None), Activity.occurred_at > answered.c.at))
            .group_by(key))
    return dict(session.execute(stmt).tuples().all())


def flag_counts(session: Session, key: Any, ids: list[int], kind: FlagKind = FlagKind.UNBACKED) -> dict[int, int]:
    """Open honesty flags of a kind, per deal, lead or rep."""
    stmt = (select(key, func.count()).select_from(HonestyFlag).join(Activity, Activity.id == HonestyFlag.activity_id)
            .where(among(session, key, ids), HonestyFlag.kind == kind, HonestyFlag.status == FlagStatus.OPEN)
            .group_by(key))
    return dict(session.execute(stmt).tuples().all())


Facts = dict[int, tuple[int, str, dict[str, Any]]]  # entity id → (its rep, what to call it, its facts)


def opportunity_facts(session: Session, ids: Collection[int], now: datetime) -> Facts:
    """The facts of the open deals among ``ids`` (``standard_missed`` is the service's to add)."""
    out: Facts = {}
    at = naive(now)  # stored times are naive UTC, read here as the driver gives them (a scan reads thousands)
    for chunk in _chunks(ids):
        last = select(func.max(Activity.occurred_at)).where(Activity.opportunity_id == Opportunity.id)
        rows = session.connection().execute(select(
            Opportunity.id, Opportunity.owner_id, Opportunity.name, type_coerce(Opportunity.stage, String()),
            Opportunity.amount, type_coerce(Opportunity.created_at, DateTime()),
            type_coerce(Opportunity.stage_changed_at, DateTime()), type_coerce(last.scalar_subquery(), DateTime()),
        ).where(among(session, Opportunity.id, chunk), Opportunity.stage.in_(_OPEN_STAGES)))
        quiet = unanswered_in_a_row(session, Activity.opportunity_id, chunk)
        flags = flag_counts(session, Activity.opportunity_id, chunk)
        for i, owner, name, stage, amount, created, moved, act in rows.tuples():
            out[i] = (owner, name, {
                "stage": stage, "amount": float(amount or 0), "days_in_stage": _days(at, moved or created),
                "days_since_update": _days(at, max(m for m in (created, moved, act) if m is not None)),
                "consecutive_unanswered_outbound": quiet.get(i, 0), "standard_missed": False,
                "unbacked_flags": flags.get(i, 0)})
    return out


def lead_facts(session: Session, ids: Collection[int], now: datetime) -> Facts:
    """The facts of the owned open leads among ``ids``: the first response is the lead's recorded one, else the
    owner's first outbound contact since the assignment; while there is none, the minutes keep running."""
    out: Facts = {}
    scope = _scope("lead")[2]
    for chunk in _chunks(ids):
        last = select(func.max(Activity.occurred_at)).where(Activity.lead_id == Lead.id)
        first = select(func.min(Activity.occurred_at)).where(
            Activity.lead_id == Lead.id, Activity.rep_id == Lead.owner_id, Activity.direction == Direction.OUTBOUND,
            Activity.type.in_(CONTACTS + MET), Activity.occurred_at >= Lead.assigned_at)
        rows = session.execute(select(Lead.id, Lead.owner_id, Lead.company, Lead.status, Lead.score, Lead.created_at,
                                      Lead.assigned_at, Lead.first_response_at, last.scalar_subquery(),
                                      first.scalar_subquery()).where(among(session, Lead.id, chunk), scope))
        quiet = unanswered_in_a_row(session, Activity.lead_id, chunk)
        flags = flag_counts(session, Activity.lead_id, chunk)
        for row in rows:
            i, owner, company, status, score, created, assigned, recorded, act, contact = tuple(row)
            response = _earliest(recorded, contact)
            since = as_utc(assigned or created)
            out[i] = (owner, company, {
                "status": status.value, "score": score if score is not None else 0,
                "days_since_update": _days(now, _latest(assigned or created, act)),
                "first_response_minutes": round(((response or as_utc(now)) - since).total_seconds() / 60, 1),
                "responded": response is not None, "consecutive_unanswered_outbound": quiet.get(i, 0),
                "standard_missed": False, "unbacked_flags": flags.get(i, 0)})
    return out


def _earliest(*moments: datetime | None) -> datetime | None:
    found = [as_utc(m) for m in moments if m is not None]
    return min(found) if found else None


def rep_facts(session: Session, ids: Collection[int], now: datetime) -> Facts:
    out: Facts = {}
    for chunk in _chunks(ids):
        unbacked = flag_counts(session, HonestyFlag.rep_id, chunk)
        copied = flag_counts(session, HonestyFlag.rep_id, chunk, FlagKind.DUPLICATE)
        rows = session.execute(select(User.id, User.display_name).where(among(session, User.id, chunk),
                                                                               User.active.is_(True)))
        for i, name in rows:
            out[i] = (i, name, {"unbacked_flags": unbacked.get(i, 0), "duplicate_flags": copied.get(i, 0)})
    return out


def flagged_evidence(session: Session, entity: str, ids: list[int]) -> dict[int, list[int]]:
    """The open unbacked flags' ids per deal, lead or rep (an alert's evidence names them)."""
    key = {"opportunity": Activity.opportunity_id, "lead": Activity.lead_id, "rep": HonestyFlag.rep_id}[entity]
    stmt = (select(key, HonestyFlag.id).select_from(HonestyFlag).join(Activity, Activity.id == HonestyFlag.activity_id)
            .where(among(session, key, ids), HonestyFlag.kind == FlagKind.UNBACKED,
                   HonestyFlag.status == FlagStatus.OPEN)
            .order_by(HonestyFlag.id))
    found: dict[int, list[int]] = defaultdict(list)
    for owner, flag in session.execute(stmt).tuples():
        found[int(owner or 0)].append(flag)
    return found


# --- alerts -----------------------------------------------------------------------------------------------------


def live(session: Session, entity: str, ids: Collection[int] | None = None) -> list[Alert]:
    """The unresolved alerts on ``entity`` (on those ``ids`` when given)."""
    stmt = select(Alert).where(Alert.entity_type == entity, Alert.open_key.is_not(None))
    if ids is None:
        return list(session.scalars(stmt))
    return list(session.scalars(stmt.where(among(session, Alert.entity_id, ids))))


def live_rows(session: Session, entity: str, ids: Collection[int]) -> list[Live]:
    """The unresolved alerts on those entities, as the pure core reads them (no ORM objects: a scan sees thousands),
    through the index of live alerts by entity."""
    if not ids:
        return []
    stmt = _live_columns().where(Alert.entity_type == entity, Alert.open_key.is_not(None),
                                 among(session, Alert.entity_id, ids))
    return [_as_live(row) for row in session.execute(stmt).tuples()]


def _live_columns() -> Select[int, str, int, str, datetime]:
    """Status and snooze as the driver gives them: no enum or time zone conversion per row."""
    return select(Alert.id, Alert.rule, Alert.entity_id, type_coerce(Alert.status, String()),
                  type_coerce(Alert.snoozed_until, DateTime()))


def _as_live(row: Sequence[Any]) -> Live:
    i, rule, entity_id, status, snoozed = row[:5]
    return Live(i, rule, entity_id, as_utc(snoozed) if status == AlertStatus.SNOOZED.value and snoozed else None)


def by_ids(session: Session, ids: Collection[int]) -> dict[int, Alert]:
    if not ids:
        return {}
    return {a.id: a for a in session.scalars(select(Alert).where(among(session, Alert.id, ids)))}


def live_keys(session: Session, entity: str, *, settled: Collection[str] = (), within: Within | None = None
              ) -> set[tuple[str, int]]:
    """(rule, entity) of the live alerts to judge again. Those of a ``settled`` rule (whose fact changes only by an
    event: an activity, which the hook judges, or a deal moving) count only once their deal moved or closed since.
    ``within``: an incremental scan's entities per rule: the live alerts on any of them, and every one of a rule
    with None (through the index of live alerts by entity)."""
    stmt = select(Alert.rule, Alert.entity_id).where(Alert.entity_type == entity, Alert.open_key.is_not(None))
    if within is not None:
        everywhere = sorted(rule for rule, ids in within.items() if ids is None)
        ids = set().union(*(ids for ids in within.values() if ids is not None))
        stmt = stmt.where(or_(Alert.rule.in_(everywhere), among(session, Alert.entity_id, ids)))
    if settled and entity == "opportunity":
        moved = select(Opportunity.id).where(Opportunity.id == Alert.entity_id, or_(
            ~Opportunity.stage.in_(_OPEN_STAGES), Opportunity.stage_changed_at > Alert.opened_at)).exists()
        stmt = stmt.where(or_(Alert.rule.not_in(sorted(settled)), moved))
    return set(session.execute(stmt).tuples())


def remember_clocks(session: Session, clocks: Sequence[dict[str, Any]]) -> None:
    """Keep what the scan found of each deal's current stage standard (one row per deal, the latest judging)."""
    if not clocks:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(AlertStageClock)
    kept = ("started_at", "rep_id", "standards_version", "status", "due_at", "judged_at")
    stmt = stmt.on_conflict_do_update(index_elements=["opportunity_id"],
                                      set_={name: stmt.excluded[name] for name in kept})
    for start in range(0, len(clocks), CHUNK):
        session.execute(stmt, list(clocks[start:start + CHUNK]))


def readable(principal: Principal) -> Select[Any]:
    return select(Alert).where(owned_by_visible(principal, Alert.rep_id))


def actions(session: Session, alert_id: int) -> list[tuple[AlertAction, str | None]]:
    stmt = (select(AlertAction, User.display_name).outerjoin(User, User.id == AlertAction.actor_id)
            .where(AlertAction.alert_id == alert_id).order_by(AlertAction.id))
    return list(session.execute(stmt).tuples())


def team_of(session: Session, user_ids: Collection[int]) -> dict[int, int | None]:
    if not user_ids:
        return {}
    return dict(session.execute(select(User.id, User.team_id).where(User.id.in_(sorted(user_ids)))).tuples().all())


def live_counts(session: Session, principal: Principal, now: datetime) -> list[tuple[int | None, str, int]]:
    """(team of the alert's rep, rule, how many) of the live alerts the principal reads; an alert snoozed until
    later is left out, as the inbox leaves it out."""
    awake = (Alert.status != AlertStatus.SNOOZED) | (Alert.snoozed_until <= now)
    stmt = (readable(principal).with_only_columns(User.team_id, Alert.rule, func.count(Alert.id))
            .outerjoin(User, User.id == Alert.rep_id).where(Alert.open_key.is_not(None), awake)
            .group_by(User.team_id, Alert.rule))
    return [(team, rule, int(n)) for team, rule, n in session.execute(stmt).tuples()]
