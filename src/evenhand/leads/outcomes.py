"""A lead's outcome: converted (to a deal or a customer) or disqualified with a reason — set by its rep on the
page or the API, or taken from an export (a ``Converted`` column, or a second file of closed deals joined on the
lead's id). Every outcome is timestamped and audited; setting the same outcome again changes nothing, and a
different one is a correction, audited with what it replaced."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import StringConstraints, TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.errors import Invalid, NotFound
from evenhand.i18n import N_, t
from evenhand.kit import audit
from evenhand.kit import rows as rows_kit
from evenhand.kit.clock import utcnow
from evenhand.kit.rows import RowError
from evenhand.kit.schema import Moment, Strict
from evenhand.leads import repository
from evenhand.leads.schemas import LeadOutcomeSet
from evenhand.models import Account, Lead, LeadStatus, Opportunity
from evenhand.opportunities import service as opportunity_service

STATUS = {"converted": LeadStatus.CONVERTED, "disqualified": LeadStatus.DISQUALIFIED}
Key = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]


@dataclass(frozen=True)
class Change:
    lead: Lead
    changed: bool


def set_outcome(session: Session, principal: Principal, lead_id: int, data: LeadOutcomeSet) -> Change:
    """The outcome of a lead the principal may read (its rep, their supervisor, operations)."""
    lead = repository.readable_lead(session, principal, lead_id)
    if lead is None:
        raise NotFound("No lead with id {id}.", field="lead_id", id=lead_id)
    opportunity = _deal(session, principal, data.opportunity_id)
    account_id = data.account_id
    if account_id is not None and session.get(Account, account_id) is None:
        raise NotFound("No account with id {id}.", field="account_id", id=account_id)
    return apply(session, lead, data, opportunity=opportunity, account_id=account_id, actor_id=principal.user_id)


def _deal(session: Session, principal: Principal, opportunity_id: int | None) -> Opportunity | None:
    if opportunity_id is None:
        return None
    return opportunity_service.visible_opportunity(session, principal, opportunity_id)


def apply(session: Session, lead: Lead, data: LeadOutcomeSet, *, opportunity: Opportunity | None,
          account_id: int | None, actor_id: int | None, source: str = "leads.outcome") -> Change:
    if data.outcome == "converted" and data.reason is not None:
        raise Invalid("A reason is given only when a lead is disqualified.", field="reason")
    if data.outcome == "disqualified" and (opportunity is not None or account_id is not None):
        raise Invalid("A disqualified lead is linked to no deal or customer.", field="opportunity_id")
    if opportunity is not None and opportunity.lead_id not in (None, lead.id):
        raise Invalid("Deal {id} came from another lead.", field="opportunity_id", id=opportunity.id)
    status, at = STATUS[data.outcome], data.at or utcnow()
    account_id = account_id or (opportunity.account_id if opportunity is not None else None)
    before = {"status": lead.status.value, "closed_at": lead.closed_at.isoformat() if lead.closed_at else None,
              "reason": lead.disqualify_reason, "account_id": lead.converted_account_id}
    unchanged = (lead.status is status and lead.disqualify_reason == data.reason
                 and (data.at is None or lead.closed_at == at)
                 and (account_id is None or lead.converted_account_id == account_id)
                 and (opportunity is None or opportunity.lead_id == lead.id))
    if unchanged:
        return Change(lead, changed=False)
    lead.status, lead.disqualify_reason = status, data.reason
    lead.closed_at = at
    if account_id is not None:
        lead.converted_account_id = account_id
    if opportunity is not None:
        opportunity.lead_id = lead.id
    audit.append(session, action=source, subject_type="leads", subject_id=lead.id, actor_id=actor_id,
                 payload={"outcome": data.outcome, "at": at.isoformat(), "reason": data.reason,
                          "opportunity_id": opportunity.id if opportunity else None, "account_id": account_id,
                          "before": before})
    return Change(lead, changed=True)


# --- from an export -------------------------------------------------------------------------------------------


class OutcomeRow(Strict):
    """One row of an outcomes file: the lead it is about (its external id, and its source where external ids
    repeat across sources), what became of it and when, and the deal or customer it became."""

    external_id: Key
    source: Key | None = None
    outcome: Literal["converted", "disqualified", "open"]
    outcome_at: Moment | None = None
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    opportunity: Key | None = None  # the deal's external id (its source: the lead's unless given)
    account: Key | None = None  # the customer's external id
    opportunity_source: Key | None = None


OUTCOME_FIELDS = tuple(OutcomeRow.model_fields)
OUTCOME_ROWS = rows_kit.Kind("outcome", TypeAdapter(OutcomeRow), OUTCOME_FIELDS, frozenset({"outcome_at"}))
NO_SUCH_LEAD = N_("No lead has the external id {value}.")
TWO_LEADS = N_("Leads from several sources have the external id {value}; map the source column too.")
NO_SUCH_DEAL = N_("No deal has the external id {value}.")
NO_SUCH_ACCOUNT = N_("No customer has the external id {value}.")


@dataclass
class OutcomeReport:
    converted: int = 0
    disqualified: int = 0
    unchanged: int = 0  # already had that outcome
    left_open: int = 0  # rows saying the lead is still open: nothing to record


def record_outcomes(session: Session, rows: Sequence[tuple[int, OutcomeRow]], report: OutcomeReport,
                    errors: list[RowError], *, actor_id: int | None) -> None:
    """A chunk of an outcomes file, joined on each lead's external id (and source); a row naming no lead, deal
    or customer is an error of that row, and the rows of the chunk that can be recorded are."""
    leads = _leads_by_key(session, [row for _, row in rows])
    deals = _by_external_id(session, Opportunity, [r.opportunity for _, r in rows if r.opportunity])
    accounts = _by_external_id(session, Account, [r.account for _, r in rows if r.account])
    for number, row in rows:
        if row.outcome == "open":
            report.left_open += 1
            continue
        found = leads.get((row.source, row.external_id)) if row.source else leads.get((None, row.external_id))
        problem = _missing(row, found, deals, accounts)
        if problem is not None:
            errors.append(RowError(number, *problem))
            continue
        assert isinstance(found, Lead)
        deal = _pick(deals.get(row.opportunity), row.opportunity_source or found.source) if row.opportunity else None
        account = _pick(accounts.get(row.account), found.source) if row.account else None
        reason = (row.reason or None) if row.outcome == "disqualified" else None
        data = LeadOutcomeSet.model_construct(outcome=row.outcome, reason=reason, opportunity_id=None,
                                              account_id=None, at=row.outcome_at)
        try:
            change = apply(session, found, data, opportunity=deal, account_id=account.id if account else None,
                           actor_id=actor_id, source="leads.outcome.import")
        except Invalid as exc:
            errors.append(RowError(number, exc.field or "outcome", t(exc.message, **exc.params)))
            continue
        if not change.changed:
            report.unchanged += 1
        elif row.outcome == "converted":
            report.converted += 1
        else:
            report.disqualified += 1


def _missing(row: OutcomeRow, found: Lead | str | None, deals: dict[str, list[Any]],
             accounts: dict[str, list[Any]]) -> tuple[str, str] | None:
    if found is None:
        return "external_id", t(NO_SUCH_LEAD, value=row.external_id)
    if found == "ambiguous":
        return "external_id", t(TWO_LEADS, value=row.external_id)
    if row.opportunity and row.opportunity not in deals:
        return "opportunity", t(NO_SUCH_DEAL, value=row.opportunity)
    if row.account and row.account not in accounts:
        return "account", t(NO_SUCH_ACCOUNT, value=row.account)
    return None


def _pick(candidates: list[Any] | None, source: str | None) -> Any:
    """The record with that external id: the one from ``source`` when several sources share the id."""
    assert candidates
    return next((c for c in candidates if c.source == source), candidates[0])


def _leads_by_key(session: Session, rows: Sequence[OutcomeRow]) -> dict[tuple[str | None, str], Lead | str]:
    """Leads by (source, external id), and by (None, external id) where the id is unique across sources."""
    ids = list({row.external_id for row in rows})
    found: dict[tuple[str | None, str], Lead | str] = {}
    for lead in session.scalars(select(Lead).where(Lead.external_id.in_(ids))):
        found[(lead.source, lead.external_id)] = lead
        found[(None, lead.external_id)] = "ambiguous" if (None, lead.external_id) in found else lead
    return found


def _by_external_id(session: Session, model: type[Opportunity] | type[Account],
                    ids: Sequence[str]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    column = Opportunity.external_id if model is Opportunity else Account.external_id
    if ids:
        records: Sequence[Any] = session.scalars(select(model).where(column.in_(list(set(ids))))).all()
        for record in records:
            out.setdefault(record.external_id, []).append(record)
    return out


def take_outcomes_file(session: Session, path: Path, mapping_text: str, *, actor_id: int | None, skip_invalid: bool,
                       zone: ZoneInfo, progress: rows_kit.Progress | None = None) -> tuple[OutcomeReport,
                                                                                        rows_kit.Rejects]:
    """A file of outcomes (a funnel's closed deals, a CRM's lead statuses) joined on each lead's external id, in
    the caller's transaction; all or nothing unless ``skip_invalid``."""
    report, rejects = OutcomeReport(), rows_kit.Rejects(header=[])
    for chunk in rows_kit.chunks(path, mapping_text, OUTCOME_ROWS, zone=zone, rejects=rejects, progress=progress):
        joined: list[RowError] = []
        record_outcomes(session, chunk, report, joined, actor_id=actor_id)
        rejects.errors += joined
    rejects.errors.sort(key=lambda e: e.row)
    if rejects.errors and not skip_invalid:
        raise rows_kit.reject(rejects.errors)
    return report, rejects
