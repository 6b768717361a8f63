"""The change registry's endpoints: read it (everyone but reps), enter, edit, release and roll back a change (sales
ops, admins). evenhand's own configuration changes appear here as they are saved."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from evenhand.deps import AppSettings, DbSession, OrgManager, Reader
from evenhand.kit.pagination import Page, Paging, paginate
from evenhand.kit.schema import DbId, IsoDate
from evenhand.models import ChangeStatus
from evenhand.monitor import changes
from evenhand.monitor.change_schemas import ChangeCreate, ChangeDetail, ChangeRead, ChangeUpdate, Kind, Rollback

router = APIRouter(tags=["changes"])
SystemName = Annotated[str, Query(min_length=1, max_length=80, pattern=r"^[\w.\-]+$")]


@router.get("/changes", response_model=Page[ChangeRead])
def list_changes(session: DbSession, principal: Reader, paging: Paging, settings: AppSettings,
                 status: ChangeStatus | None = None, system: SystemName | None = None,
                 source: Literal["manual", "config"] | None = None, kind: Kind | None = None,
                 since: IsoDate | None = None, until: IsoDate | None = None) -> dict[str, Any]:
    """Newest first by the time each took effect; ``since`` and ``until`` are whole days in the company's zone.
    A planned change lists in ``missing`` what keeps it from release."""
    stmt = changes.listing(principal, status=status, system=system, source=source, kind=kind, since=since,
                           until=until, zone=settings.zone)
    items, total = paginate(session, stmt, paging)
    active = changes.active_kpi_ids(session)
    return {"items": [changes.view(e, active) for e in items], "total": total, **paging.model_dump()}


@router.get("/changes/{change_id}", response_model=ChangeDetail)
def get_change(change_id: DbId, session: DbSession, principal: Reader) -> ChangeDetail:
    return changes.detail(session, principal, changes.get(session, principal, change_id))


@router.post("/changes", response_model=ChangeDetail, status_code=201)
def add_change(data: ChangeCreate, session: DbSession, actor: OrgManager) -> ChangeDetail:
    """A planned change with what it may move (``affected_metrics``), the KPIs watched for it (``monitors``) and
    the impact checklist's answers so far. Audited."""
    return changes.detail(session, actor, changes.add(session, data, actor=actor))


@router.patch("/changes/{change_id}", response_model=ChangeDetail)
def edit_change(change_id: DbId, data: ChangeUpdate, session: DbSession, actor: OrgManager) -> ChangeDetail:
    """Only a planned change entered by hand; checklist answers are merged into those it had. Audited."""
    return changes.detail(session, actor, changes.edit(session, change_id, data, actor=actor))


@router.post("/changes/{change_id}/release", response_model=ChangeDetail)
def release_change(change_id: DbId, session: DbSession, actor: OrgManager) -> ChangeDetail:
    """Refused (422, naming each missing field under ``details``) until every checklist question is answered, a
    monitor names a KPI of the active definitions, and every affected metric that is such a KPI has its monitor."""
    return changes.detail(session, actor, changes.release(session, change_id, actor=actor))


@router.post("/changes/{change_id}/rollback", response_model=ChangeDetail)
def roll_back_change(change_id: DbId, data: Rollback, session: DbSession, actor: OrgManager) -> ChangeDetail:
    """A released change entered by hand; the reason is kept in its history. A configuration change is rolled back
    by saving the version before it."""
    return changes.detail(session, actor, changes.roll_back(session, change_id, reason=data.reason, actor=actor))
