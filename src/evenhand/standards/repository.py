"""The reads compliance needs, in bulk: clocks (lead assignments, stage entries), the activities with those
customers, and the reps' calendars. A period's figures take a handful of statements whatever its size.

Which leads and deals a caller sees is decided by the leads' and deals' own ``readable``; these functions take
the statement of ids to cover."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from evenhand.kit.clock import as_utc
from evenhand.models import Activity, Leave, Opportunity, Stage, StageChange, Team, User
from evenhand.models.lead import Lead
from evenhand.standards.compliance import Act, WorkCalendar, calendar_of

_ACT_COLUMNS = (Activity.id, Activity.type, Activity.occurred_at, Activity.rep_id, Activity.direction,
                Activity.source_system, Activity.duration_seconds, Activity.answered, Activity.replied,
                Activity.attachment_count, Activity.message_count, Activity.lead_id, Activity.opportunity_id)


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


def _act(row: Any) -> Act:
    return Act(id=row[0], type=row[1].value, at=as_utc(row[2]), rep_id=row[3], direction=row[4].value,
               source=row[5].value, duration=row[6], answered=row[7], replied=row[8], attachments=row[9] or 0,
               messages=row[10])


# --- clocks -------------------------------------------------------------------------------------------------------


def lead_clocks(session: Session, lead_ids: Select[Any], *, since: datetime | None = None,
                until: datetime | None = None) -> list[LeadClock]:
    """Owned leads among ``lead_ids`` whose assignment falls in [since, until)."""
    stmt = select(Lead.id, Lead.owner_id, Lead.assigned_at, Lead.closed_at).where(
        Lead.id.in_(lead_ids), Lead.owner_id.is_not(None), Lead.assigned_at.is_not(None))
    if since is not None:
        stmt = stmt.where(Lead.assigned_at >= since)
    if until is not None:
        stmt = stmt.where(Lead.assigned_at < until)
    rows: Any = session.execute(stmt)
    return [LeadClock(i, owner, as_utc(at), as_utc(closed) if closed else None) for i, owner, at, closed in rows]


def stage_clocks(session: Session, deal_ids: Select[Any], stages: Collection[str], *, since: datetime | None = None,
                 until: datetime | None = None) -> list[StageClock]:
    """Entries into ``stages`` of deals among ``deal_ids`` in [since, until), each ended by the deal's next change.
    A deal without recorded changes stands in its current stage since it last moved (or was created)."""
    entered = select(StageChange.opportunity_id).where(StageChange.opportunity_id.in_(deal_ids))
    if since is not None:
        entered = entered.where(StageChange.changed_at >= since)
    if until is not None:
        entered = entered.where(StageChange.changed_at < until)
    stmt = (select(StageChange.opportunity_id, StageChange.to_stage, StageChange.changed_at, Opportunity.owner_id,
                   Opportunity.lead_id).join(Opportunity, Opportunity.id == StageChange.opportunity_id)
            .where(StageChange.opportunity_id.in_(entered))
            .order_by(StageChange.opportunity_id, StageChange.changed_at, StageChange.id))
    rows = session.execute(stmt).all()
    clocks = []
    for i, (deal, stage, at, owner, lead) in enumerate(rows):
        after = rows[i + 1] if i + 1 < len(rows) and rows[i + 1][0] == deal else None
        start = as_utc(at)
        if stage.value in stages and (since is None or start >= since) and (until is None or start < until):
            clocks.append(StageClock(deal, lead, owner, stage.value, start, as_utc(after[2]) if after else None))
    return clocks


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


@dataclass
class Timelines:
    """Activities grouped by the lead and the deal they concern; ``lead_only`` holds those linked to a lead and
    no deal (a call matched by the contact's phone), which also serve that lead's deals."""

    by_lead: dict[int, list[Act]]
    by_deal: dict[int, list[Act]]
    lead_only: dict[int, list[Act]]

    def of_deal(self, deal_id: int, lead_id: int | None) -> list[Act]:
        return [*self.by_deal.get(deal_id, ()), *(self.lead_only.get(lead_id, ()) if lead_id else ())]


def timelines(session: Session, *, lead_ids: Iterable[int] | Select[Any] = (),
              deal_ids: Iterable[int] | Select[Any] = (), deal_lead_ids: Iterable[int] | Select[Any] = (),
              since: datetime | None = None) -> Timelines:
    """Every activity on or after ``since`` with those leads or deals (or, unlinked to any deal, those deals'
    leads), in one statement."""
    ids = [_ids(lead_ids), _ids(deal_ids), _ids(deal_lead_ids)]
    wanted = [c for c, i in zip((Activity.lead_id.in_(ids[0]), Activity.opportunity_id.in_(ids[1]),
                                 Activity.lead_id.in_(ids[2]) & Activity.opportunity_id.is_(None)), ids, strict=True)
              if not (isinstance(i, list) and not i)]
    found = Timelines(defaultdict(list), defaultdict(list), defaultdict(list))
    if not wanted:
        return found
    stmt = select(*_ACT_COLUMNS).where(or_(*wanted))
    if since is not None:
        stmt = stmt.where(Activity.occurred_at >= since)
    rows: Any = session.execute(stmt)
    for row in rows:
        act, lead, deal = _act(row), row[11], row[12]
        if lead is not None:
            found.by_lead[lead].append(act)
            if deal is None:
                found.lead_only[lead].append(act)
        if deal is not None:
            found.by_deal[deal].append(act)
    return found


def _ids(ids: Iterable[int] | Select[Any]) -> list[int] | Select[Any]:
    return ids if isinstance(ids, Select) else sorted(set(ids))


# --- reps ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rep:
    id: int
    name: str
    team_id: int | None
    calendar: WorkCalendar


def reps(session: Session, rep_ids: Collection[int], *, holidays: Iterable[date], first: date, last: date
         ) -> dict[int, Rep]:
    """The reps with their working calendars: weekly hours and zone, company holidays, and their days of leave
    between ``first`` and ``last``."""
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
    return {i: Rep(i, name, team, calendar_of(zone, hours, off | leave[i])) for i, name, team, zone, hours in people}


def team_names(session: Session, team_ids: Collection[int]) -> dict[int, str]:
    if not team_ids:
        return {}
    return dict(session.execute(select(Team.id, Team.name).where(Team.id.in_(sorted(team_ids)))).tuples().all())


def team_members(session: Session, team_id: int) -> list[int]:
    return list(session.scalars(select(User.id).where(User.team_id == team_id)))


def timezone_of(session: Session, user_id: int) -> str | None:
    return session.scalar(select(User.timezone).where(User.id == user_id))
