"""Appeal endpoints: file, list, read with the decision's evidence, withdraw, rule, and the metrics."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from evenhand.appeals import reading, service
from evenhand.appeals.schemas import AppealCreate, AppealDetail, AppealRead, MetricsRead, Ruling
from evenhand.deps import AppSettings, DbSession, Reader, Writer
from evenhand.kit.schema import DbId, IsoDate
from evenhand.models import Appeal, AppealStatus

router = APIRouter(tags=["appeals"])


@router.post("/appeals", response_model=AppealRead, status_code=201)
def file_appeal(data: AppealCreate, session: DbSession, actor: Writer, settings: AppSettings) -> Appeal:
    """The rep the decision assigned the lead to, within ``appeal_window_minutes`` of it; once per decision."""
    return service.file(session, data, actor=actor, window=timedelta(minutes=settings.appeal_window_minutes))


@router.get("/appeals", response_model=list[AppealRead])
def list_appeals(session: DbSession, principal: Reader, status: AppealStatus | None = None,
                 limit: Annotated[int, Query(ge=1, le=500)] = 200) -> list[Appeal]:
    """A rep's own, a supervisor's team's, everyone's for staff; open ones oldest first."""
    return reading.listed(session, principal, status=status, limit=limit)


@router.get("/appeals/metrics", response_model=MetricsRead)
def appeal_metrics(session: DbSession, principal: Reader, settings: AppSettings,
                   since: Annotated[IsoDate | None, Query(alias="from")] = None,
                   until: Annotated[IsoDate | None, Query(alias="to")] = None) -> MetricsRead:
    """Appeals filed from ``from`` to ``to`` (organisation days, inclusive) that the caller may read: count,
    open, decided, hours from filing to ruling (median, mean), and the share of each outcome; per team."""
    return reading.overview(session, principal, since=since, until=until, zone=settings.zone)


@router.get("/appeals/{appeal_id}", response_model=AppealDetail)
def get_appeal(appeal_id: DbId, session: DbSession, principal: Reader, settings: AppSettings) -> AppealDetail:
    """The appeal with the appealed decision's evidence as the caller may see it (``decision`` null when not)."""
    return reading.detail(session, principal, appeal_id, window=timedelta(minutes=settings.appeal_window_minutes))


@router.post("/appeals/{appeal_id}/withdraw", response_model=AppealRead)
def withdraw_appeal(appeal_id: DbId, session: DbSession, actor: Writer) -> Appeal:
    return service.withdraw(session, appeal_id, actor=actor)


@router.post("/appeals/{appeal_id}/ruling", response_model=AppealRead)
def rule_on_appeal(appeal_id: DbId, data: Ruling, session: DbSession, actor: Writer) -> Appeal:
    """The supervisor of the appellant's team, admin or ops, once: ``uphold`` keeps the assignment,
    ``rescore`` applies the corrected facts and routes the lead again, ``reassign`` routes it again without
    the appellant (or to ``rep_id``)."""
    return service.rule(session, appeal_id, data, actor=actor)
