"""Scorecard endpoints (/api/v1/scorecards): a period's cards (live, or frozen once closed), its status, closing
and re-opening it (admin, ops), and the scorecard templates document."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from evenhand.deps import DbSession, OrgManager, Reader
from evenhand.kit.schema import DbId, Strict
from evenhand.kit.versions import DocumentText, Note, VersionRead
from evenhand.models import Level
from evenhand.models.performance import PeriodStatus, ScorePeriod
from evenhand.performance import document, period, service
from evenhand.performance.views import CardView
from evenhand.web import document_routes

router = APIRouter(prefix="/scorecards", tags=["scorecards"])
PeriodKey = Annotated[str, Path(max_length=10, description="A month (2026-09) or a quarter (2026-Q3)")]


class TemplatesDetail(VersionRead):
    body: str


class TemplatesSave(DocumentText):
    note: Note = ""


document_routes.add(router, "/templates", document.TEMPLATES, noun="scorecard_templates", detail=TemplatesDetail,
                    save_body=TemplatesSave, save=document.save, saved="A new active version (admin, ops); audited "
                    "with its diff. Live cards follow it at once; a closed period's cards keep the version they were "
                    "frozen under.")


class MetricRead(BaseModel):
    metric: str
    value: float | None
    sample: int
    enough: bool
    target: float
    zero: float
    cap: float
    weight: float
    points: float | None


class CardRead(BaseModel):
    user_id: int
    name: str
    team_id: int | None
    team: str | None
    department: str | None
    level: Level
    period: str
    revision: int
    frozen: bool
    template: str
    template_label: dict[str, str]
    total: float | None
    coverage: float
    gate: str | None
    tier: str | None
    metrics: list[MetricRead]


class PeriodRead(BaseModel):
    period: str
    status: PeriodStatus
    revision: int
    revisions: list[int]
    closed_at: datetime | None
    closed_by: int | None


class Reopen(Strict):
    reason: Annotated[str, Field(min_length=1, max_length=service.REASON_LENGTH)]


def _card(view: CardView) -> CardRead:
    fields = {name: getattr(view, name) for name in view.__dataclass_fields__}
    return CardRead(**{**fields, "metrics": [MetricRead(**vars(m)) for m in view.metrics]})


@router.get("", response_model=list[CardRead])
def list_cards(session: DbSession, principal: Reader, period_key: Annotated[str, Query(
        alias="period", max_length=10, description="A month (2026-09) or a quarter (2026-Q3)")],
        team_id: DbId | None = None, user_id: DbId | None = None, revision: DbId | None = None) -> list[CardRead]:
    """The period's cards, best total first: frozen if it is closed (or the ``revision`` asked for), live
    (revision 0) otherwise. A rep reads their own card in full and, of their team, each place (total and tier)."""
    found = service.cards(session, principal, period.parse(period_key), team_id=team_id, user_id=user_id,
                          revision=revision)
    return [_card(view) for view in found]


def _period(session: DbSession, key: str, row: ScorePeriod | None) -> PeriodRead:
    the_period = period.parse(key)
    if row is None:
        return PeriodRead(period=the_period.key, status=PeriodStatus.OPEN, revision=0, revisions=[], closed_at=None,
                          closed_by=None)
    return PeriodRead(period=row.period, status=row.status, revision=row.revision,
                      revisions=service.revisions(session, the_period), closed_at=row.closed_at,
                      closed_by=row.closed_by)


@router.get("/periods/{period_key}", response_model=PeriodRead)
def read_period(period_key: PeriodKey, session: DbSession, _: Reader) -> PeriodRead:
    """Whether the period is closed, the revision in force and every revision it was closed in."""
    return _period(session, period_key, service.find(session, period.parse(period_key)))


@router.post("/periods/{period_key}/close", response_model=PeriodRead)
def close_period(period_key: PeriodKey, session: DbSession, actor: OrgManager) -> PeriodRead:
    """Freeze every rep's card as the next revision, with its inputs (admin, ops); audited. Refused (409) when the
    period is closed, (422) before it has ended."""
    row = service.close(session, period.parse(period_key), actor=actor)
    return _period(session, period_key, row)


@router.post("/periods/{period_key}/reopen", response_model=PeriodRead)
def reopen_period(period_key: PeriodKey, data: Reopen, session: DbSession, actor: OrgManager) -> PeriodRead:
    """Re-open a closed period for a late correction (admin, ops), the reason audited; its frozen revisions stay
    readable and the next close writes the next one."""
    row = service.reopen(session, period.parse(period_key), actor=actor, reason=data.reason)
    return _period(session, period_key, row)
