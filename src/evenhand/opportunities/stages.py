"""A deal's stage history: put in order when an export has one, derived from the deal's dates when it has not.

Derived (``derive``): created → qualification; engaged → needs analysis, or straight to the deal's open stage
when it stands further on (proposal, negotiation); closed → won or lost. An open deal's history ends at its
current stage. Every derived step is marked as such where it is stored (``StageChange.derived``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from evenhand.models.opportunity import OPEN_STAGES, Stage


@dataclass(frozen=True)
class Step:
    from_stage: Stage | None
    to_stage: Stage
    at: datetime


def is_closed(stage: Stage) -> bool:
    return stage not in OPEN_STAGES


def contradicts(stage: Stage, *, won: bool) -> bool:
    """A won flag that says otherwise than the stage: won on a stage that is not won, not won on a won one."""
    return (stage is Stage.WON) is not won


def from_flags(*, won: bool, closed: bool | None, closed_at: datetime | None, engaged_at: datetime | None) -> Stage:
    """The stage of an export that only says whether a deal was won: not won is lost once the deal is closed
    (``closed``, or, without that column, a close date); an open deal is in needs analysis once engaged."""
    if won:
        return Stage.WON
    if closed or (closed is None and closed_at is not None):
        return Stage.LOST
    return opening_stage(engaged_at)


def opening_stage(engaged_at: datetime | None) -> Stage:
    """The stage of a new deal whose export names none: qualification until the customer was engaged."""
    return Stage.NEEDS_ANALYSIS if engaged_at is not None else Stage.QUALIFICATION


def derive(stage: Stage, *, created_at: datetime, engaged_at: datetime | None,
           closed_at: datetime | None) -> list[Step]:
    """The history a deal's dates imply (see the module's docstring). Dates are taken to be in order."""
    steps = [Step(None, Stage.QUALIFICATION, created_at)]
    if engaged_at is not None and stage is not Stage.QUALIFICATION:
        steps.append(Step(Stage.QUALIFICATION, Stage.NEEDS_ANALYSIS if is_closed(stage) else stage, engaged_at))
    if is_closed(stage):
        steps.append(Step(steps[-1].to_stage, stage, closed_at or steps[-1].at))
    elif steps[-1].to_stage is not stage:
        steps.append(Step(steps[-1].to_stage, stage, steps[-1].at))
    return steps


def in_order(lines: Iterable[Step]) -> list[Step]:
    """An exported history as moves, oldest first: a line without the stage it left left the one before's, and a
    line that leaves the deal where it was (a CRM's history also records amount changes) is no move."""
    steps: list[Step] = []
    for line in sorted(lines, key=lambda s: s.at):
        before = steps[-1].to_stage if steps else None
        if line.to_stage is before:
            continue
        steps.append(Step(line.from_stage or before, line.to_stage, line.at))
    return steps


def dates_in_order(created_at: datetime, engaged_at: datetime | None, closed_at: datetime | None) -> str | None:
    """Which date is out of order (engaged or closed before the deal was created, closed before engaged)."""
    if engaged_at is not None and engaged_at < created_at:
        return "engaged_at"
    if closed_at is not None and (closed_at < created_at or (engaged_at is not None and closed_at < engaged_at)):
        return "closed_at"
    return None


def last_move(steps: Iterable[Step], stage: Stage) -> datetime | None:
    """When the deal last moved into ``stage``; failing that, its last move of any kind."""
    ordered = sorted(steps, key=lambda s: s.at)
    into = [s.at for s in ordered if s.to_stage is stage]
    return into[-1] if into else (ordered[-1].at if ordered else None)
