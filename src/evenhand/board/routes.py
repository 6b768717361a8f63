"""The process board's endpoints: its figures for a period beside the one before, compliance with the stage standards
for both, and the deals (or leads) behind any figure."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from evenhand.board import service
from evenhand.board.repository import Filters
from evenhand.config import get_settings
from evenhand.deps import DbSession, Reader
from evenhand.kit.clock import utcnow
from evenhand.kit.schema import DbId, IsoDate
from evenhand.standards.routes import Figures as ComplianceFigures

router = APIRouter(tags=["board"])
Text = Annotated[str | None, Query(max_length=100)]
From = Annotated[IsoDate | None, Query(alias="from", description="First day (company zone); default 30 days ago")]
To = Annotated[IsoDate | None, Query(alias="to", description="Last day, inclusive; default today")]


class Stats(BaseModel):
    count: int
    median: float | None
    p90: float | None


class Conversion(BaseModel):
    entered: int = Field(description="Deals that entered the stage in the period, once each")
    advanced: int = Field(description="Of those, reached a later stage (a skipped stage counts as passed)")
    lost: int
    open: int
    rate: float | None


class Response(Stats):
    leads: int = Field(description="Leads assigned in the period; count: those answered, in hours")
    buckets: list[int]


class Block(BaseModel):
    time_in_stage: dict[str, Stats] = Field(description="Days per visit of each stage that ended in the period")
    conversion: dict[str, Conversion]
    stuck: dict[str, list[int]] = Field(description="Open deals per stage by days since they entered it")
    cycle: Stats = Field(description="Days from the lead's arrival to the win, for deals won in the period")
    first_response: Response


class Pair(BaseModel):
    current: Block
    previous: Block


class TeamRow(Pair):
    team_id: int
    team: str | None


class RepRow(Pair):
    rep_id: int
    rep: str
    team_id: int | None


class Span(BaseModel):
    since: datetime
    until: datetime
    as_of: datetime


class Board(Span):
    previous: Span
    filters: dict[str, int | None]
    stages: list[str]
    stuck_days: list[int]
    response_hours: list[int]
    overall: Pair
    teams: list[TeamRow]
    reps: list[RepRow]


class Compliance(BaseModel):
    current: ComplianceFigures
    previous: ComplianceFigures


class Item(BaseModel):
    id: int
    name: str | None = None
    company: str | None = None
    owner: str | None
    stage: str | None = None
    current_stage: str | None = None
    status: str | None = None
    amount: float | None = None
    days: float | None = None
    hours: float | None = None


class Drilled(BaseModel):
    kind: str
    figure: str
    total: int
    items: list[Item]


def _query(session: DbSession, first: date | None, last: date | None, team: int | None, region: str | None,
           product_line: str | None, rep: int | None = None) -> service.Query:
    now = utcnow()
    period = service.period(get_settings().zone, first=first, last=last, now=now)
    found: Filters = service.filters(session, team_id=team, region=region, product_line=product_line, rep_id=rep)
    return service.Query(period, found, now)


@router.get("/board", response_model=Board)
def board(session: DbSession, principal: Reader, first: From = None, last: To = None, team: DbId | None = None,
          region: Text = None, product_line: Text = None) -> dict[str, Any]:
    """Time in stage, conversion, stuck deals, the lead-to-won cycle and first response, overall, per team (for
    those who see colleagues' figures) and per rep, for the period and the one before; over the caller's records."""
    return service.board(session, principal, _query(session, first, last, team, region, product_line))


@router.get("/board/compliance", response_model=Compliance)
def compliance(session: DbSession, principal: Reader, first: From = None, last: To = None,
               team: DbId | None = None) -> dict[str, Any]:
    """Compliance with the stage standards for the period and the one before (the standards' own figures)."""
    return service.compliance(session, principal, _query(session, first, last, team, None, None))


@router.get("/board/deals", response_model=Drilled)
def deals(session: DbSession, principal: Reader,
          first: From = None, last: To = None, team: DbId | None = None, region: Text = None,
          product_line: Text = None, rep: DbId | None = None, stage: Text = None,
          bucket: Annotated[int | None, Query(ge=0, le=10)] = None, outcome: Text = None,
          previous: bool = False,
          figure: Annotated[str, Query(description=", ".join(service.FIGURES), max_length=40)] = "stuck",
          ) -> dict[str, Any]:
    """The deals behind a figure (default: the stuck deals; the leads, for first response), longest first:
    ``stage``, ``bucket`` (a stuck or first-response bar), ``outcome`` (conversion: open, advanced, lost),
    ``previous`` for the period before."""
    query = _query(session, first, last, team, region, product_line, rep)
    return service.drill(session, principal, query, service.Drill(figure, stage, bucket, outcome, previous))
