"""Anomaly endpoints: the shifts the scan found in the KPIs, open ones first, and one with its explanation (the
windows compared, the dimensions ranked, the funnel trace) and the changes linked to it. Company-level figures:
admin, sales ops, auditors and supervisors read them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from evenhand.config import get_settings
from evenhand.deps import DbSession, Reader
from evenhand.i18n import current_locale
from evenhand.kit.schema import DbId
from evenhand.models import AnomalyStatus
from evenhand.monitor import views

router = APIRouter(tags=["monitor"])


class TopExplanation(BaseModel):
    dimension: str
    value: str
    explanatory_power: float = Field(description="The share of the shift this value accounts for")


class AnomalyRead(BaseModel):
    id: int
    kpi: str
    kpi_name: str = Field(description="The KPI's name in the request's language (its id once it is no longer "
                                      "defined)")
    kind: str = Field(description="statistical or alert_line")
    method: str
    direction: str = Field(description="up or down")
    started_on: date
    detected_on: date
    last_on: date
    ended_on: date | None
    days_to_detect: int
    baseline: float | None
    observed: float | None
    effect: float | None = Field(description="Relative: observed / baseline − 1")
    p_value: float | None
    status: AnomalyStatus
    change_ids: list[int]
    top_explanation: TopExplanation | None


class LinkedChangeRead(BaseModel):
    id: int
    title: str
    kind: str
    system: str
    effective_at: datetime
    status: str
    score: float | None
    reasons: list[str] = Field(description="before_start | after_start, declares_metric, mentions:<word>")
    days_before: int = Field(description="Days from the change taking effect to the shift's start (negative: after)")


class AnomalyDetail(AnomalyRead):
    explanation: dict[str, Any] = Field(description="windows, dimensions (ranked), trace, chain, changes")
    changes: list[LinkedChangeRead]


def _read(row: views.AnomalyRow) -> dict[str, Any]:
    top = None if row.top is None else TopExplanation(dimension=row.top.dimension, value=row.top.value,
                                                      explanatory_power=row.top.power)
    return {"id": row.id, "kpi": row.kpi_id, "kpi_name": row.kpi.label(current_locale()) if row.kpi else row.kpi_id,
            "kind": row.kind, "method": row.method, "direction": row.direction, "started_on": row.started,
            "detected_on": row.detected, "last_on": row.last, "ended_on": row.ended, "days_to_detect": row.delay,
            "baseline": row.baseline, "observed": row.observed, "effect": row.effect, "p_value": row.p_value,
            "status": row.status, "change_ids": [c.id for c in row.changes], "top_explanation": top}


@router.get("/monitor/anomalies", response_model=list[AnomalyRead])
def list_anomalies(session: DbSession, principal: Reader, status: AnomalyStatus | None = None,
                   kpi: Annotated[str | None, Query(max_length=60)] = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 200) -> list[AnomalyRead]:
    """Open anomalies first, then the most recently detected; narrowed to one ``status`` or ``kpi``."""
    rows = views.listed(session, principal, status=status, kpi=kpi, limit=limit)
    return [AnomalyRead(**_read(r)) for r in rows]


@router.get("/monitor/anomalies/{anomaly_id}", response_model=AnomalyDetail)
def get_anomaly(anomaly_id: DbId, session: DbSession, principal: Reader) -> AnomalyDetail:
    found = views.anomaly(session, principal, anomaly_id)
    row = views.rows(session, [found])[0]
    changes = [LinkedChangeRead(id=c.id, title=c.title, kind=c.kind, system=c.system, effective_at=c.effective,
                                status=c.status, score=c.score, reasons=list(c.reasons), days_before=c.days_before)
               for c in views.linked(session, found, get_settings().zone)]
    return AnomalyDetail(**_read(row), explanation=found.explanation or {}, changes=changes)
