"""GET /api/v1/scorecards/export: the team ranking and the blocks as a file (XLSX or PDF), in the caller's
language, for the cards the caller may see."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from evenhand.deps import DbSession, Reader
from evenhand.i18n import current_locale
from evenhand.kit.schema import DbId
from evenhand.performance import export, period, ranking

router = APIRouter(prefix="/scorecards", tags=["scorecards"])


@router.get("/export", response_class=Response, responses={200: {"content": {
    media: {} for media in export.MEDIA_TYPES.values()}, "description": "The ranking and the blocks as a file."}})
def scorecards_export(session: DbSession, principal: Reader, period_key: Annotated[str, Query(
        alias="period", max_length=10, description="A month (2026-09) or a quarter (2026-Q3)")],
        fmt: Annotated[export.Format, Query(alias="format")] = "xlsx", team_id: DbId | None = None) -> Response:
    """The period's ranking (frozen cards if it is closed, live ones otherwise), every metric explained, the reps
    flagged as high volume with low quality, and each rep's block."""
    found = ranking.read(session, principal, period.parse(period_key), team_id=team_id)
    file = export.export(found, fmt, current_locale(), team_id=team_id)
    return Response(file.content, media_type=file.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{file.filename}"'})
