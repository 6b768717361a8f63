"""Account and opportunity queries; the two ``readable`` functions are the only places their visibility is decided.

An account is readable by whoever may see its owner's records, and by whoever reads one of its deals (a rep works
a deal at an account someone else owns, or that nobody owns: an export's accounts often have no owner)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.auth.visibility import owned_by_visible
from evenhand.models import Account, Opportunity, Stage, StageChange, User


def readable(principal: Principal) -> Select[Opportunity]:
    return select(Opportunity).where(owned_by_visible(principal, Opportunity.owner_id))


def readable_accounts(principal: Principal) -> Select[Account]:
    if principal.reads_everything:
        return select(Account)
    worked = select(Opportunity.account_id).where(owned_by_visible(principal, Opportunity.owner_id),
                                                  Opportunity.account_id.is_not(None))
    return select(Account).where(owned_by_visible(principal, Account.owner_id) | Account.id.in_(worked))


def listing(principal: Principal, *, stage: Stage | None = None, owner_id: int | None = None,
            account_id: int | None = None) -> Select[Opportunity]:
    """The readable opportunities that match every filter given, newest first."""
    stmt = readable(principal).order_by(Opportunity.created_at.desc(), Opportunity.id.desc())
    for column, wanted in ((Opportunity.stage, stage), (Opportunity.owner_id, owner_id),
                           (Opportunity.account_id, account_id)):
        if wanted is not None:
            stmt = stmt.where(column == wanted)
    return stmt


def account_listing(principal: Principal, *, q: str | None = None) -> Select[Account]:
    """The readable accounts, by name; ``q`` matches part of the name, any case."""
    stmt = readable_accounts(principal).order_by(Account.name, Account.id)
    if q:
        stmt = stmt.where(func.lower(Account.name).contains(q.lower(), autoescape=True))
    return stmt


def count(session: Session, stmt: Select[Any]) -> int:
    return session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0


def stage_changes(session: Session, opportunity_id: int) -> list[StageChange]:
    """Oldest first; whether the caller may see the opportunity is for the caller to check."""
    stmt = select(StageChange).where(StageChange.opportunity_id == opportunity_id).order_by(
        StageChange.changed_at, StageChange.id)
    return list(session.scalars(stmt))


def histories(session: Session, opportunity_ids: Collection[int]) -> dict[int, list[StageChange]]:
    """The stage changes of many deals at once, each deal's oldest first."""
    found: dict[int, list[StageChange]] = {i: [] for i in opportunity_ids}
    if opportunity_ids:
        stmt = select(StageChange).where(StageChange.opportunity_id.in_(list(opportunity_ids))).order_by(
            StageChange.opportunity_id, StageChange.changed_at, StageChange.id)
        for change in session.scalars(stmt):
            found[change.opportunity_id].append(change)
    return found


def by_keys(session: Session, model: type[Account | Opportunity],
            keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    """Accounts or deals by (source, external id)."""
    wanted = list(set(keys))
    if not wanted:
        return {}
    stmt = select(model).where(tuple_(model.source, model.external_id).in_(wanted))
    found: Iterable[Any] = session.scalars(stmt)
    return {(row.source, row.external_id): row for row in found}


def accounts_named(session: Session, names: Collection[str]) -> list[Account]:
    """Accounts whose name is one of ``names``, any case, oldest first."""
    if not names:
        return []
    folded = list({n.casefold() for n in names})
    return list(session.scalars(select(Account).where(func.lower(Account.name).in_(folded)).order_by(Account.id)))


def account_names(session: Session, ids: Collection[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(Account.id, Account.name).where(Account.id.in_(set(ids)))).tuples().all())


def ids_by_external_id(session: Session, external_ids: Collection[str]) -> dict[str, tuple[int, int | None]]:
    """Deals by their CRM id, whatever their source: (deal id, its lead's id). Where two sources share an id, the
    deal made first."""
    if not external_ids:
        return {}
    rows = session.execute(select(Opportunity.external_id, Opportunity.id, Opportunity.lead_id).where(
        Opportunity.external_id.in_(list(set(external_ids)))).order_by(Opportunity.id.desc())).tuples()
    return {external_id: (deal_id, lead_id) for external_id, deal_id, lead_id in rows if external_id}


def by_external_ids(session: Session, external_ids: Collection[str]) -> dict[str, list[Opportunity]]:
    """Deals by their CRM id in any source (more than one where sources share an id)."""
    found: dict[str, list[Opportunity]] = {}
    if external_ids:
        stmt = select(Opportunity).where(Opportunity.external_id.in_(list(set(external_ids)))).order_by(Opportunity.id)
        for deal in session.scalars(stmt):
            found.setdefault(deal.external_id or "", []).append(deal)
    return found


def people_named(session: Session, names: Collection[str]) -> dict[str, list[int]]:
    """Users by display name folded to any case (a sales export names its agents: "Moses Frase")."""
    found: dict[str, list[int]] = {}
    folded = {n.casefold() for n in names}
    if folded:
        rows = session.execute(select(User.id, User.display_name).where(
            func.lower(User.display_name).in_(list(folded))).order_by(User.id)).tuples()
        for user_id, name in rows:
            if name.casefold() in folded:
                found.setdefault(name.casefold(), []).append(user_id)
    return found
