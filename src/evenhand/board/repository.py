"""The board's bulk reads: every readable deal with its stage history, and the leads assigned in a span with their
first response, as plain columns through the driver's cursor (epoch seconds computed by the database, like the
scoring's bulk path), turned into numpy columns at once.

Which deals and leads a caller sees is decided by the deals' and leads' own ``readable``; the filters (team,
region, product line, rep) narrow that. A deal's or lead's team and region are its owner's: the owner's team, and
their own region, else their team's."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, Select, and_, func, literal_column, select
from sqlalchemy.orm import Session, aliased

from evenhand.auth.principal import Principal
from evenhand.board.figures import STAGES, Deals, Leads, Visits
from evenhand.kit.cursor import epoch, plain_time, table
from evenhand.leads import repository as lead_repository
from evenhand.models import OPEN_STAGES, Activity, Lead, Opportunity, ProductLine, Region, StageChange, Team, User
from evenhand.opportunities import repository as deal_repository

_CODE = "CASE {} " + " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(STAGES)) + " ELSE -1 END"


@dataclass(frozen=True)
class Filters:
    team_id: int | None = None
    region_id: int | None = None
    product_line_id: int | None = None
    rep_id: int | None = None


@dataclass(frozen=True)
class Pipeline:
    deals: Deals
    visits: Visits
    product: np.ndarray  # per deal, its product line (-1: none)


def _owner_dimensions(stmt: Select[Any], owner: Any, f: Filters) -> Select[Any]:
    team = aliased(Team)
    region = func.coalesce(User.region_id, team.region_id)
    stmt = stmt.join(User, User.id == owner).outerjoin(team, team.id == User.team_id)
    for column, wanted in ((User.team_id, f.team_id), (region, f.region_id), (owner, f.rep_id)):
        if wanted is not None:
            stmt = stmt.where(column == wanted)
    return stmt


def pipeline(session: Session, readable: Select[Any], f: Filters, *, since: datetime) -> Pipeline:
    """The readable deals matching the filters that a figure from ``since`` on can count, and every stage change of
    theirs, in two statements. A deal without any recorded change stands in its current stage since it last moved
    (or was created)."""
    conn = session.connection()
    deals = _owner_dimensions(readable.with_only_columns(
        Opportunity.id, Opportunity.owner_id, func.coalesce(User.team_id, -1),
        func.coalesce(Opportunity.product_line_id, -1),
        # the lead's arrival looked up by its key: joined, PostgreSQL would hash every lead for a few hundred deals
        epoch(conn, "COALESCE((SELECT leads.created_at FROM leads WHERE leads.id = opportunities.lead_id), "
                    "opportunities.created_at)"),
        literal_column(_CODE.format("opportunities.stage")),
        epoch(conn, "COALESCE(opportunities.stage_changed_at, opportunities.created_at)"),
    ), Opportunity.owner_id, f)
    if f.product_line_id is not None:
        deals = deals.where(Opportunity.product_line_id == f.product_line_id)
    deals = _moving(conn, deals, since)
    found = table(conn, deals.order_by(Opportunity.id), 7)
    changes = select(StageChange.opportunity_id, literal_column(_CODE.format("stage_changes.to_stage")),
                     epoch(conn, "stage_changes.changed_at")).where(
        StageChange.opportunity_id.in_(deals.with_only_columns(Opportunity.id))).order_by(
        StageChange.opportunity_id, StageChange.changed_at, StageChange.id)
    history = table(conn, changes, 3)
    return Pipeline(Deals(found[:, 0], found[:, 1], found[:, 2], found[:, 4]), _visits(found, history), found[:, 3])


def _moving(conn: Connection, deals: Select[Any], since: datetime) -> Select[Any]:
    """Leave out the deals that were closed before ``since`` and never moved after it: no visit of theirs ends,
    starts or stands open from then on, so no figure counts them (most of a company's history)."""
    start = plain_time(conn, since)
    moved = select(StageChange.opportunity_id).where(StageChange.changed_at >= start)
    return deals.where(Opportunity.stage.in_([s.value for s in OPEN_STAGES]) | Opportunity.id.in_(moved)
                       | (func.coalesce(Opportunity.stage_changed_at, Opportunity.created_at) >= start))


def _visits(deals: np.ndarray, history: np.ndarray) -> Visits:
    ids = deals[:, 0]
    deal = np.searchsorted(ids, history[:, 0])
    bare = np.setdiff1d(np.arange(len(ids)), deal)  # deals with no recorded change
    deal = np.concatenate([deal, bare])
    stage = np.concatenate([history[:, 1], deals[bare, 5]])
    start = np.concatenate([history[:, 2], deals[bare, 6]])
    order = np.lexsort((start, deal)) if len(bare) else np.arange(len(deal))
    return Visits.of(deal[order], stage[order], start[order])


def leads(session: Session, readable: Select[Any], f: Filters, *, since: datetime, until: datetime
          ) -> tuple[Leads, np.ndarray]:
    """Owned leads among ``readable`` assigned in [since, until), with their owner's first captured outbound
    contact at or after the assignment (a call, e-mail, message, meeting or visit from a communication tool — not
    a CRM entry), and each lead's product line."""
    conn = session.connection()
    # ``rep_id + 0``: SQLite would otherwise walk the owner's every activity since the assignment by
    # (rep_id, occurred_at) rather than the lead's few by lead_id
    first = (select(func.min(Activity.occurred_at)).where(
        Activity.lead_id == Lead.id, Activity.rep_id + 0 == Lead.owner_id, Activity.direction == "outbound",
        Activity.type != "note", Activity.source_system != "crm", Activity.occurred_at >= Lead.assigned_at)
        .correlate(Lead).scalar_subquery())
    stmt = _owner_dimensions(readable.with_only_columns(
        Lead.id, Lead.owner_id, func.coalesce(User.team_id, -1), func.coalesce(Lead.product_line_id, -1),
        epoch(conn, "leads.assigned_at"), func.coalesce(epoch(conn, first), -1),
    ).where(and_(Lead.assigned_at >= plain_time(conn, since), Lead.assigned_at < plain_time(conn, until))),
        Lead.owner_id, f)
    if f.product_line_id is not None:
        stmt = stmt.where(Lead.product_line_id == f.product_line_id)
    found = table(conn, stmt.order_by(Lead.id), 6)
    return Leads(found[:, 0], found[:, 1], found[:, 2], found[:, 4], found[:, 5]), found[:, 3]


def readable_deals(principal: Principal) -> Select[Any]:
    return deal_repository.readable(principal)


def readable_leads(principal: Principal) -> Select[Any]:
    return lead_repository.readable(principal)


def codes(session: Session, kind: str) -> dict[str, int]:
    """Regions or product lines by code and by name, folded to any case."""
    model = Region if kind == "region" else ProductLine
    found: dict[str, int] = {}
    for i, code, name in session.execute(select(model.id, model.code, model.name).order_by(model.id.desc())):
        found.update({name.casefold(): i, code.casefold(): i})  # a code wins over another's name
    return found


def names(session: Session, kind: str) -> dict[str, str]:
    """Regions or product lines: code → name, by name."""
    model = Region if kind == "region" else ProductLine
    return dict(session.execute(select(model.code, model.name).order_by(model.name)).tuples().all())


def deal_lines(session: Session, ids: Collection[int]) -> dict[int, tuple[str, int, str, float]]:
    """Name, owner, stage and amount of the given deals."""
    if not ids:
        return {}
    stmt = select(Opportunity.id, Opportunity.name, Opportunity.owner_id, Opportunity.stage, Opportunity.amount
                  ).where(Opportunity.id.in_(sorted(ids)))
    return {i: (name, owner, stage.value, float(amount)) for i, name, owner, stage, amount in session.execute(stmt)}


def lead_lines(session: Session, ids: Collection[int]) -> dict[int, tuple[str, int | None, str]]:
    """Company, owner and status of the given leads."""
    if not ids:
        return {}
    stmt = select(Lead.id, Lead.company, Lead.owner_id, Lead.status).where(Lead.id.in_(sorted(ids)))
    return {i: (company, owner, status.value) for i, company, owner, status in session.execute(stmt)}
