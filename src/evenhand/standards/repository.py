"""The reads compliance needs, in bulk: clocks (lead assignments, stage entries), the activities with those
customers, and the reps' calendars. A period's figures take a handful of statements whatever its size.

Which leads and deals a caller sees is decided by the leads' and deals' own ``readable``; these functions take
the statement of ids to cover."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Connection, Select, func, literal_column, or_, select
from sqlalchemy.orm import Session

from evenhand.kit.clock import as_utc
from evenhand.kit.cursor import epoch, plain_time, table
from evenhand.models import Activity, Leave, Opportunity, Stage, StageChange, Team, User
from evenhand.models.lead import Lead
from evenhand.standards.compliance import (
    NONE,
    Act,
    ActColumns,
    ClockColumns,
    WorkCalendar,
    calendar_of,
    micros,
    moment,
)
from evenhand.standards.document import ACTIONS, DIRECTIONS, SOURCES, STAGES

# Times are read as epoch microseconds computed by the database (on SQLite the whole seconds of ``kit.cursor.epoch``
# and the stored text's fraction), so the bulk path compares exactly what the one-row path compares.
_FRACTION = "CAST(substr({} || '000000', 21, 6) AS INTEGER)"
_PG_MICROS = "CAST(FLOOR(EXTRACT(EPOCH FROM {}) * 1000000) AS BIGINT)"
Ids = Iterable[int] | Select[Any]


@dataclass(frozen=True)
class LeadClock:
    lead_id: int
    rep_id: int
    start: datetime  # the assignment to the current owner
    ended: datetime | None  # the lead's outcome recorded


@dataclass(frozen=True)
class StageClock:
    opportunity_id: int
    lead_id: int | None
    rep_id: int  # the deal's current owner
    stage: str
    start: datetime
    ended: datetime | None  # the next stage change


# --- the driver's cursor ------------------------------------------------------------------------------------------


def _micros(conn: Connection, column: str) -> Any:
    if conn.dialect.name != "sqlite":
        return literal_column(_PG_MICROS.format(column))
    return epoch(conn, column) * 1_000_000 + literal_column(_FRACTION.format(column))


def _case(column: str, values: Sequence[str], other: int = 7) -> str:
    """A text column as its value's index in ``values`` (``other``: another value)."""
    whens = " ".join(f"WHEN '{v}' THEN {i}" for i, v in enumerate(values))
    return f"(CASE {column} {whens} ELSE {other} END)"


def _code(column: str, values: Sequence[str]) -> Any:
    return literal_column(_case(column, values, NONE))


def _table(session: Session, stmt: Select[Any], width: int) -> np.ndarray:
    """``kit.cursor.table`` after a flush: the cursor reads what this transaction wrote."""
    session.flush()
    return table(session.connection(), stmt, width)


def _in(column: Any, ids: Ids) -> Any:
    return column.in_(ids if isinstance(ids, Select) else sorted(set(ids)))


def _between(conn: Connection, column: Any, since: datetime | None, until: datetime | None) -> list[Any]:
    return ([column >= plain_time(conn, since)] if since is not None else []) + (
        [column < plain_time(conn, until)] if until is not None else [])


# --- clocks -------------------------------------------------------------------------------------------------------


def assigned_leads(session: Session, lead_ids: Ids, *, since: datetime | None = None,
                   until: datetime | None = None) -> Select[Any]:
    """The owned leads among ``lead_ids`` (ids, or a statement of ``Lead.id`` from leads, narrowed in place so the
    database walks the assignment index rather than every lead) whose assignment falls in [since, until) (for the
    cursor's reads)."""
    leads = lead_ids if isinstance(lead_ids, Select) else select(Lead.id).where(_in(Lead.id, lead_ids))
    return leads.where(Lead.owner_id.is_not(None), Lead.assigned_at.is_not(None),
                       *_between(session.connection(), Lead.assigned_at, since, until))


def entered_deals(session: Session, deal_ids: Ids, *, since: datetime | None = None,
                  until: datetime | None = None) -> Select[Any]:
    """The deals among ``deal_ids`` that changed stage in [since, until) (for the cursor's reads)."""
    changed = _between(session.connection(), StageChange.changed_at, since, until)
    return select(StageChange.opportunity_id).where(_in(StageChange.opportunity_id, deal_ids), *changed)


def leads_of(deal_ids: Select[Any]) -> Select[Any]:
    return select(Opportunity.lead_id).where(Opportunity.id.in_(deal_ids), Opportunity.lead_id.is_not(None))


def lead_clock_columns(session: Session, lead_ids: Ids, *, since: datetime | None = None,
                       until: datetime | None = None) -> ClockColumns:
    """Owned leads among ``lead_ids`` whose assignment falls in [since, until): their first contact's clock."""
    conn = session.connection()
    stmt = assigned_leads(session, lead_ids, since=since, until=until).with_only_columns(
        Lead.id, Lead.owner_id, _micros(conn, "leads.assigned_at"), func.coalesce(_micros(conn, "leads.closed_at"),
                                                                                  NONE)).order_by(Lead.id)
    t = _table(session, stmt, 4)
    return ClockColumns(np.zeros(len(t), np.int64), t[:, 0], np.full(len(t), NONE), t[:, 1], t[:, 2], t[:, 3])


def stage_clock_columns(session: Session, deal_ids: Ids, stages: Collection[str], *, since: datetime | None = None,
                        until: datetime | None = None) -> ClockColumns:
    """Entries into ``stages`` of deals among ``deal_ids`` in [since, until), each ended by the deal's next change."""
    conn = session.connection()
    entered = entered_deals(session, deal_ids, since=since, until=until)
    stmt = (select(StageChange.opportunity_id, _code("stage_changes.to_stage", STAGES),
                   _micros(conn, "stage_changes.changed_at"), Opportunity.owner_id,
                   func.coalesce(Opportunity.lead_id, NONE))
            .join(Opportunity, Opportunity.id == StageChange.opportunity_id)
            .where(StageChange.opportunity_id.in_(entered))
            .order_by(StageChange.opportunity_id, StageChange.changed_at, StageChange.id))
    t = _table(session, stmt, 5)
    same = np.append(t[1:, 0] == t[:-1, 0], False) if len(t) else np.zeros(0, bool)
    ended = np.where(same, np.append(t[1:, 2], NONE), NONE)
    keep = np.isin(t[:, 1], [STAGES.index(s) for s in stages if s in STAGES]) & (t[:, 1] > 0)
    keep &= (t[:, 2] >= micros(since)) if since is not None else True
    keep &= (t[:, 2] < micros(until)) if until is not None else True
    return ClockColumns(t[:, 1], t[:, 4], t[:, 0], t[:, 3], t[:, 2], ended).take(keep)


def lead_clocks(session: Session, lead_ids: Ids, *, since: datetime | None = None,
                until: datetime | None = None) -> list[LeadClock]:
    """``lead_clock_columns`` one by one."""
    c = lead_clock_columns(session, lead_ids, since=since, until=until)
    return [LeadClock(lead, rep, moment(start), None if end == NONE else moment(end))
            for lead, rep, start, end in zip(c.lead.tolist(), c.rep.tolist(), c.start.tolist(), c.ended.tolist(),
                                             strict=True)]


def stage_clocks(session: Session, deal_ids: Ids, stages: Collection[str], *, since: datetime | None = None,
                 until: datetime | None = None) -> list[StageClock]:
    """``stage_clock_columns`` one by one, in the deal's order of changes. A deal without recorded changes stands
    in its current stage since it last moved (or was created): see ``unrecorded_stage``."""
    c = stage_clock_columns(session, deal_ids, stages, since=since, until=until)
    return [StageClock(deal, None if lead == NONE else lead, rep, STAGES[stage], moment(start),
                       None if end == NONE else moment(end))
            for stage, lead, deal, rep, start, end in zip(*(x.tolist() for x in (c.stage, c.lead, c.deal, c.rep,
                                                                                  c.start, c.ended)), strict=True)]


def with_history(session: Session, deal_ids: Collection[int]) -> set[int]:
    """The deals among ``deal_ids`` that have recorded stage changes."""
    stmt = select(StageChange.opportunity_id).where(StageChange.opportunity_id.in_(sorted(deal_ids))).distinct()
    return set(session.scalars(stmt))


def unrecorded_stage(session: Session, deal: Opportunity) -> StageClock | None:
    """A deal with no stage history: its current open stage since it last moved (or was created)."""
    if deal.stage in (Stage.WON, Stage.LOST):
        return None
    return StageClock(deal.id, deal.lead_id, deal.owner_id, deal.stage.value,
                      as_utc(deal.stage_changed_at or deal.created_at), None)


# --- activities ---------------------------------------------------------------------------------------------------


def activity_columns(session: Session, *, lead_ids: Ids = (), deal_ids: Ids = (), deal_lead_ids: Ids = (),
                     since: datetime | None = None, until: datetime | None = None, every: bool = False,
                     types: Collection[str] | None = None) -> ActColumns:
    """Every activity in [since, until] with those leads or deals (or, linked to no deal, those deals' leads), of
    ``types`` when given (those the standards name: no other can meet a requirement), in one statement, as columns.
    ``every``: all activities in [since, until] whatever they concern, for a reader of the whole company, where
    walking the table by time (there is no index on the time alone) costs about half of looking up each lead's and
    deal's activities in the indexes (docs/board.md)."""
    conn = session.connection()
    conditions = [_in(Activity.lead_id, lead_ids), _in(Activity.opportunity_id, deal_ids),
                  _in(Activity.lead_id, deal_lead_ids) & Activity.opportunity_id.is_(None)]
    chosen = [c for c, ids in zip(conditions, (lead_ids, deal_ids, deal_lead_ids), strict=True)
              if isinstance(ids, Select) or ids]
    if not chosen:
        return _unpacked(np.zeros((0, 9), np.int64))
    stmt = select(
        Activity.id, _micros(conn, "activities.occurred_at"), Activity.rep_id, func.coalesce(Activity.lead_id, NONE),
        func.coalesce(Activity.opportunity_id, NONE), _packed(), func.coalesce(Activity.duration_seconds, NONE),
        func.coalesce(Activity.attachment_count, 0), func.coalesce(Activity.message_count, NONE),
    ).where(*_between(conn, Activity.occurred_at, since, None))
    if not every:
        stmt = stmt.where(or_(*chosen))
    if until is not None:
        stmt = stmt.where(Activity.occurred_at <= plain_time(conn, until))
    if types is not None:
        stmt = stmt.where(Activity.type.in_(sorted(types)))
    return _unpacked(_table(session, stmt, 9))


# The small codes of a row travel as one integer, three bits each for the type, direction and source (7: another
# value) and two for answered and replied (0 unknown, 1 no, 2 yes): the cursor hands over each column of each row
# as an object, and four fewer columns take a sixth off reading a period.
_FIELDS = (("type", 0, 3), ("direction", 3, 3), ("source", 6, 3), ("answered", 9, 2), ("replied", 11, 2))


def _packed() -> Any:
    flag = "(COALESCE(CAST(activities.{} AS INTEGER), -1) + 1)"
    return literal_column(" + ".join((
        _case("activities.type", ACTIONS), "8 * " + _case("activities.direction", DIRECTIONS),
        "64 * " + _case("activities.source_system", SOURCES), "512 * " + flag.format("answered"),
        "2048 * " + flag.format("replied"))))


def _unpacked(t: np.ndarray) -> ActColumns:
    fields = {name: (t[:, 5] >> shift) & ((1 << width) - 1) for name, shift, width in _FIELDS}
    for name in ("type", "direction", "source"):
        fields[name] = np.where(fields[name] == 7, NONE, fields[name])
    for name in ("answered", "replied"):
        fields[name] = fields[name] - 1
    return ActColumns(id=t[:, 0], at=t[:, 1], rep=t[:, 2], lead=t[:, 3], deal=t[:, 4], duration=t[:, 6],
                      attachments=t[:, 7], messages=t[:, 8], **fields)


@dataclass
class Timelines:
    """Activities grouped by the lead and the deal they concern; ``lead_only`` holds those linked to a lead and
    no deal (a call matched by the contact's phone), which also serve that lead's deals."""

    by_lead: dict[int, list[Act]]
    by_deal: dict[int, list[Act]]
    lead_only: dict[int, list[Act]]

    def of_deal(self, deal_id: int, lead_id: int | None) -> list[Act]:
        return [*self.by_deal.get(deal_id, ()), *(self.lead_only.get(lead_id, ()) if lead_id else ())]

    @classmethod
    def of(cls, columns: ActColumns) -> Timelines:
        found = cls(defaultdict(list), defaultdict(list), defaultdict(list))
        for i, (lead, deal) in enumerate(zip(columns.lead.tolist(), columns.deal.tolist(), strict=True)):
            act = columns.act(i)
            if lead != NONE:
                found.by_lead[lead].append(act)
                if deal == NONE:
                    found.lead_only[lead].append(act)
            if deal != NONE:
                found.by_deal[deal].append(act)
        return found


def timelines(session: Session, *, lead_ids: Ids = (), deal_ids: Ids = (), deal_lead_ids: Ids = (),
              since: datetime | None = None, until: datetime | None = None) -> Timelines:
    """``activity_columns`` grouped for the one-row path."""
    return Timelines.of(activity_columns(session, lead_ids=lead_ids, deal_ids=deal_ids, deal_lead_ids=deal_lead_ids,
                                         since=since, until=until))


# --- reps ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rep:
    id: int
    name: str
    team_id: int | None
    calendar: WorkCalendar


def reps(session: Session, rep_ids: Collection[int], *, holidays: Iterable[date], workdays: Iterable[date],
         first: date, last: date) -> dict[int, Rep]:
    """The reps with their working calendars: weekly hours and zone, company holidays and make-up working days, and
    their days of leave between ``first`` and ``last``."""
    if not rep_ids:
        return {}
    ids = sorted(rep_ids)
    leave: dict[int, set[date]] = defaultdict(set)
    stmt = select(Leave.user_id, Leave.starts_on, Leave.ends_on).where(
        Leave.user_id.in_(ids), Leave.ends_on >= first, Leave.starts_on <= last)
    for user, start, end in session.execute(stmt):
        day = max(start, first)
        while day <= min(end, last):
            leave[user].add(day)
            day += timedelta(days=1)
    off = set(holidays)
    people = session.execute(select(User.id, User.display_name, User.team_id, User.timezone, User.working_hours)
                             .where(User.id.in_(ids))).tuples()
    on = frozenset(workdays)
    return {i: Rep(i, name, team, calendar_of(zone, hours, off | leave[i], on))
            for i, name, team, zone, hours in people}


def team_names(session: Session, team_ids: Collection[int]) -> dict[int, str]:
    if not team_ids:
        return {}
    return dict(session.execute(select(Team.id, Team.name).where(Team.id.in_(sorted(team_ids)))).tuples().all())


def team_members(session: Session, team_id: int) -> list[int]:
    return list(session.scalars(select(User.id).where(User.team_id == team_id)))


def timezone_of(session: Session, user_id: int) -> str | None:
    return session.scalar(select(User.timezone).where(User.id == user_id))
