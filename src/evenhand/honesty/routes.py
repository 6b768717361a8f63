"""Honesty flag endpoints: list the flags the caller may read, read one with its evidence, decide on it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from evenhand.deps import DbSession, Reader, Writer
from evenhand.honesty import service
from evenhand.honesty.schemas import FlagDecision, FlagDetail, FlagRead
from evenhand.kit.schema import DbId
from evenhand.models import FlagKind, FlagStatus, HonestyFlag

router = APIRouter(tags=["honesty"])


@router.get("/honesty/flags", response_model=list[FlagRead])
def list_flags(session: DbSession, principal: Reader, status: FlagStatus | None = None, kind: FlagKind | None = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 200) -> list[HonestyFlag]:
    """A rep's own, a supervisor's team's, everyone's for staff; open ones oldest first."""
    return service.listed(session, principal, status=status, kind=kind, limit=limit)


@router.get("/honesty/flags/{flag_id}", response_model=FlagDetail)
def get_flag(flag_id: DbId, session: DbSession, principal: Reader) -> FlagDetail:
    return service.detail(session, principal, flag_id)


@router.post("/honesty/flags/{flag_id}/decision", response_model=FlagRead)
def decide_flag(flag_id: DbId, data: FlagDecision, session: DbSession, actor: Writer) -> HonestyFlag:
    """The supervisor of the rep's team, sales ops or an admin, once, never on their own notes; audited."""
    return service.decide(session, flag_id, data.decision, note=data.note, actor=actor)
