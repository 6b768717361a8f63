"""Appeal endpoints: file, list, read with the decision's evidence, withdraw, rule, and the metrics."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from evenhand.appeals import metrics, repository, service
from evenhand.appeals.schemas import AppealCreate, AppealDetail, AppealRead, MetricsRead, Ruling
from evenhand.deps import AppSettings, DbSession, Reader, Writer
from evenhand.errors import NotFound
from evenhand.kit.schema import DbId, IsoDate
from evenhand.models import Appeal, AppealStatus, Lead, RoutingDecision, Team, User
from evenhand.routing import service as routing_service

router = APIRouter(tags=["appeals"])


@router.post("/appeals", response_model=AppealRead, status_code=201)
def file_appeal(data: AppealCreate, session: DbSession, actor: Writer, settings: AppSettings) -> Appeal:
    """The rep the decision assigned the lead to, within ``appeal_window_minutes`` of it; once per decision."""
    return service.file(session, data, actor=actor, window=timedelta(minutes=settings.appeal_window_minutes))


@router.get("/appeals", response_model=list[AppealRead])
def list_appeals(session: DbSession, principal: Reader, status: AppealStatus | None = None,
                 limit: Annotated[int, Query(ge=1, le=500)] = 200) -> list[Appeal]:
    """A rep's own, a supervisor's team's, everyone's for staff; open ones oldest first."""
    return list(session.scalars(repository.listed(principal, status=status, limit=limit)))


@router.get("/appeals/metrics", response_model=MetricsRead)
def appeal_metrics(session: DbSession, principal: Reader, settings: AppSettings,
                   since: Annotated[IsoDate | None, Query(alias="from")] = None,
                   until: Annotated[IsoDate | None, Query(alias="to")] = None) -> dict[str, Any]:
    """Appeals filed from ``from`` to ``to`` (organisation days, inclusive) that the caller may read: count,
    open, decided, hours from filing to ruling (median, mean), and the share of each outcome; per team."""
    facts = repository.facts(session, principal, since=since, until=until, zone=settings.zone)
    teams = dict(session.execute(select(Team.id, Team.name)).tuples().all())
    return {"overall": asdict(metrics.figures(facts)),
            "teams": [{"team_id": team, "team": teams.get(team) if team else None, **asdict(figures)}
                      for team, figures in metrics.by_team(facts).items()]}


@router.get("/appeals/{appeal_id}", response_model=AppealDetail)
def get_appeal(appeal_id: DbId, session: DbSession, principal: Reader, settings: AppSettings) -> AppealDetail:
    appeal = service.visible(session, principal, appeal_id)
    decision = session.get(RoutingDecision, appeal.decision_id)
    assert decision is not None
    try:
        evidence = routing_service.visible_decision(session, principal, appeal.decision_id)
        hidden = () if evidence["full"] else ("state_before", "state_after")
        shown: dict[str, Any] | None = {k: v for k, v in evidence["record"].items() if k not in hidden} | {
            "verdicts": evidence["verdicts"], "kind": decision.kind}
    except NotFound:
        shown = None
    return AppealDetail(**AppealRead.model_validate(appeal).model_dump(),
                        company=session.scalar(select(Lead.company).where(Lead.id == appeal.lead_id)) or "",
                        appellant_name=session.scalar(select(User.display_name)
                                                      .where(User.id == appeal.appellant_id)) or "",
                        window_closes_at=service.window_closes(decision,
                                                               timedelta(minutes=settings.appeal_window_minutes)),
                        decision=shown)


@router.post("/appeals/{appeal_id}/withdraw", response_model=AppealRead)
def withdraw_appeal(appeal_id: DbId, session: DbSession, actor: Writer) -> Appeal:
    return service.withdraw(session, appeal_id, actor=actor)


@router.post("/appeals/{appeal_id}/ruling", response_model=AppealRead)
def rule_on_appeal(appeal_id: DbId, data: Ruling, session: DbSession, actor: Writer) -> Appeal:
    """The supervisor of the appellant's team, admin or ops, once: ``uphold`` keeps the assignment,
    ``rescore`` applies the corrected facts and routes the lead again, ``reassign`` routes it again without
    the appellant (or to ``rep_id``)."""
    return service.rule(session, appeal_id, data, actor=actor)
