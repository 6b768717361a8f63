"""The process board: per stage, for everyone the caller reads, each team and each rep — time in stage, conversion,
where open deals are stuck, the lead-to-won cycle and first response — for a period beside the one before it, and
the deals (or leads) behind any figure. Computed from the tables on every request (``figures`` says how).

Visibility is the deals' and leads' own ``readable``: a rep's board covers their own records, a supervisor's their
teams', staff's everyone's. Team rows are shown to those who see colleagues' figures (``sees_team_figures``).
Compliance with the stage standards is read from ``standards.service.figures``, never recomputed here."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.board import figures as core
from evenhand.board import repository
from evenhand.board.figures import OPEN, STAGES, Facts, Window
from evenhand.board.repository import Filters, Pipeline
from evenhand.errors import Invalid
from evenhand.i18n import N_
from evenhand.kit.clock import as_utc, utcnow
from evenhand.org import service as org_service
from evenhand.standards import service as standards

DEFAULT_DAYS = 30
MAX_DAYS = 366
DRILL_LIMIT = 500
FIGURES = ("time_in_stage", "conversion", "stuck", "cycle", "first_response")
OUTCOMES = ("open", "advanced", "lost")
_MONTH = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True)
class Period:
    since: datetime
    until: datetime
    previous_since: datetime

    def windows(self, now: datetime) -> tuple[Window, Window]:
        def w(a: datetime, b: datetime) -> Window:
            # up to now means up to the end of its second: times are read truncated to seconds
            return Window(_epoch(a), _epoch(b), min(_epoch(b), _epoch(now) + 1))
        return w(self.since, self.until), w(self.previous_since, self.since)


@dataclass(frozen=True)
class Query:
    period: Period
    filters: Filters
    now: datetime


def _epoch(moment: datetime) -> int:
    return int(as_utc(moment).timestamp())


# --- the question -------------------------------------------------------------------------------------------------


def period(zone: ZoneInfo, *, first: date | None = None, last: date | None = None, month: str | None = None,
           now: datetime | None = None) -> Period:
    """Days ``first``..``last`` (inclusive, in ``zone``; default the last 30 days) or a month ``YYYY-MM``. The previous
    period is the month before a whole month, else as many days just before."""
    if month is not None:
        first, last = _month(month)
    today = as_utc(now or utcnow()).astimezone(zone).date()
    last = last or today
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise Invalid("The period's first day comes after its last.", field="from")
    if (last - first).days >= MAX_DAYS:
        raise Invalid("A period spans at most {days} days.", field="from", days=MAX_DAYS)
    whole = first.day == 1 and last == first.replace(day=calendar.monthrange(first.year, first.month)[1])
    before = (first - timedelta(days=1)).replace(day=1) if whole else first - (last - first) - timedelta(days=1)
    start = datetime.combine
    return Period(start(first, time.min, zone), start(last + timedelta(days=1), time.min, zone),
                  start(before, time.min, zone))


def _month(text: str) -> tuple[date, date]:
    found = _MONTH.fullmatch(text.strip())
    if found is None or not 1 <= int(found[2]) <= 12 or int(found[1]) < 2000:
        raise Invalid("The month must look like 2026-11, not {value}.", field="period", value=text)
    first = date(int(found[1]), int(found[2]), 1)
    return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])


def filters(session: Session, *, team_id: int | None = None, region: str | None = None,
            product_line: str | None = None, rep_id: int | None = None) -> Filters:
    """Region and product line by code (or name); an unknown one is refused, naming the field."""
    return Filters(team_id=_known(team_id, org_service.team_names(session), "team"),
                   region_id=_code(session, "region", region), product_line_id=_code(session, "product_line",
                                                                                      product_line),
                   rep_id=rep_id)


UNKNOWN = {"team": N_("No team {value}."), "region": N_("No region {value}."),
           "product_line": N_("No product line {value}.")}


def _known(value: int | None, names: dict[int, str], field: str) -> int | None:
    if value is not None and value not in names:
        raise Invalid(UNKNOWN[field], field=field, value=value)
    return value


def _code(session: Session, field: str, value: str | None) -> int | None:
    if value is None or not value.strip():
        return None
    codes = repository.codes(session, field)
    found = codes.get(value.strip().casefold())
    if found is None:
        raise Invalid(UNKNOWN[field], field=field, value=value)
    return found


def choices(session: Session, principal: Principal) -> dict[str, dict[Any, str]]:
    """What the board may be narrowed to: the teams whose figures the principal sees side by side (a supervisor's
    own teams), and every region and product line, by name."""
    teams = org_service.team_names(session) if principal.sees_team_figures else {}
    if not principal.reads_everything:
        teams = {i: n for i, n in teams.items() if i in principal.supervised_team_ids}
    return {"teams": teams, "regions": repository.names(session, "region"),
            "product_lines": repository.names(session, "product_line")}


# --- the figures --------------------------------------------------------------------------------------------------


def board(session: Session, principal: Principal, query: Query) -> dict[str, Any]:
    """Every figure of the period and of the one before, overall, per team (for those who see colleagues' figures)
    and per rep, each per stage where it has stages."""
    now = as_utc(query.now)
    windows = query.period.windows(now)
    pipe, leads = _read(session, principal, query, windows)
    facts = [Facts.of(pipe.deals, pipe.visits, leads, w) for w in windows]

    def pairs(deal_group: np.ndarray, lead_group: np.ndarray, groups: int) -> list[dict[str, Any]]:
        found = [core.blocks(pipe.visits, f, deal_group, lead_group, groups) for f in facts]
        return [{"current": now, "previous": before} for now, before in zip(*found, strict=True)]

    everyone = pairs(np.zeros(len(pipe.deals.id), np.int64), np.zeros(len(leads.id), np.int64), 1)[0]
    return {**_header(query, now), "overall": everyone,
            "teams": _teams(session, principal, pipe, leads, pairs), "reps": _reps(session, pipe, leads, pairs)}


def _dense(deal_keys: np.ndarray, lead_keys: np.ndarray) -> tuple[list[int], np.ndarray, np.ndarray]:
    """The keys present (a team, a rep; negative: none) and each deal's and lead's index among them (-1: none)."""
    present = np.unique(np.concatenate([deal_keys, lead_keys]))
    present = present[present >= 0]

    def index(keys: np.ndarray) -> np.ndarray:
        return np.where(keys >= 0, np.searchsorted(present, keys), -1)
    return present.tolist(), index(deal_keys), index(lead_keys)


def _read(session: Session, principal: Principal, query: Query, windows: tuple[Window, Window]
          ) -> tuple[Pipeline, core.Leads]:
    pipe = repository.pipeline(session, repository.readable_deals(principal), query.filters,
                               since=query.period.previous_since)
    leads, _ = repository.leads(session, repository.readable_leads(principal), query.filters,
                                since=query.period.previous_since, until=min(query.period.until, as_utc(query.now)))
    return pipe, leads


def _header(query: Query, now: datetime) -> dict[str, Any]:
    p, f = query.period, query.filters
    return {"since": p.since, "until": p.until, "as_of": min(p.until, now),
            "previous": {"since": p.previous_since, "until": p.since, "as_of": min(p.since, now)},
            "filters": {"team_id": f.team_id, "region_id": f.region_id, "product_line_id": f.product_line_id},
            "stages": list(STAGES[:OPEN]), "stuck_days": list(core.STUCK_DAYS),
            "response_hours": list(core.RESPONSE_HOURS)}


def _teams(session: Session, principal: Principal, pipe: Pipeline, leads: core.Leads, pairs: Any
           ) -> list[dict[str, Any]]:
    if not principal.sees_team_figures:
        return []
    names = org_service.team_names(session)
    teams, deal_group, lead_group = _dense(pipe.deals.team, leads.team)
    rows = [{"team_id": t, "team": names.get(t), **pair}
            for t, pair in zip(teams, pairs(deal_group, lead_group, len(teams)), strict=True)]
    return sorted(rows, key=lambda row: row["team"] or "")


def _reps(session: Session, pipe: Pipeline, leads: core.Leads, pairs: Any) -> list[dict[str, Any]]:
    owners, deal_group, lead_group = _dense(pipe.deals.owner, leads.owner)
    names = org_service.display_names(session, owners)
    team_of = dict(zip(np.concatenate([pipe.deals.owner, leads.owner]).tolist(),
                       np.concatenate([pipe.deals.team, leads.team]).tolist(), strict=True))
    rows = [{"rep_id": o, "rep": names.get(o, str(o)), "team_id": team_of[o] if team_of[o] >= 0 else None, **pair}
            for o, pair in zip(owners, pairs(deal_group, lead_group, len(owners)), strict=True)]
    return sorted(rows, key=lambda row: row["rep"])


def compliance(session: Session, principal: Principal, query: Query) -> dict[str, Any]:
    """The share of first contacts and stage entries met on time in the period and the one before, from the
    standards' own figures (the team filter applies; they are not split by region or product line)."""
    p, f = query.period, query.filters
    now = min(as_utc(query.now), p.until)
    current, previous = standards.periods(session, principal, [(p.since, min(p.until, now)),
                                                               (p.previous_since, min(p.since, now))],
                                          now=now, rep_id=f.rep_id, team_id=f.team_id)
    return {"current": current, "previous": previous}


# --- what is behind a figure --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Drill:
    figure: str
    stage: str | None = None
    bucket: int | None = None
    outcome: str | None = None
    previous: bool = False


def drill(session: Session, principal: Principal, query: Query, what: Drill) -> dict[str, Any]:
    """The deals (or, for first response, the leads) behind one figure, longest first (at most ``DRILL_LIMIT``)."""
    _check(what)
    now, p = as_utc(query.now), query.period
    window = p.windows(now)[1 if what.previous else 0]
    if what.figure == "first_response":
        since, until = (p.previous_since, p.since) if what.previous else (p.since, p.until)
        leads, _ = repository.leads(session, repository.readable_leads(principal), query.filters, since=since,
                                    until=min(until, now))
        return _lead_items(session, what, _response_leads(leads, window, what))
    pipe = repository.pipeline(session, repository.readable_deals(principal), query.filters,
                               since=p.previous_since if what.previous else p.since)
    found = [(int(pipe.deals.id[i]), s, d) for i, s, d in _behind(pipe, window, what)]
    return _deal_items(session, what, found)


def _check(what: Drill) -> None:
    if what.figure not in FIGURES:
        raise Invalid("No figure {value}; one of {choices}.", field="figure", value=what.figure,
                      choices=", ".join(FIGURES))
    if what.stage is not None and what.stage not in STAGES[:OPEN]:
        raise Invalid("No open stage {value}.", field="stage", value=what.stage)
    if what.outcome is not None and what.outcome not in OUTCOMES:
        raise Invalid("No outcome {value}; one of {choices}.", field="outcome", value=what.outcome,
                      choices=", ".join(OUTCOMES))


Behind = list[tuple[int, int, float]]  # (deal index, stage code, days)


def _behind(pipe: Pipeline, w: Window, what: Drill) -> Behind:
    v, n = pipe.visits, len(pipe.deals.id)
    stage = STAGES.index(what.stage) if what.stage else None
    if what.figure == "time_in_stage":
        ended = np.flatnonzero(core.ended_visits(v, w) & ((v.stage == stage) if stage is not None else True))
        return _zip(v.deal[ended], v.stage[ended], (v.end - v.start)[ended] / core.DAY)
    if what.figure == "stuck":
        deals, stages, days, bucket = core.stuck_rows(v, w, n)
        keep = np.ones(len(deals), bool)
        if stage is not None:
            keep &= stages == stage
        if what.bucket is not None:
            keep &= bucket == what.bucket
        return _zip(deals[keep], stages[keep], days[keep])
    if what.figure == "cycle":
        f = Facts.of(pipe.deals, v, core.Leads(*(np.zeros(0, np.int64),) * 5), w)
        return _zip(v.deal[f.won], v.stage[f.won], f.cycle_days)
    out: Behind = []
    for s in [stage] if stage is not None else range(OPEN):
        first, result = core.entries(v, w, s, n)
        keep = (first >= 0) & ((result == OUTCOMES.index(what.outcome)) if what.outcome else True)
        out.extend(_zip(np.flatnonzero(keep), np.full(int(keep.sum()), s), (w.as_of - first[keep]) / core.DAY))
    return out


def _zip(deals: np.ndarray, stages: np.ndarray, days: np.ndarray) -> Behind:
    return list(zip(deals.tolist(), stages.tolist(), days.tolist(), strict=True))


def _response_leads(leads: core.Leads, w: Window, what: Drill) -> list[tuple[int, float | None]]:
    chosen, hours, bucket = core.response_rows(leads, w)
    keep = (bucket == what.bucket) if what.bucket is not None else np.ones(len(chosen), bool)
    return [(int(leads.id[i]), None if np.isnan(h) else round(float(h), 2))
            for i, h in zip(chosen[keep], hours[keep], strict=True)]


def _deal_items(session: Session, what: Drill, found: list[tuple[int, int, float]]) -> dict[str, Any]:
    found.sort(key=lambda x: -x[2])
    shown = found[:DRILL_LIMIT]
    lines = repository.deal_lines(session, {i for i, _, _ in shown})
    owners = org_service.display_names(session, {o for _, o, _, _ in lines.values()})
    items = [{"id": i, "name": lines[i][0], "owner": owners.get(lines[i][1]), "stage": STAGES[s],
              "current_stage": lines[i][2], "amount": lines[i][3], "days": round(d, 2)}
             for i, s, d in shown if i in lines]
    return {"kind": "deals", "figure": what.figure, "total": len(found), "items": items}


def _lead_items(session: Session, what: Drill, found: list[tuple[int, float | None]]) -> dict[str, Any]:
    found.sort(key=lambda x: (x[1] is not None, -(x[1] or 0)))
    shown = found[:DRILL_LIMIT]
    lines = repository.lead_lines(session, [i for i, _ in shown])
    owners = org_service.display_names(session, {o for _, o, _ in lines.values() if o})
    items = [{"id": i, "company": lines[i][0], "owner": owners.get(lines[i][1] or 0), "status": lines[i][2],
              "hours": h} for i, h in shown if i in lines]
    return {"kind": "leads", "figure": what.figure, "total": len(found), "items": items}



# --- the board in brief (the home page) ---------------------------------------------------------------------------

BOTTLENECK_DAYS = 14  # a deal open in its stage this long is stuck there (the stuck chart's buckets from 14 days)


def overall(session: Session, principal: Principal, query: Query) -> dict[str, Any]:
    """Every figure of the period and of the one before for everything the principal reads (narrowed by the
    query's filters), without the rows per team and rep: ``board``'s ``overall``, for less work."""
    now = as_utc(query.now)
    windows = query.period.windows(now)
    pipe, leads = _read(session, principal, query, windows)
    deal_group, lead_group = np.zeros(len(pipe.deals.id), np.int64), np.zeros(len(leads.id), np.int64)
    found = [core.blocks(pipe.visits, Facts.of(pipe.deals, pipe.visits, leads, w), deal_group, lead_group, 1)[0]
             for w in windows]
    return {**_header(query, now), "overall": {"current": found[0], "previous": found[1]}}



def first_response(session: Session, principal: Principal, query: Query) -> dict[str, Any]:
    """The board's first response figure of the period and of the one before for everything the principal reads,
    reading the leads only (no deal is needed for it)."""
    now = as_utc(query.now)
    p = query.period
    leads, _ = repository.leads(session, repository.readable_leads(principal), query.filters, since=p.previous_since,
                                until=min(p.until, now))
    none = np.zeros(0, np.int64)
    deals, visits = core.Deals(none, none, none, none), core.Visits.of(none, none, none)
    found = [core.blocks(visits, Facts.of(deals, visits, leads, w), none, np.zeros(len(leads.id), np.int64), 1)[0]
             for w in p.windows(now)]
    return {"current": found[0]["first_response"], "previous": found[1]["first_response"],
            "response_hours": list(core.RESPONSE_HOURS)}

@dataclass(frozen=True)
class Brief:
    """A team's board in brief for a month so far, beside the month before."""

    team_id: int
    month: str  # YYYY-MM
    open_deals: dict[str, int]  # per open stage, the deals open in it now
    stuck: dict[str, int]  # per open stage, those open in it for BOTTLENECK_DAYS or more
    bottleneck: str | None  # the stage with the most stuck deals (the earlier stage on a tie), None when none is
    first_response: tuple[dict[str, Any], dict[str, Any]]  # this month's and the month before's (leads, median, p90)
    compliance: tuple[float | None, float | None]  # share of stage standards met on time, this month and before


def brief(session: Session, principal: Principal, *, team_id: int, zone: ZoneInfo,
          now: datetime | None = None) -> Brief:
    """The figures the home page shows of a team's board: where its open deals are stuck, its first response and
    its compliance with the stage standards, this month so far beside last month (the board's own figures, read
    as the principal reads the team's deals and leads)."""
    now = as_utc(now or utcnow())
    month = now.astimezone(zone).strftime("%Y-%m")
    query = Query(period(zone, month=month, now=now), Filters(team_id=team_id), now)
    pair = overall(session, principal, query)["overall"]
    shares = compliance(session, principal, query)
    edge = core.STUCK_DAYS.index(BOTTLENECK_DAYS)
    stuck = {s: sum(buckets[edge + 1:]) for s, buckets in pair["current"]["stuck"].items()}
    worst = max(stuck, key=lambda s: stuck[s]) if any(stuck.values()) else None
    return Brief(team_id, month, {s: sum(b) for s, b in pair["current"]["stuck"].items()}, stuck, worst,
                 (pair["current"]["first_response"], pair["previous"]["first_response"]),
                 (shares["current"]["overall"]["share_on_time"], shares["previous"]["overall"]["share_on_time"]))
