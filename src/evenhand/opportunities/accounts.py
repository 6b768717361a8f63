"""Accounts from the CRM of record, kept in step by ``(source, external_id)``: an import creates or updates them, the
API creates or returns one and patches one. Every account created or changed is audited.

An account a deal import created by name (its source, no external id) is taken over by the first account of that
source and name that arrives with an external id, instead of being duplicated."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.errors import Conflict, Forbidden, Invalid, NotFound
from evenhand.kit import audit
from evenhand.kit.clock import as_utc
from evenhand.kit.once import first_writer_wins
from evenhand.models import Account
from evenhand.opportunities import lookups, repository
from evenhand.opportunities.lookups import Problem
from evenhand.opportunities.schemas import AccountChange, AccountCreate, AccountUpdate

Key = tuple[str, str]
Outcome = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class Prepared:
    key: Key
    values: dict[str, Any]  # the columns this row sets: name, industry, region (its code), owner_id, created_at


@dataclass(frozen=True)
class Written:
    account: Account
    outcome: Outcome
    changes: dict[str, Any]  # what was set: every column of a new account, the changed ones of another


def prepare(session: Session, items: Sequence[tuple[Key, AccountChange] | None]
            ) -> tuple[list[Prepared | None], list[Problem]]:
    """Each item's columns, its owner and region found; an item naming an unknown one is refused (None)."""
    owners = lookups.people(session, [item[1].owner for item in items if item])
    regions = lookups.regions(session)
    out: list[Prepared | None] = []
    problems: list[Problem] = []
    for index, item in enumerate(items):
        found = _columns(index, item, owners, regions) if item else None
        if isinstance(found, Problem):
            problems.append(found)
        out.append(Prepared(item[0], found) if item and isinstance(found, dict) else None)
    return out, problems


def _columns(index: int, item: tuple[Key, AccountChange], owners: dict[str, int],
             regions: lookups.Names) -> dict[str, Any] | Problem:
    data = item[1]
    values = data.model_dump(exclude_unset=True, exclude={"source", "external_id", "owner"})
    if data.owner is not None:
        if data.owner not in owners:
            return Problem(index, "owner", lookups.UNKNOWN_PERSON, {"value": data.owner})
        values["owner_id"] = owners[data.owner]
    if data.region is not None and regions.names:
        code = regions.code(data.region)
        if code is None:
            return Problem(index, "region", lookups.UNKNOWN_REGION, {"value": data.region,
                                                                     "allowed": regions.allowed()})
        values["region"] = code
    if values.get("created_at", 0) is None:
        del values["created_at"]  # the time of its arrival, then
    elif "created_at" in values:
        values["created_at"] = as_utc(values["created_at"])
    return values


def write(session: Session, items: Sequence[Prepared], *, actor: Principal | None, update: bool = True,
          via: str = "import") -> list[Written]:
    """Create the accounts not there yet; update the others (``update``) or return them as they are."""
    audit.lock(session)  # chain first: every writer of accounts appends to it, so none creates one twice
    existing = repository.by_keys(session, Account, [p.key for p in items])
    adoptable = _created_by_name(session, [p for p in items if p.key not in existing])
    written: list[Written] = []
    for item in items:
        account = existing.get(item.key) or adoptable.pop((item.key[0], item.values.get("name", "").casefold()), None)
        if account is None:
            values = {"source": item.key[0], "external_id": item.key[1], **item.values}
            account = existing[item.key] = Account(**values)
            session.add(account)
            written.append(Written(account, "created", values))
        else:
            changes = _changes(account, item, update=update)
            written.append(Written(account, "updated" if changes else "unchanged", changes))
    session.flush()
    for w in written:
        if w.outcome != "unchanged":
            _record(session, w, actor=actor, via=via)
    return written


def create_named(session: Session, source: str, names: Sequence[str], *, actor: Principal | None,
                 via: str = "import") -> dict[str, Account]:
    """Accounts a deal import names by a name no account has: created in the deal's source without an external id
    (an account import of that source and name takes them over), by their name folded to any case."""
    made: dict[str, Account] = {}
    for name in names:
        made.setdefault(name.casefold(), Account(source=source, external_id=None, name=name))
    session.add_all(made.values())
    session.flush()
    for account in made.values():
        _record(session, Written(account, "created", {"name": account.name}), actor=actor, via=via)
    return made


def _created_by_name(session: Session, items: Sequence[Prepared]) -> dict[tuple[str, str], Account]:
    """Accounts a deal import created by name (no external id) that these items may take over: by (source, name)."""
    names = {p.values["name"] for p in items if p.values.get("name")}
    sources = {p.key[0] for p in items}
    return {(a.source, a.name.casefold()): a for a in reversed(repository.accounts_named(session, names))
            if a.external_id is None and a.source in sources}


def _changes(account: Account, item: Prepared, *, update: bool) -> dict[str, Any]:
    changes = {k: v for k, v in item.values.items() if update and lookups.differs(getattr(account, k), v)}
    if account.external_id is None:  # taken over from a deal import
        changes["external_id"] = item.key[1]
    for key, value in changes.items():
        setattr(account, key, value)
    return changes


def _record(session: Session, w: Written, *, actor: Principal | None, via: str) -> None:
    account = w.account
    payload = {"source": account.source, "external_id": account.external_id, "via": via, **lookups.plain(w.changes)}
    audit.append(session, action=f"accounts.{'create' if w.outcome == 'created' else 'update'}",
                 subject_type="accounts", subject_id=account.id, payload=payload,
                 actor_id=actor.user_id if actor else None, flush=False)


# --- the API ------------------------------------------------------------------------------------------------------


def create_or_return(session: Session, data: AccountCreate, *, actor: Principal) -> Written:
    """The account with this source and external id: created (and audited) when new, otherwise as it is."""
    written = first_writer_wins(session, lambda: write(
        session, [_prepared_one(session, (data.source, data.external_id), data)], actor=actor, update=False,
        via="api")[0])
    if not _readable(session, actor, written.account.id):
        if written.outcome == "created":
            raise Forbidden("You would not see this account afterwards: give it an owner whose records you read.",
                            field="owner")
        raise Conflict("An account with this source and external id exists already.", field="external_id")
    session.flush()
    return written


def update(session: Session, source: str, external_id: str, data: AccountUpdate, *, actor: Principal) -> Account:
    """Change the fields sent; the account must be readable to the writer before and after."""
    account = visible_by_key(session, actor, source, external_id)
    if "name" in data.model_fields_set and data.name is None:
        raise Invalid("{name} cannot be empty.", field="name", name="name")
    write(session, [_prepared_one(session, (source, external_id), data)], actor=actor, via="api")
    if not _readable(session, actor, account.id):
        raise Forbidden("You would not see this account afterwards: give it an owner whose records you read.",
                        field="owner")
    return account


def _prepared_one(session: Session, key: Key, data: AccountChange) -> Prepared:
    prepared, problems = prepare(session, [(key, data)])
    if problems:
        raise problems[0].error()
    assert prepared[0] is not None
    return prepared[0]


def _readable(session: Session, principal: Principal, account_id: int) -> bool:
    session.flush()
    return session.scalar(repository.readable_accounts(principal).where(Account.id == account_id)) is not None


def visible_account(session: Session, principal: Principal, account_id: int) -> Account:
    account = session.scalar(repository.readable_accounts(principal).where(Account.id == account_id))
    if account is None:
        raise NotFound("No account with id {id}.", field="account_id", id=account_id)
    return account


def visible_by_key(session: Session, principal: Principal, source: str, external_id: str) -> Account:
    account = session.scalar(repository.readable_accounts(principal).where(
        Account.source == source, Account.external_id == external_id))
    if account is None:
        raise NotFound("No account {external_id} from {source}.", field="external_id", external_id=external_id,
                       source=source)
    return account
