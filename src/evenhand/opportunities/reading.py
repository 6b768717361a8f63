"""What the opportunity and account pages show, each read in one call: deals through ``repository.readable``,
accounts through ``repository.readable_accounts``, people's names and product lines through the org service."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.errors import NotFound
from evenhand.models import Account, Opportunity, ProductLine, Stage, StageChange
from evenhand.opportunities import accounts, repository, service
from evenhand.org import service as org_service


@dataclass(frozen=True)
class DealLine:
    id: int
    name: str
    account: str | None
    owner: str | None
    amount: Decimal
    stage: Stage
    created_at: datetime
    closed_at: datetime | None


@dataclass(frozen=True)
class StepLine:
    from_stage: Stage | None
    to_stage: Stage
    changed_at: datetime
    by: str | None
    derived: bool


@dataclass(frozen=True)
class DealView:
    deal: Opportunity
    line: DealLine
    account_id: int | None
    product: str | None
    steps: list[StepLine]


@dataclass(frozen=True)
class AccountLine:
    id: int
    name: str
    industry: str | None
    region: str | None
    owner: str | None
    source: str | None


@dataclass(frozen=True)
class AccountView:
    line: AccountLine
    deals: list[DealLine]


def deals(session: Session, principal: Principal, *, stage: Stage | None = None, owner_id: int | None = None,
          account_id: int | None = None, limit: int = 500) -> tuple[list[DealLine], int]:
    """The most recent readable deals matching the filters (at most ``limit``), and how many match."""
    stmt = repository.listing(principal, stage=stage, owner_id=owner_id, account_id=account_id)
    return _lines(session, list(session.scalars(stmt.limit(limit)))), repository.count(session, stmt)


def owners(session: Session, principal: Principal) -> dict[int, str]:
    """Whom the principal may filter deals by: the people whose records they read, by name."""
    ids = set(session.scalars(repository.readable(principal).with_only_columns(Opportunity.owner_id).distinct()))
    return dict(sorted(org_service.display_names(session, ids).items(), key=lambda kv: kv[1]))


def deal(session: Session, principal: Principal, opportunity_id: int) -> DealView | None:
    try:
        found = service.visible_opportunity(session, principal, opportunity_id)
    except NotFound:
        return None
    changes = repository.stage_changes(session, found.id)
    names = org_service.display_names(session, {c.changed_by_id for c in changes if c.changed_by_id})
    product = org_service.get(session, ProductLine, found.product_line_id) if found.product_line_id else None
    return DealView(found, _lines(session, [found])[0], found.account_id, product.name if product else None,
                    [_step(c, names) for c in changes])


def _step(change: StageChange, names: dict[int, str]) -> StepLine:
    by = names.get(change.changed_by_id) if change.changed_by_id else None
    return StepLine(change.from_stage, change.to_stage, change.changed_at, by, change.derived)


def _lines(session: Session, found: Sequence[Opportunity]) -> list[DealLine]:
    owners = org_service.display_names(session, {d.owner_id for d in found})
    names = repository.account_names(session, {d.account_id for d in found if d.account_id})
    return [DealLine(d.id, d.name, names.get(d.account_id) if d.account_id else None, owners.get(d.owner_id),
                     d.amount, d.stage, d.created_at, d.closed_at) for d in found]


def account_list(session: Session, principal: Principal, *, q: str | None = None,
                 limit: int = 500) -> tuple[list[AccountLine], int]:
    stmt = repository.account_listing(principal, q=q)
    return _account_lines(session, list(session.scalars(stmt.limit(limit)))), repository.count(session, stmt)


def account(session: Session, principal: Principal, account_id: int) -> AccountView | None:
    """The account with the deals of it the principal reads."""
    try:
        found = accounts.visible_account(session, principal, account_id)
    except NotFound:
        return None
    return AccountView(_account_lines(session, [found])[0], deals(session, principal, account_id=found.id)[0])


def _account_lines(session: Session, found: Sequence[Account]) -> list[AccountLine]:
    owners = org_service.display_names(session, {a.owner_id for a in found if a.owner_id})
    regions = org_service.region_names(session)
    return [AccountLine(a.id, a.name, a.industry, regions.get(a.region or "", a.region),
                        owners.get(a.owner_id) if a.owner_id else None, a.source) for a in found]
