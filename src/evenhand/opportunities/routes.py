"""Account and opportunity endpoints: reading what the caller may see, and the idempotent writes a CRM of record
keeps evenhand in step with (``POST`` creates or returns on source and external id, ``PATCH`` changes one)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from starlette.convertors import StringConvertor, register_url_convertor

from evenhand.deps import DbSession, Reader, Writer
from evenhand.kit.pagination import Page, Paging, paginate
from evenhand.kit.schema import DbId
from evenhand.models import Account, Opportunity, Stage, StageChange
from evenhand.opportunities import accounts, repository, service
from evenhand.opportunities.schemas import (
    AccountCreate,
    AccountRead,
    AccountUpdate,
    OpportunityCreate,
    OpportunityRead,
    OpportunityUpdate,
    StageChangeRead,
)


class SourceConvertor(StringConvertor):
    """A CRM's name in a path (``/opportunities/salesforce/0065g…``) is never a number, so ``/opportunities/1/stages``
    stays the stage history of deal 1 and no write route answers it."""

    regex = r"(?![0-9]+(?:/|$))[^/]+"


register_url_convertor("source", SourceConvertor())
router = APIRouter(tags=["opportunities"])
_EXISTING: dict[int | str, dict[str, Any]] = {200: {"description": "It existed already: returned as it is, unchanged"}}


@router.get("/opportunities", response_model=Page[OpportunityRead])
def list_opportunities(session: DbSession, principal: Reader, paging: Paging, stage: Stage | None = None,
                       owner_id: DbId | None = None, account_id: DbId | None = None) -> dict[str, Any]:
    stmt = repository.listing(principal, stage=stage, owner_id=owner_id, account_id=account_id)
    items, total = paginate(session, stmt, paging)
    return {"items": items, "total": total, **paging.model_dump()}


@router.post("/opportunities", response_model=OpportunityRead, status_code=201, responses=_EXISTING)
def create_opportunity(data: OpportunityCreate, response: Response, session: DbSession,
                       principal: Writer) -> Opportunity:
    """Create the deal (201, its stage history derived from its dates), or return the one with this source and
    external id as it is (200)."""
    written = service.create_or_return(session, data, actor=principal)
    if written.outcome != "created":
        response.status_code = 200
    return written.deal


@router.patch("/opportunities/{source:source}/{external_id}", response_model=OpportunityRead)
def update_opportunity(source: str, external_id: str, data: OpportunityUpdate, session: DbSession,
                       principal: Writer) -> Opportunity:
    """Change the fields sent. A stage move is recorded in the history with the caller; moving to won or lost
    closes the deal (now, unless ``closed_at`` is sent)."""
    return service.update(session, source, external_id, data, actor=principal)


@router.get("/opportunities/{opportunity_id}", response_model=OpportunityRead)
def get_opportunity(opportunity_id: DbId, session: DbSession, principal: Reader) -> Opportunity:
    return service.visible_opportunity(session, principal, opportunity_id)


@router.get("/opportunities/{opportunity_id}/stages", response_model=list[StageChangeRead])
def stage_history(opportunity_id: DbId, session: DbSession, principal: Reader) -> list[StageChange]:
    return service.stage_history(session, principal, opportunity_id)


@router.get("/accounts", response_model=Page[AccountRead])
def list_accounts(session: DbSession, principal: Reader, paging: Paging,
                  q: Annotated[str | None, Query(max_length=200)] = None) -> dict[str, Any]:
    """The accounts whose owner's records the caller reads, and those of the deals they read; ``q``: part of the
    name."""
    items, total = paginate(session, repository.account_listing(principal, q=q), paging)
    return {"items": items, "total": total, **paging.model_dump()}


@router.post("/accounts", response_model=AccountRead, status_code=201, responses=_EXISTING)
def create_account(data: AccountCreate, response: Response, session: DbSession, principal: Writer) -> Account:
    """Create the account (201), or return the one with this source and external id as it is (200)."""
    written = accounts.create_or_return(session, data, actor=principal)
    if written.outcome != "created":
        response.status_code = 200
    return written.account


@router.patch("/accounts/{source:source}/{external_id}", response_model=AccountRead)
def update_account(source: str, external_id: str, data: AccountUpdate, session: DbSession,
                   principal: Writer) -> Account:
    return accounts.update(session, source, external_id, data, actor=principal)


@router.get("/accounts/{account_id}", response_model=AccountRead)
def get_account(account_id: DbId, session: DbSession, principal: Reader) -> Account:
    return accounts.visible_account(session, principal, account_id)
