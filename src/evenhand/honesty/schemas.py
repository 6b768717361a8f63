"""API shapes for the honesty checks: a flag with its evidence, a decision on it, a scan's counts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

from evenhand.kit.schema import Strict
from evenhand.models import FlagKind, FlagStatus


class FlagDecision(Strict):
    """``confirm``: the note is what the checks say (nothing behind it, or copied); ``dismiss``: it is not."""

    decision: Literal["confirm", "dismiss"]
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""


class FlagRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    activity_id: int
    kind: FlagKind
    rep_id: int
    status: FlagStatus
    created_at: datetime
    decided_by: int | None
    decided_at: datetime | None
    decision_note: str


class FlagDetail(FlagRead):
    """The flag with its evidence: the note, the window searched and the nearest contacts with the customer
    (unbacked), or the similar notes (near-duplicate); ``closed`` when a later scan closed it."""

    evidence: dict[str, Any]
    rep_name: str
    may_decide: bool
