"""Reading the organisation as routing sees it: one ``RepState`` per rep, counted as of ``now``.

Counts are the rep's own day and ISO week in the organisation's zone; win rates come from the deals
the rep closed in the last ``WIN_WINDOW_DAYS``; quota attainment is this month's won amount against
the monthly quota.

Only the reps a decision can choose from need counting: ``rep_states(members=...)`` reads the roster
(membership and presence are cheap) and returns the pool's members alone, counted in one statement
of three grouped parts over their own rows. Reps outside the pool are not candidates and are not in the evidence: in
a company of 500 reps their states would make every decision record some 150 KB.
"""

from __future__ import annotations

import enum
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    CompoundSelect,
    Integer,
    Select,
    String,
    and_,
    any_,
    bindparam,
    case,
    func,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from evenhand.kit import revision
from evenhand.kit.bounded import Bounded
from evenhand.kit.clock import as_utc
from evenhand.kit.cursor import Listed, Prepared
from evenhand.kit.revision import Revision, Revisioned
from evenhand.models import (
    Department,
    Lead,
    LeadStatus,
    Leave,
    Opportunity,
    OwnerStamp,
    ProductLine,
    Region,
    Role,
    Stage,
    Team,
    User,
    UserGrant,
)
from evenhand.models.org import user_product_lines
from evenhand.routing.policy import CompiledPool
from evenhand.routing.values import LeadSnapshot, RepState

WIN_WINDOW_DAYS = 180
OPEN = (LeadStatus.ASSIGNED, LeadStatus.CONTACTED, LeadStatus.QUALIFIED)
CARRIERS = (Role.REP, Role.SUPERVISOR)


def lead_snapshot(lead: Lead) -> LeadSnapshot:
    return LeadSnapshot(id=lead.id, score=lead.score or 0, source=lead.source, industry=lead.industry,
                        region=lead.region, company_size=lead.company_size, title=lead.title, company=lead.company)


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return as_utc(datetime.combine(day, time.min, tzinfo=zone))


def rep_states(session: Session, now: datetime, zone: ZoneInfo, *, high_value: int,
               members: Callable[[RepState], bool] | None = None, narrow_to: CompiledPool | None = None,
               also: Collection[int] = ()) -> list[RepState]:
    """The users who can carry leads (reps, and supervisors who sell) that ``members`` accepts (everyone
    when None), with today's counts, open leads, win record and quota attainment.

    ``narrow_to`` reads only the users who can meet that pool's team, department, level and user lists
    (and those in ``also``) — a superset of its members that SQL can find, so a company of 500 reps is not
    read whole for each lead; ``members`` still decides exactly."""
    return Roster(session, now, zone, high_value=high_value, revision=revision.current(session)).reps(
        narrow_to, members, also)


class Roster:
    """The organisation as one transaction sees it at ``now``, for routing one lead or many.

    Who may carry leads is read once per pool shape, and each rep's counts once, when a decision first
    needs them; ``assigned`` then keeps the counts current as leads go out, exactly as a fresh count
    would find them (the lead is assigned at ``now`` and open). So a batch of leads routed through one
    ``Roster`` meets the same states as each lead routed in its own transaction.

    Who may carry leads changes rarely: it is kept in process for the configuration ``revision`` (``kit.revision``;
    None reads it afresh), the local day (leave) and the stretch of it in which the same grants are in force."""

    def __init__(self, session: Session, now: datetime, zone: ZoneInfo, *, high_value: int,
                 revision: Revision | None) -> None:
        self.session, self.now, self.zone, self.high_value = session, now, zone, high_value
        self.revision = revision
        self._side: _Side | None = None
        self._users: dict[tuple[Any, ...], tuple[tuple[Any, ...], Sequence[RepState]]] = {}  # with the cache's key
        self._counted: dict[int, RepState] = {}
        self._bases: dict[int, RepState] = {}  # the roster's state each counted one was made from
        self._quotas: dict[int, float] = {}
        self._until: dict[int, datetime | None] = {}  # when each rep's counts change with no write
        self._stamps_read: dict[int, int | None] = {}  # the stamps of the reps the last ``count`` read
        self._writes = -1  # ``revision.writes_seen`` when the last count was taken
        self._stamped = revision is not None and session.get_bind().dialect.name == "sqlite"
        self._today = as_utc(now).astimezone(zone).date()

    def reps(self, narrow_to: CompiledPool | None = None, members: Callable[[RepState], bool] | None = None,
             also: Collection[int] = ()) -> list[RepState]:
        """The users ``members`` accepts among those who can meet ``narrow_to`` (see ``rep_states``), counted."""
        return self.counted(self.uncounted(narrow_to, members, also))

    def uncounted(self, narrow_to: CompiledPool | None = None, members: Callable[[RepState], bool] | None = None,
                  also: Collection[int] = (), *, kept_as: Hashable = None) -> list[RepState]:
        """The reps ``members`` accepts among those who can meet ``narrow_to``, not counted. ``kept_as``: a key that
        names what ``members`` accepts (the same key, the same reps): the answer is then kept in process with the
        roster it was taken from, for the configuration revision."""
        roster, reps = self._roster(narrow_to, also)

        def accepted() -> list[RepState]:
            return [rep for rep in reps if members is None or members(rep)]

        if kept_as is None or self.revision is None:
            return accepted()
        return _MEMBERS.get(self.session, self.revision, (roster, kept_as), accepted)

    def counted(self, reps: Sequence[RepState]) -> list[RepState]:
        self.count(reps)
        return [self._counted[rep.id] for rep in reps]

    def count(self, reps: Iterable[RepState]) -> None:
        """Count, in one go, those of ``reps`` not counted yet: on SQLite, a rep whose stamp this process has counts
        for is not read again, and the counted state kept with them is used as it is when it was made from the same
        roster state (the roster's states are shared while the configuration revision holds)."""
        missing = list({rep.id: rep for rep in reps if rep.id not in self._counted}.values())
        if not missing:
            return
        self.session.flush()  # counts go to the connection directly, past the session's autoflush
        ids = [rep.id for rep in missing]
        kept = self._kept(ids)
        found: dict[int, dict[str, Any]] = {}
        if fresh := [rep for rep in ids if rep not in kept]:
            found, until = _counts(self.session, fresh, self.now, self.zone, self.high_value, self._quotas)
            self._until |= {rep: until.get(rep) for rep in fresh}
        for rep in missing:
            one = kept.get(rep.id)
            self._bases[rep.id] = rep
            if one is None:
                self._counted[rep.id] = replace(rep, **found[rep.id])
            else:  # the same roster state: the counted one as it is; another: the counts on it
                self._counted[rep.id] = one.state if one.base is rep else replace(
                    rep, **{name: getattr(one.state, name) for name in COUNTED})
        if fresh and self._stamped:
            self._store([rep for rep in fresh if rep in self._stamps_read], self._stamps_read)
        self._writes = revision.writes_seen(self.session) if self._stamped else -1

    def _key(self, rep: int, stamp: int | None) -> tuple[Any, ...]:
        return self.revision, self.high_value, self.zone.key, self._today, rep, stamp

    def _kept(self, ids: Sequence[int]) -> dict[int, _Counts]:
        """What this process keeps for those of ``ids`` whose stamps it knows (SQLite), the stamps read."""
        self._stamps_read = {}
        if not self._stamped:
            return {}
        stamps = _stamps(self.session.connection(), ids)
        self._stamps_read = {rep: stamps.get(rep) for rep in ids}
        now, out = as_utc(self.now), {}
        for rep, stamp in self._stamps_read.items():
            kept = _KEPT.get(self._key(rep, stamp))
            # Not before the moment they were taken: a deal that had left the win window then may be in it now.
            if kept is not None and kept.at <= now and (kept.until is None or now < kept.until):
                out[rep] = kept
                self._until[rep] = kept.until
        return out

    def _store(self, reps: Iterable[int], stamps: Mapping[int, int | None]) -> None:
        now = as_utc(self.now)
        _KEPT.store({self._key(rep, stamps.get(rep)): _Counts(now, self._until.get(rep), self._bases[rep],
                                                              self._counted[rep]) for rep in reps})

    def keep(self, reps: Collection[int]) -> None:
        """Keep the counts of these reps as this transaction's writes left them (``assigned``), under the stamps
        those writes drew: read again now, with nothing else able to write meanwhile (SQLite's writer holds the
        database). Call it once the leads' rows are written; a rolled-back transaction's stamps are never seen
        again, so what it kept is never used. Nothing is kept if anything else may have written since the count (a
        flush, a Core or text statement: ``revision.writes_seen``), which the stamps now read would cover too; what
        waits in the session unflushed draws a stamp of its own when it is flushed."""
        reps = [rep for rep in reps if rep in self._counted]
        if not self._stamped or not reps or revision.writes_seen(self.session) != self._writes:
            return
        self._store(reps, _stamps(self.session.connection(), reps))

    def assigned(self, rep_id: int, score: int) -> None:
        """A lead with ``score`` went to ``rep_id`` at ``now``."""
        rep = self._counted.get(rep_id)
        if rep is None:
            return  # never counted here: a later read counts it from the database, lead included
        high = int(score >= self.high_value)
        self._counted[rep_id] = replace(rep, open_leads=rep.open_leads + 1, leads_today=rep.leads_today + 1,
                                        leads_this_week=rep.leads_this_week + 1,
                                        high_value_today=rep.high_value_today + high,
                                        high_value_this_week=rep.high_value_this_week + high)

    def _roster(self, narrow_to: CompiledPool | None,
                also: Collection[int]) -> tuple[tuple[Any, ...], Sequence[RepState]]:
        """The reps who can meet ``narrow_to`` (or are in ``also``), with their key in the process's cache."""
        key = _roster_key(narrow_to, also)
        if key not in self._users:
            self.session.flush()
            side, now = self._side_tables(), as_utc(self.now)
            kept = (*key, self.zone.key, side.day, side.stretch(now))
            reps, quotas = _ROSTERS.get(self.session, self.revision, kept,
                                        lambda: _roster(self.session.connection(), *key, side, now))
            self._quotas |= quotas
            self._users[key] = kept, reps
        return self._users[key]

    def _side_tables(self) -> _Side:
        if self._side is None:
            today = as_utc(self.now).astimezone(self.zone).date()
            self._side = _SIDES.get(self.session, self.revision, (self.zone.key, today),
                                    lambda: _side_tables(self.session.connection(), today, self.zone))
        return self._side


# --- the roster: who, where, when they work, whether they are here -------------------------------
# Statements are built once: SQLAlchemy then reuses their compiled form and cache key, which costs more
# than the queries themselves here (a few hundred microseconds per decision).
_GRANTS = select(UserGrant.user_id, UserGrant.grant, UserGrant.expires_at).where(
    or_(UserGrant.expires_at.is_(None), UserGrant.expires_at > bindparam("since")))
_LEAVES = select(Leave.user_id, Leave.starts_on, Leave.ends_on).where(
    Leave.ends_on >= bindparam("from_day"), Leave.starts_on <= bindparam("to_day"))
_LINES = select(user_product_lines.c.user_id, ProductLine.code).join(
    ProductLine, ProductLine.id == user_product_lines.c.product_line_id)
# Each user with their team's name, its department's code and their region's code (their own, else
# their team's).
_USERS = (select(User.id, User.username, User.level, Team.name, Department.code, Region.code, User.skills,
                 User.active, User.left_on, User.presence, User.presence_since, User.timezone, User.working_hours,
                 User.max_open_leads, User.daily_lead_cap, User.monthly_quota)
          .outerjoin(Team, Team.id == User.team_id).outerjoin(Department, Department.id == Team.department_id)
          .outerjoin(Region, Region.id == func.coalesce(User.region_id, Team.region_id))
          .where(User.role.in_(CARRIERS)).order_by(User.id))


_IN_SQL = {"teams": Team.name, "departments": Department.code, "levels": User.level, "users": User.username}


def _lists_in_sql(pool: CompiledPool) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((name, tuple(listed)) for name, _, listed in pool.lists if name in _IN_SQL)


@lru_cache(maxsize=256)
def _narrowed(lists: tuple[tuple[str, tuple[str, ...]], ...], with_also: bool) -> Select[Any]:
    """``_USERS`` limited to the pool's lists (all must hold, as in ``availability.membership``)."""
    if not lists:
        return _USERS
    met = and_(*[_IN_SQL[name].in_(values) for name, values in lists])
    return _USERS.where(or_(met, User.id.in_(bindparam("also", expanding=True))) if with_also else met)


class _Side(NamedTuple):
    """Grants, leave and product lines as one local day sees them: every grant in force at some moment of it."""

    day: date
    grants: dict[int, list[tuple[str, datetime | None]]]  # with the moment each expires
    expiries: tuple[datetime, ...]  # those moments, sorted
    leaves: dict[int, list[tuple[date, date]]]
    lines: dict[int, list[str]]

    def stretch(self, now: datetime) -> int:
        """Which stretch between two expiries ``now`` is in: the same grants are in force all through one."""
        return bisect_right(self.expiries, now)

    def grants_at(self, user_id: int, now: datetime) -> tuple[str, ...]:
        return tuple(grant for grant, until in self.grants.get(user_id, ()) if until is None or until > now)


_Lists = tuple[tuple[str, tuple[str, ...]], ...]
_Cached = tuple[tuple[RepState, ...], dict[int, float]]
# Kept for a configuration revision; a new day, or a grant expiring, is a new key.
_SIDES: Revisioned[tuple[str, date], _Side] = Revisioned(keep=16)
_ROSTERS: Revisioned[tuple[_Lists | None, tuple[int, ...], str, date, int], _Cached] = Revisioned(keep=256)
# A pool's members among a roster's reps, under that roster's key and what names the members (``uncounted``).
_MEMBERS: Revisioned[tuple[tuple[Any, ...], Hashable], list[RepState]] = Revisioned(keep=1024)


def _roster_key(narrow_to: CompiledPool | None, also: Collection[int]) -> tuple[_Lists | None, tuple[int, ...]]:
    return _lists_in_sql(narrow_to) if narrow_to else None, tuple(sorted(also))


def _side_tables(conn: Connection, today: date, zone: ZoneInfo) -> _Side:
    grants = _grouped((u, (g, until)) for u, g, until in conn.execute(
        _GRANTS, {"since": _day_start(today, zone)}).tuples())
    return _Side(
        day=today, grants=grants,
        expiries=tuple(sorted({as_utc(until) for pairs in grants.values() for _, until in pairs if until})),
        leaves=_grouped((u, (a, b)) for u, a, b in conn.execute(
            _LEAVES, {"from_day": today - timedelta(days=1), "to_day": today + timedelta(days=1)}).tuples()),
        lines=_grouped(conn.execute(_LINES).tuples()))


def _roster(conn: Connection, lists: _Lists | None, also: tuple[int, ...], side: _Side, now: datetime) -> _Cached:
    """The users as ``RepState``s (uncounted) with their monthly quotas; ``lists`` narrows them (``_narrowed``)."""
    users = _USERS if lists is None else _narrowed(lists, bool(also))
    out, quotas = [], {}
    for uid, username, level, team, department, region, skills, active, left_on, presence, since, tz, hours, \
            cap_open, cap_day, quota in conn.execute(users, {"also": list(also)} if also else {}).tuples():
        quotas[uid] = float(quota or 0)
        out.append(RepState(
            id=uid, username=username, level=level.value, team=team, department=department, region=region,
            skills=tuple(skills or ()), product_lines=tuple(side.lines.get(uid, ())),
            grants=side.grants_at(uid, now), active=active, left_on=left_on, presence=presence.value,
            presence_since=since, timezone=tz,
            working_hours={d: tuple((a, b) for a, b in spans) for d, spans in (hours or {}).items()},
            leaves=tuple(side.leaves.get(uid, ())), max_open_leads=cap_open, daily_lead_cap=cap_day))
    return tuple(out), quotas


def _grouped(pairs: Iterable[tuple[int, Any]]) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = defaultdict(list)
    for key, value in pairs:
        out[key].append(value)
    return out


# --- counts: the members' own rows, through the (owner, …) indexes --------------------------------

def _inline(members: Iterable[enum.Enum]) -> list[Any]:
    """A fixed list of enum values written into the statement, not bound: an IN list of bound values is rendered
    again at every execution."""
    values = [str(member.value) for member in members]
    assert all(value.isidentifier() for value in values)
    return [literal_column(f"'{value}'", String) for value in values]


_HIGH = Lead.score >= bindparam("high_value")
_TODAY = Lead.assigned_at >= bindparam("day")
_WEEK = Lead.assigned_at >= bindparam("week")
_OPEN = Lead.status.in_(_inline(OPEN))
_CLOSED = Opportunity.stage.in_(_inline((Stage.WON, Stage.LOST)))
_WON = Opportunity.stage == Stage.WON
_IN_WINDOW = Opportunity.closed_at >= bindparam("since")
_ZERO = literal_column("0", Integer)
_NONE = null()


def _part(number: int) -> Any:
    return literal_column(str(number), Integer)


def _n(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _member_counts(owned: Callable[[Any], Any]) -> CompoundSelect[Any]:
    """One statement in three parts, each answered from one index without reading a row of its table: wins and
    closed deals in the window and the amount won since the month began (ix_opportunities_owner_closed); leads
    assigned this week and today, all and high-value (ix_leads_owner_assigned); open leads
    (ix_leads_owner_status). One part with ``assigned this week OR open`` would read every row of the rep's
    history. ``owned(column)`` limits a part to the members' ids, bound as one parameter of a fixed shape, so
    the statement renders the same whatever their number. Rows are (part, owner, a, b, c, d, amount, first): the
    records go first, so the amount keeps the type (and rounding) of the amount column, and ``first`` (the first
    deal counted in the window: the counts hold until it leaves) the type of a time."""
    records = (select(_part(_RECORDS_PART), Opportunity.owner_id, _n(and_(_WON, _IN_WINDOW)),
                      _n(_IN_WINDOW), _ZERO, _ZERO,
                      func.sum(case((and_(_WON, Opportunity.closed_at >= bindparam("month")), Opportunity.amount),
                                    else_=0)), func.min(Opportunity.closed_at))
               .where(owned(Opportunity.owner_id), _IN_WINDOW, _CLOSED)
               .group_by(Opportunity.owner_id))
    assigned = (select(_part(_ASSIGNED_PART), Lead.owner_id, func.count(), _n(_TODAY), _n(_HIGH),
                       _n(and_(_TODAY, _HIGH)), _NONE, _NONE)
                .where(owned(Lead.owner_id), _WEEK).group_by(Lead.owner_id))
    open_leads = (select(_part(_OPEN_PART), Lead.owner_id, func.count(), _ZERO, _ZERO, _ZERO, _NONE, _NONE)
                  .where(owned(Lead.owner_id), _OPEN).group_by(Lead.owner_id))
    return union_all(records, assigned, open_leads)


_RECORDS_PART, _ASSIGNED_PART, _OPEN_PART = 0, 1, 2
# The members' ids are bound as a list of a fixed length on SQLite (``kit.cursor.Listed``): a set-valued parameter
# (json_each) would hide their number from its planner, which then prefers the stage index to the owner's.
# PostgreSQL takes them as one array.
_LISTED = Listed(lambda in_: _member_counts(lambda owner: in_(owner, "ids")))
_ARRAY = Prepared(_member_counts(lambda owner: owner == any_(bindparam("ids", type_=ARRAY(BigInteger)))))


COUNTED = ("leads_this_week", "leads_today", "high_value_this_week", "high_value_today", "open_leads", "wins",
           "deals", "quota_attainment")  # what ``_counts`` sets on a RepState


def _counts(session: Session, ids: Sequence[int], now: datetime, zone: ZoneInfo, high_value: int,
            quotas: dict[int, float]) -> tuple[dict[int, dict[str, Any]], dict[int, datetime]]:
    """Each rep's counts (``COUNTED``), and for those with deals in the win window, when the first of them leaves
    it (their counts then change with no write)."""
    today = as_utc(now).astimezone(zone).date()
    conn = session.connection()
    params = {"high_value": high_value, "day": _day_start(today, zone),
               "week": _day_start(today - timedelta(days=today.weekday()), zone),
               "since": as_utc(now) - timedelta(days=WIN_WINDOW_DAYS), "month": _day_start(today.replace(day=1), zone)}
    out: dict[int, dict[str, Any]] = {rep: {"leads_this_week": 0, "leads_today": 0, "high_value_this_week": 0,
                                            "high_value_today": 0, "open_leads": 0} for rep in ids}
    records: dict[int, tuple[int, int, float]] = {}
    until: dict[int, datetime] = {}
    found = (_ARRAY.rows(conn, params | {"ids": list(ids)}) if conn.dialect.name == "postgresql"
             else _LISTED.rows(conn, {"ids": ids}, params))
    for part, owner, a, b, c, d, amount, first in found:
        if part == _ASSIGNED_PART:
            out[owner] |= {"leads_this_week": int(a), "leads_today": int(b or 0),  # owner: one of ids
                           "high_value_this_week": int(c or 0), "high_value_today": int(d or 0)}
        elif part == _OPEN_PART:
            out[owner]["open_leads"] = int(a)
        else:
            records[owner] = (int(a or 0), int(b or 0), float(amount or 0))
            if first is not None:
                until[owner] = as_utc(first) + timedelta(days=WIN_WINDOW_DAYS)
    for rep in ids:
        wins, deals, won = records.get(rep, (0, 0, 0.0))
        quota = quotas.get(rep, 0.0)
        out[rep] |= {"wins": wins, "deals": deals, "quota_attainment": won / quota if quota > 0 else None}
    return out, until


# --- counts kept in process (SQLite): under each rep's stamp (``models.routing.OwnerStamp``) ---------------------
# A rep's counts as some transaction read or left them, under the stamp their rows then had, the configuration
# revision (the quota; its random stamp also tells one database from another), the threshold and the local day;
# valid from the moment they were taken until a deal counted leaves the win window. A stamp is drawn again by every
# write to the rep's leads and deals, in the writer's transaction: counts kept under a stamp hold exactly while the
# database shows that stamp. Each entry: when the counts were taken, until when they hold, and the counted state that
# carries them with the roster's state it was made from (used as it is by a roster that has that same state).


class _Counts(NamedTuple):
    at: datetime
    until: datetime | None
    base: RepState
    state: RepState


_KEPT: Bounded[tuple[Any, ...], _Counts] = Bounded(4096)
_STAMPS = Listed(lambda in_: select(OwnerStamp.user_id, OwnerStamp.stamp).where(in_(OwnerStamp.user_id, "ids")))


def _stamps(conn: Connection, ids: Sequence[int]) -> dict[int, int]:
    """The reps' stamps (a rep none of whose rows was ever written since has none)."""
    return dict(_STAMPS.rows(conn, {"ids": ids})) if ids else {}


