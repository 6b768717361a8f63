"""Incentive endpoints (/api/v1/scorecards/grants): who holds each grant a closed period earned, and the what-if of
a tier change on the key-account pool — the page ``/performance/incentives`` and ``evenhand scorecard grants`` /
``whatif`` over the API, with the same visibility: a rep reads their own rows, a supervisor their teams', staff
everyone's; the what-if is for sales ops, supervisors and auditors."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from evenhand.db import session_scope
from evenhand.deps import DbSession, DocumentReviewer, Reader
from evenhand.kit.schema import Strict
from evenhand.kit.versions import DocumentBody
from evenhand.performance import incentives
from evenhand.performance.period import parse

router = APIRouter(prefix="/scorecards/grants", tags=["scorecards"])
PeriodText = Annotated[str, Field(max_length=10, pattern=r"^\d{4}-(0[1-9]|1[0-2]|Q[1-4])$",
                                  description="A month (2026-09) or a quarter (2026-Q3)")]


class GrantRead(BaseModel):
    user_id: int
    name: str
    team: str | None
    grant: str
    tier: str
    tier_label: dict[str, str]
    total: float | None
    status: str = Field(description="held, by_hand (a hand-made grant left as it was) or lapsed (expired or revoked)")
    expires_at: datetime | None
    reason: str


class WhatIfAsk(Strict):
    body: DocumentBody = Field(description="The edited scorecard templates (YAML)")
    period: PeriodText | None = Field(default=None, description="A closed period; the last closed one by default")
    days: int = Field(default=incentives.WHATIF_DAYS, ge=1, le=92, description="The recent days replayed")


class Side(BaseModel):
    holds: bool
    leads: int
    share: float


class RepShare(BaseModel):
    user_id: int
    name: str
    before: Side
    after: Side


class Holders(BaseModel):
    before: list[int]
    after: list[int]
    by_hand: list[int]


class WhatIfRead(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    period: str
    revision: int
    candidate: str
    from_: str = Field(alias="from", description="First local day replayed")
    to: str
    pools: list[str] = Field(description="The key-account pools of the active routing policy")
    leads: int = Field(description="The pools' leads in the range")
    held: dict[str, int] = Field(description="Leads left waiting on each side")
    reps: list[RepShare]
    holders: Holders


@router.get("", response_model=list[GrantRead])
def list_grants(session: DbSession, principal: Reader, period_key: Annotated[str, Query(
        alias="period", max_length=10, description="A month (2026-09) or a quarter (2026-Q3)")]) -> list[GrantRead]:
    """Who holds each grant the closed period's current revision earned, by grant then total (empty while the
    period was never closed). A rep reads their own rows, a supervisor their teams', staff everyone's."""
    found = incentives.lists(session, parse(period_key), principal=principal)
    return [GrantRead(**vars(h)) for h in found]


@router.post("/whatif", response_model=WhatIfRead, response_model_by_alias=True)
def grants_whatif(data: WhatIfAsk, request: Request, session: DbSession, principal: DocumentReviewer
                  ) -> dict[str, Any]:
    """Who would hold ``key_account`` if the closed period's cards were scored under ``body``, and how the
    key-account pools' leads of the last ``days`` days would then have been shared (sales ops, supervisors,
    auditors). Like the routing what-if, the replay reads in a read-only transaction of its own."""
    period = parse(data.period) if data.period is not None else None
    session.commit()
    with session_scope(request.app.state.engine, readonly=True) as reading:
        return incentives.whatif(reading, data.body, period=period, days=data.days, principal=principal)
