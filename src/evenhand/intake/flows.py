"""The one door every lead comes in by: a single POST, a batch, an imported file and every connector call
``take_in``, so the same input gives the same lead, score, decision, evidence and notification whichever way
it came. A company's history (``backfilled``) comes in the same way but is marked, never routed, and nobody is
told about it: its outcome may already be known."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.intake import dimensions
from evenhand.kit import revision
from evenhand.kit import rows as rows_kit
from evenhand.kit.revision import Revisioned
from evenhand.kit.rows import RowError
from evenhand.leads import service as lead_service
from evenhand.leads.mapping import LEAD_FIELDS, MOMENTS
from evenhand.leads.schemas import LeadCreate, LeadImport
from evenhand.models import RoutingDecision
from evenhand.org import service as org_service
from evenhand.routing import flows as routing_flows

Routed = tuple[lead_service.Intake, RoutingDecision | None]
Progress = rows_kit.Progress


def validated(session: Session, rows: Sequence[dict[str, Any]], *, first_row: int,
              exported: bool = False) -> tuple[list[LeadCreate | None], list[RowError]]:
    """Rows as leads, each bad one as None with its errors (numbered from ``first_row``): the fields, then the
    organisation's dimensions (a region by code or name) and, for a row of an export, the rep it names."""
    parsed, errors = lead_service.validate_rows(rows, first_row=first_row, exported=exported)
    parsed, unknown = dimensions.resolve(parsed, _regions(session), first_row=first_row)
    if exported:
        parsed, nobody = dimensions.owners(parsed, org_service.people_by_key(
            session, [row.owner for row in parsed if isinstance(row, LeadImport) and row.owner]), first_row=first_row)
        unknown += nobody
    return parsed, sorted([*errors, *unknown], key=lambda e: e.row)


def take_in(session: Session, rows: Sequence[LeadCreate], *, actor: Principal | None, dedup: Sequence[str],
            backfilled: bool = False, progress: Callable[[int], None] | None = None) -> list[Routed]:
    """Take validated leads in, score them and route every lead that is new, in arrival order, in the caller's
    transaction. A lead that was there already (same source and external id) is returned unchanged. A region
    the organisation does not have is refused (``region``, or ``leads.N.region`` in a batch)."""
    resolved, unknown = dimensions.resolve(rows, _regions(session), first_row=1)
    if unknown:
        raise rows_kit.reject(unknown, path=lambda e: e.field if len(rows) == 1 else f"leads.{e.row - 1}.{e.field}")
    rows = [row for row in resolved if row is not None]
    routing = None if backfilled else routing_flows.NewLeads(session, actor=actor)
    results = lead_service.intake_many(session, rows, actor=actor, dedup=dedup, backfilled=backfilled,
                                       progress=progress, place=routing.place if routing else None)
    if routing is None:
        return [(r, None) for r in results]
    decisions = routing.finish(results)
    return [(r, decisions.get(r.lead.id) if r.created else None) for r in results]


_REGIONS: Revisioned[None, dimensions.Regions] = Revisioned(keep=4)


def _regions(session: Session) -> dimensions.Regions:
    """The organisation's regions, read once per configuration revision in this process."""
    return _REGIONS.get(session, revision.current(session), None,
                        lambda: dimensions.Regions(org_service.region_names(session)))


LEAD_ROWS: rows_kit.Kind[LeadCreate] = rows_kit.Kind("lead", TypeAdapter(LeadImport), LEAD_FIELDS, MOMENTS)


@dataclass
class FileReport:
    rows: int = 0
    created: int = 0
    existing: int = 0  # there already (same source and external id): left as they were
    duplicates: int = 0  # new leads linked to an earlier lead with the same contact
    backfilled: int = 0  # new leads taken in as history: never routed, nobody told
    routed: int = 0  # new leads given to a rep
    held: int = 0  # new leads waiting in the holding queue for someone to become available
    rejects: rows_kit.Rejects = field(default_factory=lambda: rows_kit.Rejects(header=[]))

    @property
    def rejected(self) -> list[RowError]:
        return self.rejects.errors

    def count(self, results: Sequence[Routed], *, backfilled: bool) -> None:
        created = [(r, d) for r, d in results if r.created]
        self.created += len(created)
        self.existing += len(results) - len(created)
        self.duplicates += sum(1 for r, _ in created if r.lead.duplicate_of_id)
        if backfilled:
            self.backfilled += len(created)
            return
        self.routed += sum(1 for _, d in created if d is not None and d.rep_id is not None)
        self.held += sum(1 for _, d in created if d is not None and d.rep_id is None)


def take_in_file(session: Session, path: Path, mapping_text: str, *, actor: Principal | None, dedup: Sequence[str],
                 skip_invalid: bool, backfilled: bool = False, history_before: datetime | None = None,
                 zone: ZoneInfo | None = None, progress: Progress | None = None) -> FileReport:
    """An exported file through the same door, streamed in chunks in the caller's transaction; all or nothing
    unless ``skip_invalid`` (a file with a bad row is refused once every row has been read, and the caller's
    transaction rolls back). Every row is history with ``backfilled``; with ``history_before``, the rows created
    before that moment are, and the newer ones are scored and routed as if they had just arrived. Times written
    without a zone are in ``zone`` (the mapping's ``timezone`` wins; default: the company's)."""
    done = FileReport()
    for chunk in rows_kit.chunks(path, mapping_text, LEAD_ROWS, zone=zone or get_settings().zone,
                                 rejects=done.rejects, progress=progress,
                                 validate=lambda rows, first: validated(session, rows, first_row=first, exported=True)):
        leads = [cast(LeadImport, lead) for _, lead in chunk]
        past = [lead for lead in leads if backfilled or _before(lead, history_before)]
        new = [lead for lead in leads if not (backfilled or _before(lead, history_before))]
        done.count(take_in(session, past, actor=actor, dedup=dedup, backfilled=True), backfilled=True)
        done.count(take_in(session, new, actor=actor, dedup=dedup), backfilled=False)
    done.rows = done.rejects.read
    if done.rejects.errors and not skip_invalid:
        raise rows_kit.reject(done.rejects.errors)
    return done


def _before(lead: LeadImport, cutoff: datetime | None) -> bool:
    return cutoff is not None and lead.created_at is not None and lead.created_at < cutoff
