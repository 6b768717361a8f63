"""Routing endpoints: the policy (versioned YAML), decisions ("why this rep, why not me"), the holding queue."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from evenhand.db import session_scope
from evenhand.deps import DbSession, DocumentEditor, DocumentReader, DocumentReviewer, OrgManager, Reader, Writer
from evenhand.i18n import t
from evenhand.kit.schema import DbId, IsoDate, Strict
from evenhand.kit.versions import DocumentBody, DocumentText, Note, Validation, VersionRead
from evenhand.models import HeldLead, RoutingDecision, RoutingPolicyVersion, User
from evenhand.org import service as org_service
from evenhand.org.schemas import PresenceUpdate, UserRead
from evenhand.routing import flows, policy_versions, reassignment, service, whatif
from evenhand.routing import holds as holding
from evenhand.routing.reasons import explain_hold

router = APIRouter(tags=["routing"])
class PolicyRead(VersionRead):
    affected_metrics: list[str]


class PolicyDetail(PolicyRead):
    body: str


class PolicySave(DocumentText):
    note: Note = ""
    affected_metrics: Annotated[list[Annotated[str, Field(min_length=1, max_length=60)]],
                                Field(max_length=30, default_factory=list)]


class DecisionSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    lead_id: int
    kind: str
    outcome: str
    rep_id: int | None
    track: str | None
    pool_id: str | None
    policy_version: int
    latency_us: int
    created_at: datetime


class DecisionDetail(DecisionSummary):
    """The evidence. Staff and supervisors see every candidate; a rep sees the chosen rep, the weights
    and their own verdict (not colleagues' presence or leave)."""

    rep_name: str | None
    pool_label: str | None = Field(description="The pool's label in the policy version that decided")
    lead: dict[str, Any]
    verdicts: list[dict[str, Any]]
    weights: list[dict[str, Any]]
    pools_checked: list[dict[str, Any]]
    hold_reason: str | None = Field(None, description="Why nobody was placed, when the lead was held")
    state_before: dict[str, Any] | None
    state_after: dict[str, Any] | None


class Reassign(Strict):
    """``rep_id`` names the new owner (a manual assignment); without it the lead is routed again under the
    policy, without its current owner."""

    rep_id: DbId | None = None
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class HeldRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    lead_id: int
    pool_id: str
    held_since: datetime
    escalated_at: datetime | None


@router.get("/routing/policy", response_model=PolicyDetail)
def active_policy(session: DbSession, _: DocumentReader) -> RoutingPolicyVersion:
    return policy_versions.active(session)


@router.get("/routing/policies", response_model=list[PolicyRead])
def list_policies(session: DbSession, _: DocumentReader) -> list[RoutingPolicyVersion]:
    return policy_versions.versions(session)


@router.put("/routing/policy", response_model=PolicyDetail)
def save_policy(data: PolicySave, session: DbSession, actor: DocumentEditor) -> RoutingPolicyVersion:
    """A new active version; the change is audited with its diff and the metrics it declares it may affect."""
    return policy_versions.save(session, data.body, author=actor, note=data.note,
                                affected_metrics=data.affected_metrics)


@router.post("/routing/validate", response_model=Validation)
def validate_policy(data: DocumentText, _: DocumentEditor) -> Validation:
    """The problems in the text, each with its path and line; a text refused for what reading it would cost
    (size, depth, values, time) is an error (422), like a body over the length limit."""
    return policy_versions.POLICIES.check(data.body)


@router.get("/routing/decisions", response_model=list[DecisionSummary])
def list_decisions(session: DbSession, principal: Reader, lead_id: DbId | None = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[RoutingDecision]:
    """The live feed, newest first, limited to decisions about leads the caller may read."""
    return service.feed(session, principal, lead_id=lead_id, limit=limit)


@router.get("/routing/decisions/{decision_id}", response_model=DecisionDetail)
def get_decision(decision_id: DbId, session: DbSession, principal: Reader) -> DecisionDetail:
    view = service.visible_decision(session, principal, decision_id)
    row, record, full = view["row"], view["record"], view["full"]
    name = org_service.display_names(session, {row.rep_id}).get(row.rep_id) if row.rep_id else None
    return DecisionDetail(**DecisionSummary.model_validate(row).model_dump(), rep_name=name,
                          pool_label=view["pool_label"], lead=record["lead"], verdicts=view["verdicts"],
                          weights=record["weights"], pools_checked=record["pools_checked"],
                          hold_reason=explain_hold(record, view["pool_label"] or row.pool_id or "", t),
                          state_before=record["state_before"] if full else None,
                          state_after=record["state_after"] if full else None)


@router.get("/routing/holds", response_model=list[HeldRead])
def holds(session: DbSession, _: OrgManager) -> list[HeldLead]:
    return holding.held_leads(session)


@router.post("/routing/holds/release", response_model=list[DecisionSummary])
def release(session: DbSession, actor: OrgManager) -> list[RoutingDecision]:
    """Try every held lead again now (the worker does this on its own, and when a rep comes online)."""
    return holding.release_held(session)


@router.post("/leads/{lead_id}/reassign", response_model=DecisionSummary)
def reassign(lead_id: DbId, data: Reassign, session: DbSession, actor: Writer) -> RoutingDecision:
    """Admin, ops, and the supervisor of the owner's team (of the pool's teams while the lead waits). The
    new decision is audited and replays like any other; both owners are notified."""
    lead = service.reassignable(session, actor, lead_id)
    return reassignment.reassign(session, lead, actor=actor, to_rep_id=data.rep_id, note=data.reason,
                                 kind="reassign" if data.rep_id is None else "manual")


# --- what-if replay (R4.7) --------------------------------------------------------------------------


class WhatIfRequest(Strict):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    body: DocumentBody
    from_: IsoDate = Field(alias="from", description="First day (the organisation's local date)")
    to: IsoDate = Field(description="Last day, inclusive; at most 92 days after the first")


class RepFigures(BaseModel):
    leads: int
    high_value: int
    expected_conversions: float


class RepComparison(BaseModel):
    rep_id: int
    name: str
    team: str
    actual: int  # leads of the range the rep owns today
    current: RepFigures
    candidate: RepFigures
    difference: RepFigures


class ChiSquareRead(BaseModel):
    statistic: float
    dof: int
    p_value: float


class TeamFigures(BaseModel):
    leads: int
    chi_square: ChiSquareRead | None
    gini: float


class TeamComparison(BaseModel):
    team: str
    current: TeamFigures | None
    candidate: TeamFigures | None


class SideTotals(BaseModel):
    assigned: int
    held: int  # still waiting when the range ended
    waited: int  # routed after waiting in the holding queue
    mean_wait_hours: float
    high_value: int
    expected_conversions: float
    gini: float


class Differences(BaseModel):
    moved: int  # leads that would go to someone else (or be held instead)
    held: int
    high_value: int
    expected_conversions: float
    gini: float


class PolicyRef(BaseModel):
    version: int | None
    name: str
    hash: str


class Estimator(BaseModel):
    prior_leads: float
    window_days: int
    description: str


class WhatIf(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    from_: date = Field(alias="from")
    to: date
    leads: int
    threshold: int
    policies: dict[str, PolicyRef]
    estimator: Estimator
    seconds: float
    reps: list[RepComparison]
    teams: list[TeamComparison]
    current: SideTotals
    candidate: SideTotals
    difference: Differences


@router.post("/routing/whatif", response_model=WhatIf)
def whatif_replay(data: WhatIfRequest, request: Request, session: DbSession,
                  principal: DocumentReviewer) -> dict[str, Any]:
    """The leads of a date range routed again under this text and under the active policy, side by side (at
    most 92 days; sales operations, auditors and supervisors). A replay reads for seconds: the request's
    own transaction (on SQLite a writing one, holding the write lock since sign-in was checked) is ended
    first and the replay reads in a read-only one, so intake is not kept waiting meanwhile."""
    session.commit()
    with session_scope(request.app.state.engine, readonly=True) as reading:
        return whatif.replay(reading, data.body, start=data.from_, end=data.to, principal=principal)


@router.put("/users/{user_id}/presence", response_model=UserRead, tags=["organisation"])
def set_presence(user_id: DbId, data: PresenceUpdate, session: DbSession, actor: Writer) -> User:
    """A rep's presence (a supervisor or ops may set it for them); coming online may place held leads."""
    return flows.set_presence(session, user_id, data.presence, actor=actor)
