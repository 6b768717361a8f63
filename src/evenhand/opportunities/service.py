"""Opportunities from the CRM of record, kept in step by ``(source, external_id)``, and their stage history.

One path for every door: an import's rows, ``POST`` (create or return) and ``PATCH`` are prepared (people, product
lines and accounts found; the stage and dates settled and checked) and then written, every created or changed deal
audited. History: an exported one is merged in (its moves added once; steps derived before are dropped); without
one it is derived from the deal's dates (``stages.derive``) and rebuilt when those dates change. A stage move
otherwise adds a step: at the close date for a deal that closed, else now, with the actor when someone made it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.errors import Conflict, Forbidden, NotFound
from evenhand.i18n import N_
from evenhand.kit import audit
from evenhand.kit.clock import as_utc, utcnow
from evenhand.kit.once import first_writer_wins
from evenhand.models import Account, Opportunity, Stage, StageChange
from evenhand.opportunities import accounts, lookups, repository, stages
from evenhand.opportunities.lookups import Problem
from evenhand.opportunities.schemas import OpportunityChange, OpportunityCreate, OpportunityUpdate
from evenhand.opportunities.stages import Step

Key = tuple[str, str]
Outcome = Literal["created", "updated", "unchanged"]
History = Literal["derived", "imported", "moved"]
DATES = ("created_at", "engaged_at", "closed_at")
ZERO = Decimal("0.00")
UNKNOWN_ACCOUNT = N_("No account {value} in {source}, by external id or name; import the accounts first, or map "
                     "account_name to create accounts by name.")
NEEDS_CLOSE_DATE = N_("A won or lost deal needs its close date.")
OUT_OF_ORDER = {"engaged_at": N_("Engaged before the deal was created."),
                "closed_at": N_("Closed before the deal was created or engaged.")}
CANNOT_BE_EMPTY = N_("{name} cannot be empty.")
REQUIRED = ("name", "stage", "amount", "discount_pct", "created_at")  # columns a PATCH may not empty
NOT_YOURS = N_("You would not see this deal afterwards: give it an owner whose records you read.")


@dataclass(frozen=True)
class Prepared:
    key: Key
    values: dict[str, Any]  # the columns this item sets
    existing: Opportunity | None
    account_name: str | None = None  # an account to create by this name (none has it)


@dataclass(frozen=True)
class Written:
    deal: Opportunity
    outcome: Outcome
    changes: dict[str, Any]
    history: int = 0  # stage changes added or dropped
    how: History | None = None  # how the history changed


@dataclass
class _Context:
    """What a batch's items name, found once for all of them."""

    owners: dict[str, int]
    products: lookups.Names
    product_ids: dict[str, int]
    existing: dict[Key, Opportunity]
    accounts: dict[Key, Account]
    named: list[Account]
    close_now: datetime | None


# --- preparing ----------------------------------------------------------------------------------------------------


def prepare(session: Session, items: Sequence[tuple[Key, OpportunityChange] | None], *,
            close_now: datetime | None = None) -> tuple[list[Prepared | None], list[Problem]]:
    """Each item's columns with what it names found and its stage and dates settled; an item with a problem is
    refused (None). ``close_now``: the close date of a deal moved to won or lost without one (``PATCH``)."""
    context = _context(session, [i for i in items if i], close_now)
    out: list[Prepared | None] = []
    problems: list[Problem] = []
    for index, item in enumerate(items):
        found = _prepared(index, item, context) if item else None
        if isinstance(found, Problem):
            problems.append(found)
        out.append(found if isinstance(found, Prepared) else None)
    return out, problems


def _context(session: Session, items: Sequence[tuple[Key, OpportunityChange]], close_now: datetime | None) -> _Context:
    names = {n for _, d in items for n in (d.account, d.account_name) if n}
    products, product_ids = lookups.products(session)
    return _Context(owners=lookups.people(session, [d.owner for _, d in items]), products=products,
                    product_ids=product_ids, existing=repository.by_keys(session, Opportunity, [k for k, _ in items]),
                    accounts=repository.by_keys(session, Account, [(k[0], d.account) for k, d in items if d.account]),
                    named=repository.accounts_named(session, names), close_now=close_now)


def _prepared(index: int, item: tuple[Key, OpportunityChange], context: _Context) -> Prepared | Problem:
    key, data = item
    values = data.model_dump(exclude_unset=True, exclude={"source", "external_id", "owner", "product", "account",
                                                          "account_name", "won", "closed"})
    existing = context.existing.get(key)
    values.update({d: as_utc(values[d]) for d in DATES if values.get(d) is not None})
    empty = next((k for k in REQUIRED if k in values and values[k] is None), None)
    if empty is not None:
        return Problem(index, empty, CANNOT_BE_EMPTY, {"name": empty})
    for resolve in (_owner, _product, _account):
        problem = resolve(index, key, data, values, context)
        if problem is not None:
            return problem
    new_account, account_label = values.pop("_account_name", None), values.pop("_account_label", None)
    problem = _settle(index, values, existing, context.close_now)
    if problem is not None:
        return problem
    if existing is None and not values.get("name"):
        code = context.products.code(data.product) if data.product else None
        product = context.products.names.get(code) if code else None
        values["name"] = " · ".join(p for p in (account_label or new_account, product) if p) or key[1]
    return Prepared(key, values, existing, new_account)


def _owner(index: int, key: Key, data: OpportunityChange, values: dict[str, Any], context: _Context) -> Problem | None:
    if data.owner is None:
        return None
    if data.owner not in context.owners:
        return Problem(index, "owner", lookups.UNKNOWN_PERSON, {"value": data.owner})
    values["owner_id"] = context.owners[data.owner]
    return None


def _product(index: int, key: Key, data: OpportunityChange, values: dict[str, Any],
             context: _Context) -> Problem | None:
    if data.product is None:
        return None
    code = context.products.code(data.product)
    if code is None:
        return Problem(index, "product", lookups.UNKNOWN_PRODUCT, {"value": data.product,
                                                                   "allowed": context.products.allowed()})
    values["product_line_id"] = context.product_ids[code]
    return None


def _account(index: int, key: Key, data: OpportunityChange, values: dict[str, Any],
             context: _Context) -> Problem | None:
    """By external id in the deal's source, else by name (the deal's source first); an ``account_name`` that names
    no account is created. An ``account`` that names none is refused."""
    found = context.accounts.get((key[0], data.account)) if data.account else None
    for name in (data.account, data.account_name):
        found = found or (_named(context.named, key[0], name) if name else None)
    if found is not None:
        values["account_id"], values["_account_label"] = found.id, found.name
    elif data.account_name:
        values["_account_name"] = data.account_name
    elif data.account:
        return Problem(index, "account", UNKNOWN_ACCOUNT, {"value": data.account, "source": key[0]})
    return None


def _named(named: Sequence[Account], source: str, name: str) -> Account | None:
    wanted = name.casefold()
    matches = [a for a in named if a.name.casefold() == wanted]
    return next((a for a in matches if a.source == source), matches[0] if matches else None)


def _settle(index: int, values: dict[str, Any], existing: Opportunity | None,
            close_now: datetime | None) -> Problem | None:
    """The stage and dates the deal will have: an open deal has no close date; a won or lost one needs one (now,
    for ``close_now``); a new deal without a creation date was created at its first known date, or now."""
    current = {d: getattr(existing, d) for d in DATES} if existing else {}
    dates = {d: values.get(d, current.get(d)) for d in DATES}
    stage = values.get("stage") or (existing.stage if existing else stages.opening_stage(dates["engaged_at"]))
    if existing is None:
        values["stage"] = stage
        dates["created_at"] = values["created_at"] = dates["created_at"] or min(
            (d for d in (dates["engaged_at"], dates["closed_at"]) if d is not None), default=utcnow())
    if not stages.is_closed(stage):
        dates["closed_at"] = None
        if current.get("closed_at") is not None or "closed_at" in values:
            values["closed_at"] = None
    elif dates["closed_at"] is None:
        if close_now is None:
            return Problem(index, "closed_at", NEEDS_CLOSE_DATE)
        dates["closed_at"] = values["closed_at"] = close_now
    wrong = stages.dates_in_order(dates["created_at"] or utcnow(), dates["engaged_at"], dates["closed_at"])
    return Problem(index, wrong, OUT_OF_ORDER[wrong]) if wrong else None


# --- writing ------------------------------------------------------------------------------------------------------


def write(session: Session, items: Sequence[Prepared], *, actor: Principal | None, update: bool = True,
          observed: bool = False, histories: Mapping[Key, Sequence[Step]] | None = None,
          via: str = "import") -> list[Written]:
    """Create the deals not there yet; update the others (``update``) or leave them as they are. ``histories``:
    exported stage histories by deal. ``observed``: a stage move is seen as it happens (an API call), so it is
    recorded as a move even where the history was derived."""
    audit.lock(session)  # chain first: every writer of deals appends to it, so none creates one twice
    _create_named_accounts(session, items, actor=actor, via=via)
    befores = {id(p): _snapshot(p.existing) for p in items}
    written = [_create(session, p) if p.existing is None else _apply(p, update=update) for p in items]
    session.flush()
    steps = repository.histories(session, [w.deal.id for w in written if w.outcome != "created"])
    now = utcnow()
    out = []
    for item, w in zip(items, written, strict=True):
        imported = (histories or {}).get(item.key)
        changed, how = _history(session, w, befores[id(item)], steps.get(w.deal.id, []), imported,
                                observed=observed, actor=actor, now=now)
        outcome: Outcome = "updated" if w.outcome == "unchanged" and changed else w.outcome
        out.append(Written(w.deal, outcome, w.changes, changed, how if changed else None))
    session.flush()
    for w in out:
        if w.outcome != "unchanged":
            _record(session, w, actor=actor, via=via)
    return out


def _create_named_accounts(session: Session, items: Sequence[Prepared], *, actor: Principal | None,
                           via: str) -> None:
    by_source: dict[str, list[str]] = {}
    for p in items:
        if p.account_name:
            by_source.setdefault(p.key[0], []).append(p.account_name)
    for source, names in by_source.items():
        made = accounts.create_named(session, source, names, actor=actor, via=via)
        for p in items:
            if p.account_name and p.key[0] == source:
                p.values["account_id"] = made[p.account_name.casefold()].id


def _create(session: Session, item: Prepared) -> Written:
    values = {"source": item.key[0], "external_id": item.key[1], "amount": ZERO, "discount_pct": ZERO, **item.values}
    deal = Opportunity(**values)
    session.add(deal)
    return Written(deal, "created", values)


def _apply(item: Prepared, *, update: bool) -> Written:
    assert item.existing is not None
    deal = item.existing
    changes = {k: v for k, v in item.values.items() if update and lookups.differs(getattr(deal, k), v)}
    for key, value in changes.items():
        setattr(deal, key, value)
    return Written(deal, "updated" if changes else "unchanged", changes)


Snapshot = tuple[Stage, datetime | None, datetime | None, datetime | None]


def _snapshot(deal: Opportunity | None) -> Snapshot | None:
    return None if deal is None else (deal.stage, deal.created_at, deal.engaged_at, deal.closed_at)


def _history(session: Session, w: Written, before: Snapshot | None, now_steps: list[StageChange],
             imported: Sequence[Step] | None, *, observed: bool, actor: Principal | None,
             now: datetime) -> tuple[int, History]:
    """Bring the deal's stage history in line with it (see the module's docstring); how many steps changed, how."""
    deal = w.deal
    if imported is not None:
        return _merge(session, deal, now_steps, imported), "imported"
    moved = before is not None and before[0] is not deal.stage
    after = (deal.created_at, deal.engaged_at, deal.closed_at)
    dates_moved = before is None or any(lookups.differs(a, b) for a, b in zip(before[1:], after, strict=True))
    derived_only = all(s.derived for s in now_steps)
    if before is None or (derived_only and dates_moved and not (observed and moved)):
        return _rebuild(session, deal, now_steps), "derived"
    if not moved:
        return 0, "moved"
    at = deal.closed_at if stages.is_closed(deal.stage) and deal.closed_at else now
    session.add(StageChange(opportunity_id=deal.id, from_stage=before[0] if before else None, to_stage=deal.stage,
                            changed_at=at, changed_by_id=actor.user_id if actor else None, derived=False))
    deal.stage_changed_at = at
    return 1, "moved"


def _rebuild(session: Session, deal: Opportunity, now_steps: list[StageChange]) -> int:
    """Derive the history from the deal's dates again, replacing the derived one (not touched when it is the same)."""
    derived = stages.derive(deal.stage, created_at=deal.created_at, engaged_at=deal.engaged_at,
                            closed_at=deal.closed_at)
    old = [s for s in now_steps if s.derived]
    if [_step(s) for s in old] == derived and not any(not s.derived for s in now_steps):
        return 0
    for s in old:
        session.delete(s)
    session.add_all([StageChange(opportunity_id=deal.id, from_stage=s.from_stage, to_stage=s.to_stage,
                                 changed_at=s.at, derived=True) for s in derived])
    deal.stage_changed_at = stages.last_move(derived, deal.stage)
    return len(old) + len(derived)


def _merge(session: Session, deal: Opportunity, now_steps: list[StageChange], imported: Sequence[Step]) -> int:
    """An exported history: its moves not recorded yet are added, the derived steps dropped."""
    kept = [s for s in now_steps if not s.derived]
    known = {(s.to_stage, _step(s).at) for s in kept}
    added = [s for s in imported if (s.to_stage, _step(s).at) not in known]
    dropped = [s for s in now_steps if s.derived]
    for s in dropped:
        session.delete(s)
    session.add_all([StageChange(opportunity_id=deal.id, from_stage=s.from_stage, to_stage=s.to_stage,
                                 changed_at=s.at, derived=False) for s in added])
    if added or dropped:
        deal.stage_changed_at = stages.last_move([*map(_step, kept), *added], deal.stage)
    return len(added) + len(dropped)


def _step(change: StageChange | Step) -> Step:
    if isinstance(change, Step):
        return Step(change.from_stage, change.to_stage, as_utc(change.at))
    return Step(change.from_stage, change.to_stage, as_utc(change.changed_at))


def _record(session: Session, w: Written, *, actor: Principal | None, via: str) -> None:
    deal = w.deal
    payload = {"source": deal.source, "external_id": deal.external_id, "via": via, **lookups.plain(w.changes),
               "stage_changes": w.history}
    audit.append(session, action=f"opportunities.{'create' if w.outcome == 'created' else 'update'}",
                 subject_type="opportunities", subject_id=deal.id, payload=payload,
                 actor_id=actor.user_id if actor else None, flush=False)


def record_histories(session: Session, histories: Mapping[Opportunity, Sequence[Step]], *,
                     actor: Principal | None, via: str = "import") -> list[Written]:
    """Exported stage histories of deals that were not in the same import: merged in, each changed deal audited."""
    steps = repository.histories(session, [d.id for d in histories])
    out = [Written(deal, "updated", {}, _merge(session, deal, steps[deal.id], lines), "imported")
           for deal, lines in histories.items()]
    out = [w if w.history else Written(w.deal, "unchanged", {}) for w in out]
    session.flush()
    for w in out:
        if w.history:
            _record(session, w, actor=actor, via=via)
    return out


# --- the API ------------------------------------------------------------------------------------------------------


def create_or_return(session: Session, data: OpportunityCreate, *, actor: Principal) -> Written:
    """The deal with this source and external id: created (its history derived from its dates, audited) when new,
    otherwise as it is."""
    written = first_writer_wins(session, lambda: write(
        session, [_prepared_one(session, (data.source, data.external_id), data)], actor=actor, update=False,
        via="api")[0])
    if not _readable(session, actor, written.deal.id):
        if written.outcome == "created":
            raise Forbidden(NOT_YOURS, field="owner")
        raise Conflict("A deal with this source and external id exists already.", field="external_id")
    return written


def update(session: Session, source: str, external_id: str, data: OpportunityUpdate, *,
           actor: Principal) -> Opportunity:
    """Change the fields sent. A stage move is recorded with the actor; won or lost without a close date closes
    the deal now, an open stage reopens it. The deal must be readable to the writer before and after."""
    deal = visible_by_key(session, actor, source, external_id)
    prepared = _prepared_one(session, (source, external_id), data, close_now=utcnow())
    write(session, [prepared], actor=actor, observed=True, via="api")
    if not _readable(session, actor, deal.id):
        raise Forbidden(NOT_YOURS, field="owner")
    return deal


def _prepared_one(session: Session, key: Key, data: OpportunityChange, *,
                  close_now: datetime | None = None) -> Prepared:
    prepared, problems = prepare(session, [(key, data)], close_now=close_now)
    if problems:
        raise problems[0].error()
    assert prepared[0] is not None
    return prepared[0]


def _readable(session: Session, principal: Principal, deal_id: int) -> bool:
    session.flush()
    return session.scalar(repository.readable(principal).where(Opportunity.id == deal_id)) is not None


# --- reading ------------------------------------------------------------------------------------------------------


def visible_opportunity(session: Session, principal: Principal, opportunity_id: int) -> Opportunity:
    opp = session.scalar(repository.readable(principal).where(Opportunity.id == opportunity_id))
    if opp is None:
        raise NotFound("No opportunity with id {id}.", field="opportunity_id", id=opportunity_id)
    return opp


def visible_by_key(session: Session, principal: Principal, source: str, external_id: str) -> Opportunity:
    opp = session.scalar(repository.readable(principal).where(Opportunity.source == source,
                                                              Opportunity.external_id == external_id))
    if opp is None:
        raise NotFound("No opportunity {external_id} from {source}.", field="external_id", external_id=external_id,
                       source=source)
    return opp


def stage_history(session: Session, principal: Principal, opportunity_id: int) -> list[StageChange]:
    visible_opportunity(session, principal, opportunity_id)
    return repository.stage_changes(session, opportunity_id)
