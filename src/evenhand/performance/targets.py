"""Targets per period from a file (``evenhand scorecard targets import FILE``): what a metric should reach in a
month or quarter, for the whole company, a team or one rep (``repository.targets`` resolves the most specific).

Columns: ``metric`` (a catalog key), ``period`` (2026-09 or 2026-Q3), ``team`` (its name), ``rep`` (username,
external id or e-mail), ``value``. A row naming neither team nor rep sets the company's target; a team named beside a
rep must be the rep's team, and the target is the rep's. Every bad row is named with its row number and field and
a file with one is refused whole, nothing written. Importing again replaces the value of the same metric, period,
team and rep; one audit entry records each import that changed anything."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session

from evenhand.i18n import N_, t
from evenhand.kit import audit
from evenhand.kit import rows as rows_kit
from evenhand.kit.rows import Kind, Progress, Rejects, RowError
from evenhand.kit.schema import Strict
from evenhand.kit.tables import open_table
from evenhand.models import MetricTarget, Team, User
from evenhand.opportunities.schemas import Key
from evenhand.org import service as org_service
from evenhand.performance import period as periods
from evenhand.performance.metrics import CATALOG

FIELDS = ("metric", "period", "team", "rep", "value")
REQUIRED = ("metric", "period", "value")
UNKNOWN_TEAM = N_("No team is named {value}.")
SHARED_TEAM = N_("Several teams are named {value}; set the target per rep.")
UNKNOWN_REP = N_("Nobody is known by {value}.")
OTHER_TEAM = N_("{rep} is not on the team {team}.")
TWICE = N_("The same target as row {row}.")
Resolved = tuple[str, str, int | None, int | None, float]  # metric, period, team id, user id, value


def _metric(value: str) -> str:
    if value not in CATALOG:
        raise ValueError(t(N_("There is no metric {metric}; the catalog has {known}."), metric=value,
                           known=", ".join(CATALOG)))
    return value


def _period(value: str) -> str:
    if periods.PATTERN.match(value.strip()) is None:
        raise ValueError(t(N_("A period is a month like 2026-09 or a quarter like 2026-Q3, not {value}."),
                           value=value))
    return periods.parse(value).key


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError(N_("Must be a finite number"))
    return value


class TargetRow(Strict):
    metric: Annotated[str, AfterValidator(_metric)]
    period: Annotated[str, AfterValidator(_period)]
    team: Key | None = None
    rep: Key | None = None
    value: Annotated[float, AfterValidator(_finite)]


KIND: Kind[TargetRow] = Kind("targets", TypeAdapter(TargetRow), FIELDS)


def default_mapping(path: Path) -> str:
    """The file's own columns named as the fields: ``metric``, ``period`` and ``value`` always (a file without
    one is refused naming it), ``team`` and ``rep`` when the file has them."""
    table = open_table(path)
    next(table.rows, None)  # enters the reader, so that closing it closes the file
    table.rows.close()
    wanted = [f for f in FIELDS if f in REQUIRED or f in table.header]
    return "fields:\n" + "".join(f"  {f}: {f}\n" for f in wanted)


@dataclass
class Report:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0  # rows


def import_file(session: Session, path: Path, mapping_text: str, *, zone: ZoneInfo, skip_invalid: bool,
                rejects: Rejects, actor_id: int | None = None, progress: Progress | None = None) -> Report:
    """The file's targets written in the caller's transaction; refused whole (``Invalid`` naming every bad row and
    field) unless ``skip_invalid``, which keeps the good rows and leaves the bad ones in ``rejects``."""
    report, seen, good = Report(), dict[tuple[Any, ...], int](), list[Resolved]()
    for chunk in rows_kit.chunks(path, mapping_text, KIND, zone=zone, rejects=rejects, progress=progress):
        resolved, errors = _resolve(session, chunk, seen)
        rejects.errors = sorted(rejects.errors + errors, key=lambda e: e.row)
        good += resolved
    report.rows, report.rejected = rejects.read, len({e.row for e in rejects.errors})
    if rejects.errors and not skip_invalid:
        raise rows_kit.reject(rejects.errors)
    _write(session, good, report)
    if report.created or report.updated:  # a file imported again writes nothing
        audit.append(session, action="targets.imported", subject_type="metric_targets", actor_id=actor_id,
                     payload={"file": path.name, "created": report.created, "updated": report.updated,
                              "periods": sorted({r[1] for r in good})})
    return report


def _resolve(session: Session, chunk: list[tuple[int, TargetRow]], seen: dict[tuple[Any, ...], int]
             ) -> tuple[list[Resolved], list[RowError]]:
    """What each row names, found in evenhand; a target already on an earlier row is refused on the later one."""
    teams = _teams(session)
    people = org_service.people_by_key(session, {r.rep for _, r in chunk if r.rep})
    team_of = dict(session.execute(select(User.id, User.team_id).where(User.id.in_(set(people.values()))))
                   .tuples().all())
    resolved, errors = [], []
    for number, row in chunk:
        found = _named(row, teams, people, team_of)
        if isinstance(found, RowError):
            errors.append(RowError(number, found.field, found.message))
            continue
        key = (row.metric, row.period, *found)
        if key in seen:
            errors.append(RowError(number, "rep" if found[1] else "team" if found[0] else "metric",
                                   t(TWICE, row=seen[key])))
            continue
        seen[key] = number
        resolved.append((row.metric, row.period, *found, row.value))
    return resolved, errors


def _named(row: TargetRow, teams: dict[str, list[int]], people: dict[str, int], team_of: dict[int, int | None]
           ) -> tuple[int | None, int | None] | RowError:
    """(team id, user id) of the row: the company's (None, None), a team's or a rep's."""
    team = teams.get(row.team.casefold(), []) if row.team else []
    if row.team and not team:
        return RowError(0, "team", t(UNKNOWN_TEAM, value=row.team))
    if len(team) > 1 and not row.rep:
        return RowError(0, "team", t(SHARED_TEAM, value=row.team))
    if not row.rep:
        return (team[0] if team else None), None
    user_id = people.get(row.rep.strip())
    if user_id is None:
        return RowError(0, "rep", t(UNKNOWN_REP, value=row.rep))
    if row.team and team_of.get(user_id) not in team:
        return RowError(0, "team", t(OTHER_TEAM, rep=row.rep, team=row.team))
    return None, user_id


def _teams(session: Session) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for team_id, name in session.execute(select(Team.id, Team.name).order_by(Team.id)).tuples():
        found.setdefault(name.strip().casefold(), []).append(team_id)
    return found


def _write(session: Session, good: list[Resolved], report: Report) -> None:
    """Create what is new, replace a changed value, leave an equal one alone."""
    stored = {(m.metric, m.period, m.team_id, m.user_id): m for m in session.scalars(
        select(MetricTarget).where(MetricTarget.period.in_({r[1] for r in good})))}
    for metric, period, team_id, user_id, value in good:
        existing = stored.get((metric, period, team_id, user_id))
        if existing is None:
            session.add(MetricTarget(metric=metric, period=period, team_id=team_id, user_id=user_id, value=value))
            report.created += 1
        elif existing.value != value:
            existing.value = value
            report.updated += 1
        else:
            report.unchanged += 1
    session.flush()
