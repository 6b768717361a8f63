"""Report endpoints: the monthly fairness report as JSON, as a file, and posted to a team."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from evenhand.deps import AppSettings, DbSession, Reader, Writer
from evenhand.i18n import current_locale
from evenhand.kit.schema import DbId
from evenhand.reports import export, service
from evenhand.reports.schemas import FairnessReportRead, MonthText, PublishedRead, PublishRequest

router = APIRouter(tags=["reports"])
Month = Annotated[MonthText, Query(description="YYYY-MM, in the organisation's time zone")]


@router.get("/reports/fairness", response_model=FairnessReportRead)
def fairness(session: DbSession, principal: Reader, settings: AppSettings, month: Month,
             team_id: DbId | None = None) -> FairnessReportRead:
    """Per team the caller may see (staff: all; supervisor: theirs; rep: their own): per rep leads received,
    high-value share, conversion and expected vs actual share; per team chi-square, Gini and appeals."""
    parsed = service.parse_month(month, zone=settings.zone)
    report = service.build(session, month=parsed, zone=settings.zone, principal=principal, team_id=team_id)
    return FairnessReportRead.model_validate(report)


@router.get("/reports/fairness/export", response_class=Response, responses={200: {"content": {
    media: {} for media in export.MEDIA_TYPES.values()}, "description": "The report as a file to download."}})
def fairness_export(session: DbSession, principal: Reader, settings: AppSettings, month: Month,
                    fmt: Annotated[export.Format, Query(alias="format")] = "html",
                    team_id: DbId | None = None) -> Response:
    """The same report as HTML, CSV (one row per rep), XLSX or PDF, in the caller's language."""
    parsed = service.parse_month(month, zone=settings.zone)
    report = service.build(session, month=parsed, zone=settings.zone, principal=principal, team_id=team_id)
    file = export.export(report, fmt, current_locale(), team_id=team_id)
    return Response(file.content, media_type=file.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{file.filename}"'})


@router.post("/reports/fairness/publish", response_model=PublishedRead)
def publish(data: PublishRequest, session: DbSession, actor: Writer, settings: AppSettings) -> service.Published:
    """Post the month's report to the team: every member gets an inbox entry with a link (once per month)."""
    parsed = service.parse_month(data.month, zone=settings.zone)
    return service.publish(session, month=parsed, zone=settings.zone, team_id=data.team_id, actor=actor)
