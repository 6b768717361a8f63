"""Alert endpoints: the alerts the caller reads and what they do with them, and the versioned rules."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from evenhand.alerts import service
from evenhand.alerts.schemas import (
    Acknowledge,
    ActionRead,
    AlertDetail,
    AlertRead,
    CommentCreate,
    Resolve,
    RulesDetail,
    RulesSave,
    Snooze,
)
from evenhand.auth.principal import Principal
from evenhand.deps import DbSession, Reader, Writer
from evenhand.kit.schema import DbId
from evenhand.models import Alert, AlertStatus
from evenhand.web import document_routes

router = APIRouter(tags=["alerts"])


# The rules first: ``/alerts/rules`` is not an alert's id.
document_routes.add(router, "/alerts/rules", service.RULES, noun="rules", detail=RulesDetail, save_body=RulesSave,
                    save=service.save, saved="A new active version; the change is audited with its diff. Scans and "
                    "events are judged under it from now on.", checked="The problems in the text, each with its path "
                    "and line (a CEL error names the rule's ``when``); a text refused for what reading it would cost "
                    "is an error (422).")


@router.get("/alerts", response_model=list[AlertRead])
def list_alerts(session: DbSession, principal: Reader, status: AlertStatus | None = None,
                scope: Literal["all", "mine", "teams"] = "all",
                limit: Annotated[int, Query(ge=1, le=500)] = 200) -> list[Alert]:
    """Live alerts (snoozed ones hidden until their time), or those of one ``status``; a rep reads their own, a
    supervisor their teams', staff everyone's. ``mine``: on the caller's own records; ``teams``: on the members of
    the teams they supervise."""
    return service.listed(session, principal, status=status, scope=scope, limit=limit)


@router.get("/alerts/{alert_id}", response_model=AlertDetail)
def get_alert(alert_id: DbId, session: DbSession, principal: Reader) -> AlertDetail:
    return _detail(session, principal, service.visible(session, principal, alert_id))


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertDetail)
def acknowledge(alert_id: DbId, data: Acknowledge, session: DbSession, actor: Writer) -> AlertDetail:
    """Seen and being handled: its messages stop escalating."""
    return _detail(session, actor, service.acknowledge(session, actor, alert_id, comment=data.comment))


@router.post("/alerts/{alert_id}/comments", response_model=AlertDetail)
def comment(alert_id: DbId, data: CommentCreate, session: DbSession, actor: Writer) -> AlertDetail:
    return _detail(session, actor, service.comment(session, actor, alert_id, data.comment))


@router.post("/alerts/{alert_id}/snooze", response_model=AlertDetail)
def snooze(alert_id: DbId, data: Snooze, session: DbSession, actor: Writer) -> AlertDetail:
    """Out of sight until ``until``, with a reason; back then if its rule still holds. The supervisor of the rep's
    team, sales ops or an admin."""
    return _detail(session, actor, service.snooze(session, actor, alert_id, until=data.until, reason=data.reason))


@router.post("/alerts/{alert_id}/resolve", response_model=AlertDetail)
def resolve(alert_id: DbId, data: Resolve, session: DbSession, actor: Writer) -> AlertDetail:
    """Resolved by hand (the supervisor of the rep's team, sales ops or an admin); a rule still holding opens a new
    alert at the next scan."""
    return _detail(session, actor, service.resolve(session, actor, alert_id, comment=data.comment))


def _detail(session: Session, principal: Principal, alert: Alert) -> AlertDetail:
    actions = [ActionRead(action=a.action, actor_id=a.actor_id, actor=name, comment=a.comment, until=a.until, at=a.at)
               for a, name in service.actions(session, principal, alert.id)]
    return AlertDetail.model_validate({**AlertRead.model_validate(alert).model_dump(), "evidence": alert.evidence,
                                       "actions": actions})
