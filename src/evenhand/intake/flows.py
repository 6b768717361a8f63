"""The one door every lead comes in by: a single POST, a batch, an imported file and every connector call
``take_in``, so the same input gives the same lead, score, decision, evidence and notification whichever way
it came. A company's history (``backfilled``) comes in the same way but is marked, never routed, and nobody is
told about it: its outcome may already be known."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.intake import dimensions
from evenhand.leads import importer
from evenhand.leads import service as lead_service
from evenhand.leads.schemas import LeadCreate
from evenhand.leads.service import RowError
from evenhand.models import RoutingDecision
from evenhand.org import service as org_service
from evenhand.routing import flows as routing_flows

Routed = tuple[lead_service.Intake, RoutingDecision | None]
Progress = Callable[[str, int, int], None]


def validated(session: Session, rows: Sequence[dict[str, Any]], *,
              first_row: int) -> tuple[list[LeadCreate | None], list[RowError]]:
    """Rows as leads, each bad one as None with its errors (numbered from ``first_row``): the fields, then the
    organisation's dimensions (a region by code or name)."""
    parsed, errors = lead_service.validate_rows(rows, first_row=first_row)
    parsed, unknown = dimensions.resolve(parsed, _regions(session), first_row=first_row)
    return parsed, sorted([*errors, *unknown], key=lambda e: e.row)


def take_in(session: Session, rows: Sequence[LeadCreate], *, actor: Principal | None, dedup: Sequence[str],
            backfilled: bool = False, progress: Callable[[int], None] | None = None) -> list[Routed]:
    """Take validated leads in, score them and route every lead that is new, in arrival order, in the caller's
    transaction. A lead that was there already (same source and external id) is returned unchanged. A region
    the organisation does not have is refused (``region``, or ``leads.N.region`` in a batch)."""
    resolved, unknown = dimensions.resolve(rows, _regions(session), first_row=1)
    if unknown:
        raise lead_service.reject(unknown, path=lambda e: e.field if len(rows) == 1 else f"leads.{e.row - 1}.{e.field}")
    rows = [row for row in resolved if row is not None]
    results = lead_service.intake_many(session, rows, actor=actor, dedup=dedup, backfilled=backfilled,
                                       progress=progress)
    if backfilled:
        return [(r, None) for r in results]
    decisions = routing_flows.route_new(session, results, actor=actor)
    return [(r, decisions.get(r.lead.id) if r.created else None) for r in results]


def _regions(session: Session) -> dimensions.Regions:
    return dimensions.Regions(org_service.region_names(session))


@dataclass(frozen=True)
class FileReport:
    read: importer.ImportReport
    routed: int  # new leads given to a rep
    held: int  # new leads waiting in the holding queue for someone to become available


def take_in_file(session: Session, path: Path, mapping_text: str, *, actor: Principal | None, dedup: Sequence[str],
                 skip_invalid: bool, backfilled: bool = False, progress: Progress | None = None) -> FileReport:
    """An exported file through the same door; all or nothing unless ``skip_invalid``."""
    report = progress or (lambda _stage, _done, _total: None)
    table = importer.read(path, mapping_text, skip_invalid=skip_invalid, progress=report,
                          validate=lambda rows, first: validated(session, rows, first_row=first))
    done = 0

    def written(n: int) -> None:
        nonlocal done
        done += n
        report("written", done, len(table.valid))

    results = take_in(session, table.valid, actor=actor, dedup=dedup, backfilled=backfilled, progress=written)
    decisions = [d for _, d in results if d is not None]
    routed = sum(1 for d in decisions if d.rep_id is not None)
    return FileReport(importer.report(table, [r for r, _ in results]), routed=routed, held=len(decisions) - routed)
