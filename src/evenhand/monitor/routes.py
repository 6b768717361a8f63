"""The KPI endpoints: the definitions document (read by everyone signed in; checked and saved by admin and ops), the
active KPIs with their latest value, and a KPI's daily series for the whole company or one dimension value (sales
ops, auditors, admin and supervisors)."""

from __future__ import annotations

import math
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from evenhand.deps import DbSession, Reader
from evenhand.i18n import current_locale
from evenhand.kit.schema import IsoDate
from evenhand.kit.versions import DocumentText, Note, VersionRead
from evenhand.models import KpiPoint
from evenhand.monitor import service
from evenhand.monitor.kpis import KPIS, Kpi
from evenhand.monitor.series import Series, day_date
from evenhand.web import document_routes

router = APIRouter(tags=["monitor"])
KpiId = Annotated[str, Path(pattern=r"^[a-z0-9_]{1,60}$")]
Label = Annotated[str, Query(max_length=120)]


class DefinitionsDetail(VersionRead):
    body: str


class DefinitionsSave(DocumentText):
    note: Note = ""


class Latest(BaseModel):
    day: date
    n: float
    v: float | None


class KpiRead(BaseModel):
    id: str
    name: str
    name_en: str
    name_zh: str
    source: str
    kind: str
    unit: str
    good: str
    dimensions: list[str]
    upstream: list[str]
    alert_above: float | None
    alert_below: float | None
    latest: Latest | None


class SeriesRead(BaseModel):
    kpi: str
    dimension: str
    value: str
    first: date
    last: date
    days: list[date]
    n: list[float]
    x: list[float]
    x2: list[float]
    v: list[float | None]  # None: no value that day (too few rows)
    by_age: list[list[int]] | None  # a rate with a horizon: its numerator known 0 … H days after each day


document_routes.add(router, "/monitor/kpis/definitions", KPIS, noun="kpi_definitions", detail=DefinitionsDetail,
                    save_body=DefinitionsSave, save=service.save, saved="A new active version; the change is audited "
                    "with its diff. The next refresh rebuilds every KPI's series under it.")


@router.get("/monitor/kpis", response_model=list[KpiRead])
def list_kpis(session: DbSession, principal: Reader) -> list[KpiRead]:
    """The active KPIs, each with its latest whole-company point (None before the first refresh)."""
    service.may_read(principal)
    return [_kpi(k, point) for k, point in service.latest(session)]


@router.get("/monitor/kpis/{kpi_id}/series", response_model=SeriesRead)
def kpi_series(kpi_id: KpiId, session: DbSession, principal: Reader, first: IsoDate | None = None,
               last: IsoDate | None = None, dimension: Label = "", value: Label = "") -> SeriesRead:
    """Every day of [first, last] (default: the 90 days up to the last refreshed day) for the whole company, or
    for one ``value`` of one of the KPI's ``dimension`` s; a day without rows has n = 0 and no value."""
    service.may_read(principal)
    found, series, first, last = service.chart(session, kpi_id, first, last, dimension, value)
    return _series(found, series, dimension, value, first, last)


def _kpi(kpi: Kpi, point: KpiPoint | None) -> KpiRead:
    return KpiRead(id=kpi.id, name=kpi.label(current_locale()), name_en=kpi.name_en, name_zh=kpi.name_zh,
                   source=kpi.source, kind=kpi.kind, unit=kpi.unit, good=kpi.good, dimensions=list(kpi.dimensions),
                   upstream=list(kpi.upstream), alert_above=kpi.alert_above, alert_below=kpi.alert_below,
                   latest=Latest(day=point.day, n=point.n, v=point.v) if point is not None else None)


def _series(kpi: Kpi, series: Series, dimension: str, value: str, first: date, last: date) -> SeriesRead:
    return SeriesRead(kpi=kpi.id, dimension=dimension, value=value, first=first, last=last,
                      days=[day_date(d) for d in series.days.tolist()], n=series.n.tolist(), x=series.x.tolist(),
                      x2=series.x2.tolist(), v=[_number(v) for v in series.v.tolist()],
                      by_age=series.by_age.tolist() if series.by_age is not None else None)


def _number(value: float) -> Any:
    return None if math.isnan(value) else value
