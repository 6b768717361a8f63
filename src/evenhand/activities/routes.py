"""Activity endpoints: reading; capture by the systems of record (idempotent on source system and external id);
the reconciliation list of activities waiting to be matched."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from evenhand.activities import repository, service
from evenhand.activities.schemas import (
    ActivityCreate,
    ActivityRead,
    ActivityUpdate,
    LinkRequest,
    Reason,
    ReconcileRead,
    UnmatchedRead,
)
from evenhand.deps import AppSettings, DbSession, OrgManager, Reader, Writer
from evenhand.kit.pagination import Page, Paging, paginate
from evenhand.kit.schema import DbId, IsoDate
from evenhand.models import Activity, ActivityType, UnmatchedActivity

router = APIRouter(tags=["activities"])
STATUS = {"created": 201, "updated": 200, "unchanged": 200, "waiting": 202}
_CAPTURED: dict[int | str, dict[str, Any]] = {
    200: {"model": ActivityRead, "description": "Captured before (POST: returned unchanged) or changed"},
    202: {"model": UnmatchedRead,
          "description": "Matches no known rep, or no lead or deal: it waits in the reconciliation list"}}
_PATCHED = {**_CAPTURED, 201: {"model": ActivityRead, "description": "It was waiting, and matches now"}}


def _answer(response: Response, outcome: str, found: Activity | UnmatchedActivity) -> ActivityRead | UnmatchedRead:
    response.status_code = STATUS[outcome]
    if isinstance(found, Activity):
        return ActivityRead.model_validate(found)
    return UnmatchedRead.model_validate(found)


@router.get("/activities", response_model=Page[ActivityRead])
def list_activities(session: DbSession, principal: Reader, paging: Paging, settings: AppSettings,
                    rep_id: DbId | None = None, lead_id: DbId | None = None, type: ActivityType | None = None,
                    since: IsoDate | None = None, until: IsoDate | None = None) -> dict[str, Any]:
    """Newest first; ``since`` and ``until`` are whole days in the company's time zone."""
    stmt = repository.listing(principal, rep_id=rep_id, lead_id=lead_id, type=type, since=since, until=until,
                              zone=settings.zone)
    items, total = paginate(session, stmt, paging)
    return {"items": items, "total": total, **paging.model_dump()}


@router.post("/activities", response_model=ActivityRead | UnmatchedRead, status_code=201, responses=_CAPTURED)
def capture_activity(data: ActivityCreate, session: DbSession, actor: OrgManager,
                     response: Response) -> ActivityRead | UnmatchedRead:
    """Create the activity (201), or return the one already captured under the same source system and external
    id, unchanged (200). One whose rep is nobody known, or that names no known lead or deal, waits in the
    reconciliation list (202, the entry); sent again once it matches, it is created."""
    return _answer(response, *service.capture(session, data, actor=actor))


@router.get("/activities/unmatched", response_model=Page[UnmatchedRead])
def list_unmatched(session: DbSession, principal: Reader, paging: Paging, reason: Reason | None = None,
                   include_resolved: bool = False) -> dict[str, Any]:
    """The reconciliation list, longest waiting first: for sales ops, admin, supervisors and auditors."""
    service.check_reconciler(principal)
    items, total = paginate(session, repository.unmatched(reason=reason, include_resolved=include_resolved), paging)
    return {"items": items, "total": total, **paging.model_dump()}


@router.post("/activities/unmatched/{entry_id}/link", response_model=ActivityRead, status_code=201)
def link_unmatched(entry_id: DbId, data: LinkRequest, session: DbSession, actor: Writer) -> Activity:
    """Link a waiting activity to a rep and a lead or deal by hand (sales ops, admin; a supervisor to their own
    team's reps): the activity is created and the entry leaves the list. Audited."""
    return service.link(session, entry_id, data, actor=actor)


@router.post("/activities/reconcile", response_model=ReconcileRead)
def reconcile(session: DbSession, actor: Writer) -> ReconcileRead:
    """Try every waiting activity again; those whose rep and lead or deal are known now become activities."""
    service.check_reconciler(actor)
    tried, linked, waiting = service.reconcile(session, actor=actor)
    return ReconcileRead(tried=tried, linked=linked, waiting=waiting)


@router.patch("/activities/{source_system}/{external_id}", response_model=ActivityRead | UnmatchedRead,
              responses=_PATCHED)
def patch_activity(source_system: str, external_id: str, data: ActivityUpdate, session: DbSession,
                   actor: OrgManager, response: Response) -> ActivityRead | UnmatchedRead:
    """Change the fields given of an activity a system of record sent (200). A rep, lead, deal, e-mail or phone
    given is matched again and must name someone or something known. A waiting activity is tried again with
    the changes: created when it matches now (201), else still waiting (202)."""
    return _answer(response, *service.patch(session, source_system, external_id, data, actor=actor))


@router.get("/activities/{activity_id}", response_model=ActivityRead)
def get_activity(activity_id: DbId, session: DbSession, principal: Reader) -> Activity:
    return service.visible_activity(session, principal, activity_id)
