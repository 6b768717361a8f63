"""Canary endpoints: start a routing policy candidate on a share of leads, read the board comparing its arms, roll it
back or promote it. Admin and ops start and end canaries; sales ops, supervisors and auditors read them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from evenhand.deps import DbSession, DocumentEditor, Reader
from evenhand.kit.schema import DbId, Strict
from evenhand.kit.versions import DocumentBody, Note
from evenhand.models import Canary, CanaryStatus
from evenhand.monitor import canary as service
from evenhand.routing.canary import SHARE_MAX

router = APIRouter(tags=["canaries"])
MetricId = Annotated[str, Field(min_length=1, max_length=60)]


class CanaryStart(Strict):
    body: DocumentBody = Field(description="The candidate routing policy (YAML)")
    share: float = Field(gt=0, le=SHARE_MAX, description="The share of leads it routes, by a stable hash of the lead")
    metrics: list[MetricId] = Field(default_factory=list, max_length=20,
                                    description="The metrics it may affect; default every metric the board compares")
    note: Note = ""


class CanaryEnd(Strict):
    reason: Note = ""


class CanaryPromote(Strict):
    note: Note = ""


class CanaryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    version: int = Field(description="The candidate policy version")
    control_version: int = Field(description="The version active when it started")
    share: float
    status: CanaryStatus
    metrics: list[str]
    started_at: datetime
    ended_at: datetime | None
    started_by_id: int | None
    ended_by_id: int | None
    change_id: int | None


class SideRead(BaseModel):
    value: float | None
    n: int


class RowRead(BaseModel):
    metric: str
    label: str
    unit: str = Field(description="hours, share or ratio")
    good: str = Field(description="up or down: the direction that is better")
    control: SideRead
    canary: SideRead
    diff: float | None = Field(description="canary − control")
    low: float | None = Field(description="The 95% interval of the difference")
    high: float | None
    p: float | None = Field(description="Fixed-horizon two-sided p-value")
    p_always: float | None = Field(description="Always-valid p-value (mixture SPRT): may be read at any time")
    verdict: str = Field(description="better, worse or no_evidence (always-valid p below 0.05 or not)")


class BoardRead(BaseModel):
    leads: dict[str, int] = Field(description="Leads per arm since the canary started")
    rows: list[RowRead]


class CanaryDetail(CanaryRead):
    board: BoardRead


class Promoted(BaseModel):
    canary: CanaryRead
    version: int = Field(description="The new active policy version")


@router.get("/canaries", response_model=list[CanaryRead])
def list_canaries(session: DbSession, principal: Reader) -> list[Canary]:
    """Every canary, newest first."""
    return service.history(session, principal)


@router.post("/canaries", response_model=CanaryDetail, status_code=201)
def start_canary(data: CanaryStart, session: DbSession, actor: DocumentEditor) -> CanaryDetail:
    """Store the candidate as a version that is not active and route ``share`` of the leads with it; refused while
    another canary runs. Recorded in the change registry and audited."""
    found = service.start(session, data.body, share=data.share, metrics=data.metrics, actor=actor, note=data.note)
    return _detail(session, found)


@router.get("/canaries/{canary_id}", response_model=CanaryDetail)
def get_canary(canary_id: DbId, session: DbSession, principal: Reader) -> CanaryDetail:
    """The canary with its board: each declared metric in both arms, the difference with its interval, the
    fixed-horizon and the always-valid p-value, and a verdict."""
    board = service.board(session, canary_id, principal=principal)
    return CanaryDetail.model_validate({**_read(session, canary_id).model_dump(), "board": _board(board)})


@router.post("/canaries/{canary_id}/rollback", response_model=CanaryRead)
def rollback_canary(canary_id: DbId, data: CanaryEnd, session: DbSession, actor: DocumentEditor) -> Canary:
    """End the canary: from the next lead on, the active version routes every lead."""
    return service.rollback(session, actor=actor, reason=data.reason, canary_id=canary_id)


@router.post("/canaries/{canary_id}/promote", response_model=Promoted)
def promote_canary(canary_id: DbId, data: CanaryPromote, session: DbSession, actor: DocumentEditor) -> Promoted:
    """End the canary and save its candidate as the next active version."""
    saved = service.promote(session, actor=actor, note=data.note, canary_id=canary_id)
    return Promoted(canary=_read(session, canary_id), version=saved.version)


def _read(session: Session, canary_id: int) -> CanaryRead:
    return CanaryRead.model_validate(service.get(session, canary_id))


def _detail(session: Session, found: Canary) -> CanaryDetail:
    board = service.board(session, found.id)
    return CanaryDetail.model_validate({**CanaryRead.model_validate(found).model_dump(), "board": _board(board)})


def _board(board: service.Board) -> BoardRead:
    return BoardRead.model_validate({"leads": board.leads, "rows": board.as_dict()["rows"]})
