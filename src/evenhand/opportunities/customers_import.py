"""A company's after-sale history from its own exports (``evenhand import contracts|payments|surveys|complaints``):
what the scorecards read as contracts won and renewed, cash collected (回款), satisfaction and complaints.

Each file is streamed in chunks inside the caller's transaction and refused whole (nothing written) when a row is
bad, unless ``skip_invalid``. What a row names is found in evenhand: the account by its external id (in
``account_source`` when CRMs share ids), the deal likewise, people by external id, e-mail, username or unique name.

Running a file again creates nothing: a record is found again by its natural key. Only complaints carry a source and
an external id in evenhand; the others are keyed on what they have:

- a contract by its account and start day (an account has one contract starting on a day; a changed amount, end
  or owner is an update);
- a payment by its contract, time and amount (the same sum on the same contract at the same moment is one payment);
- a survey answer by its account, kind (CSAT, NPS) and time (a changed score or rep is an update);
- a complaint by its source and external id.

One audit entry records each import that changed anything: its counts, and what each updated record had changed."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.i18n import N_, t
from evenhand.kit import audit
from evenhand.kit import rows as rows_kit
from evenhand.kit.clock import as_utc
from evenhand.kit.rows import Kind, Progress, Rejects, RowError
from evenhand.models import Account, Complaint, Contract, Opportunity, Payment, SurveyResponse
from evenhand.opportunities import lookups
from evenhand.opportunities.customers_rows import (
    COMPLAINT_FIELDS,
    CONTRACT_FIELDS,
    PAYMENT_FIELDS,
    SURVEY_FIELDS,
    ComplaintRow,
    ContractRow,
    Customer,
    PaymentRow,
    SurveyRow,
)
from evenhand.opportunities.lookups import Problem
from evenhand.opportunities.schemas import CENTS

UNKNOWN_ACCOUNT = N_("No account {value} in evenhand; import the accounts first.")
SHARED_ACCOUNT = N_("Accounts of several CRMs have the id {value}; map account_source.")
UNKNOWN_DEAL = N_("No opportunity {value} in evenhand.")
SHARED_DEAL = N_("Opportunities of several CRMs have the id {value}; map account_source.")
OTHER_ACCOUNT = N_("The opportunity {value} is with another account.")
NO_CONTRACT_ON = N_("The account {value} has no contract starting on {day}; import the contracts first.")
NO_CONTRACT_BY = N_("The account {value} had signed no contract by {day}; import the contracts first.")

Ref = tuple[str | None, str]
SHARED = "shared"  # an external id several CRMs have
Values = dict[str, Any]
Prepare = Callable[[Session, Sequence[Any]], tuple[list[Values | None], list[Problem]]]


@dataclass(frozen=True)
class Target:
    """One kind of after-sale record: its rows, its table, the columns that find a record again (``key``), and its
    words. Amounts are left out of ``narrow``: SQLite may hold them as floats, so they are compared in Python."""

    kind: Kind[Any]
    model: Any
    key: tuple[str, ...]
    narrow: tuple[str, ...]  # the key's columns a chunk's stored records are read by (each IN the chunk's values)
    prepare: Prepare
    twice: tuple[str, str]  # the field a repeated row is refused on, and the message
    title: str
    summary: str

    def key_of(self, values: Mapping[Any, Any]) -> tuple[Any, ...]:
        return tuple(_comparable(values[column]) for column in self.key)


@dataclass
class Report:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0  # rows
    changes: dict[int, Values] = field(default_factory=dict)  # what each updated record had changed, by its id


def import_file(session: Session, target: Target, path: Path, mapping_text: str, *, zone: ZoneInfo,
                skip_invalid: bool, rejects: Rejects, actor: Principal | None = None,
                progress: Progress | None = None) -> Report:
    """The file's records created or updated in the caller's transaction; refused whole (``Invalid`` naming every
    bad row and field) unless ``skip_invalid``, which keeps the good rows and leaves the bad ones in ``rejects``."""
    report = Report()
    check = _validated(session, target, {})
    for chunk in rows_kit.chunks(path, mapping_text, target.kind, zone=zone, rejects=rejects, validate=check,
                                 progress=progress):
        if not rejects.errors or skip_invalid:
            _write(session, target, [values for _, values in chunk], report)
    report.rows, report.rejected = rejects.read, len({e.row for e in rejects.errors})
    if rejects.errors and not skip_invalid:
        raise rows_kit.reject(rejects.errors)
    if report.created or report.updated:  # a file imported again writes nothing
        _audit(session, target, path, report, actor)
    return report


def _validated(session: Session, target: Target, seen: dict[tuple[Any, ...], int]) -> rows_kit.Validate[Values]:
    """Fields first, then what the rows name; a record already on an earlier row is refused on the later one."""
    def check(raw: list[dict[str, Any]], first_row: int) -> tuple[list[Values | None], list[RowError]]:
        parsed, errors = rows_kit.validate_rows(target.kind.adapter, raw, first_row=first_row)
        prepared, problems = target.prepare(session, parsed)
        errors += [p.row_error(first_row) for p in problems]
        for offset, values in enumerate(prepared):
            key = target.key_of(values) if values is not None else None
            if key is not None and key in seen:
                errors.append(RowError(first_row + offset, target.twice[0], t(target.twice[1], row=seen[key])))
                prepared[offset] = None
            elif key is not None:
                seen[key] = first_row + offset
        return prepared, sorted(errors, key=lambda e: e.row)
    return check


def _write(session: Session, target: Target, items: Sequence[Values], report: Report) -> None:
    """Create what is new, update what changed, each kind in one statement per chunk; stored records are compared
    as rows, without building an ORM object for each."""
    if not items:
        return
    model, columns = target.model, list(items[0])
    wanted = [getattr(model, c).in_(list({values[c] for values in items})) for c in target.narrow]
    stmt = select(model.id, *(getattr(model, c) for c in columns)).where(*wanted)
    existing = {target.key_of(row._mapping): row._mapping for row in session.execute(stmt)}
    new, changed = [], []
    for values in items:
        stored = existing.get(target.key_of(values))
        changes = {k: v for k, v in values.items() if stored is not None and lookups.differs(stored[k], v)}
        if stored is None:
            new.append(values)
        elif changes:
            changed.append({"id": stored["id"], **changes})
            report.changes[stored["id"]] = lookups.plain(changes)
    for statement, rows in ((update(model), changed), (insert(model), new)):
        if rows:
            session.execute(statement, rows)
    report.created += len(new)
    report.updated += len(changed)
    report.unchanged += len(items) - len(new) - len(changed)


def _audit(session: Session, target: Target, path: Path, report: Report, actor: Principal | None) -> None:
    changed = dict(list(report.changes.items())[:1000])
    audit.append(session, action=f"{target.model.__tablename__}.imported", subject_type="imports",
                 subject_id=path.name, payload={"file": path.name, "rows": report.rows, "created": report.created,
                                                "updated": report.updated, "unchanged": report.unchanged,
                                                "rejected": report.rejected, "changes": changed},
                 actor_id=actor.user_id if actor else None)


def _comparable(value: Any) -> Any:
    """A key's value as it compares whoever read it: times as UTC instants, amounts to the cent, kinds as text."""
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, Decimal | float):
        return Decimal(value).quantize(CENTS)
    return value.value if isinstance(value, Enum) else value


# --- what the rows name -------------------------------------------------------------------------------------------


def _found(session: Session, model: type[Account | Opportunity], refs: Collection[Ref]) -> dict[Ref, Any]:
    """Accounts or deals by (CRM, external id), or by external id alone when one CRM has it: the record's row (id,
    source, external id, owner, and a deal's account), ``SHARED`` when several CRMs have the id, or None."""
    by_id: dict[str, list[Any]] = {}
    wanted = list({external_id for _, external_id in refs})
    extra = [Opportunity.account_id] if model is Opportunity else []
    if wanted:
        stmt = select(model.id, model.source, model.external_id, model.owner_id, *extra)
        for record in session.execute(stmt.where(model.external_id.in_(wanted))):
            by_id.setdefault(record.external_id, []).append(record)
    out: dict[Ref, Any] = {}
    for source, external_id in refs:
        records = [r for r in by_id.get(external_id, []) if source is None or r.source == source]
        out[(source, external_id)] = records[0] if len(records) == 1 else (SHARED if records else None)
    return out


def _accounts(session: Session, rows: Sequence[Customer | None]) -> dict[Ref, Any]:
    return _found(session, Account, [(r.account_source, r.account) for r in rows if r is not None])


def _account(index: int, row: Customer, accounts: dict[Ref, Any]) -> Any:
    """The account's row, or the problem of a row naming none (or one several CRMs share)."""
    found = accounts.get((row.account_source, row.account))
    if found is not None and found is not SHARED:
        return found
    return Problem(index, "account", SHARED_ACCOUNT if found else UNKNOWN_ACCOUNT, {"value": row.account})


def _person(index: int, name: str, key: str | None, people: dict[str, int]) -> int | Problem | None:
    if key is None:
        return None
    return people[key] if key in people else Problem(index, name, lookups.UNKNOWN_PERSON, {"value": key})


def _each(rows: Sequence[Any], one: Callable[[int, Any], Values | Problem]
          ) -> tuple[list[Values | None], list[Problem]]:
    """Each parsed row's columns, or the problem that refuses it (a row that failed its fields stays None)."""
    out: list[Values | None] = []
    problems: list[Problem] = []
    for index, row in enumerate(rows):
        found = one(index, row) if row is not None else None
        if isinstance(found, Problem):
            problems.append(found)
        out.append(found if isinstance(found, dict) else None)
    return out, problems


# --- contracts ----------------------------------------------------------------------------------------------------


def _prepare_contracts(session: Session, rows: Sequence[ContractRow | None]) -> tuple[list[Values | None],
                                                                                      list[Problem]]:
    accounts = _accounts(session, rows)
    deals = _found(session, Opportunity, [(r.account_source, r.opportunity) for r in rows if r and r.opportunity])
    people = lookups.people(session, [r.owner for r in rows if r is not None])
    return _each(rows, lambda index, row: _contract(index, row, _account(index, row, accounts), deals, people))


def _contract(index: int, row: ContractRow, account: Any, deals: dict[Ref, Any],
              people: dict[str, int]) -> Values | Problem:
    """The contract's rep is the one named, else the deal's owner, else the account's."""
    deal = _deal(index, row, account, deals) if row.opportunity else None
    owner = _person(index, "owner", row.owner, people)
    for problem in (account, deal, owner):
        if isinstance(problem, Problem):
            return problem
    fallback = deal.owner_id if deal is not None else account.owner_id
    return {"account_id": account.id, "opportunity_id": deal.id if deal else None,
            "owner_id": owner if owner is not None else fallback, "kind": row.kind, "amount": row.amount,
            "signed_at": as_utc(row.signed_at), "starts_on": row.starts_on, "ends_on": row.ends_on,
            "renewed": row.renewed}


def _deal(index: int, row: ContractRow, account: Any, deals: dict[Ref, Any]) -> Any:
    found = deals.get((row.account_source, row.opportunity or ""))
    value = {"value": row.opportunity}
    if found is None or found is SHARED:
        return Problem(index, "opportunity", SHARED_DEAL if found else UNKNOWN_DEAL, value)
    if not isinstance(account, Problem) and found.account_id not in (None, account.id):
        return Problem(index, "opportunity", OTHER_ACCOUNT, value)
    return found


# --- payments -----------------------------------------------------------------------------------------------------


def _prepare_payments(session: Session, rows: Sequence[PaymentRow | None]) -> tuple[list[Values | None],
                                                                                    list[Problem]]:
    accounts = _accounts(session, rows)
    ids = [a.id for a in accounts.values() if a is not None and a is not SHARED]
    contracts: dict[int, list[Any]] = {}
    if ids:
        stmt = select(Contract.id, Contract.account_id, Contract.starts_on, Contract.signed_at)
        for contract in session.execute(stmt.where(Contract.account_id.in_(ids))):
            contracts.setdefault(contract.account_id, []).append(contract)

    def one(index: int, row: PaymentRow) -> Values | Problem:
        account = _account(index, row, accounts)
        if isinstance(account, Problem):
            return account
        contract = _contract_paid(index, row, contracts.get(account.id, []))
        if isinstance(contract, Problem):
            return contract
        return {"contract_id": contract.id, "amount": row.amount, "received_at": as_utc(row.received_at)}
    return _each(rows, one)


def _contract_paid(index: int, row: PaymentRow, contracts: list[Any]) -> Any:
    """The account's contract starting on ``contract_starts_on``; without it, the one signed last before the
    money came."""
    if row.contract_starts_on is not None:
        named = [c for c in contracts if c.starts_on == row.contract_starts_on]
        day = row.contract_starts_on
    else:
        named = sorted((c for c in contracts if as_utc(c.signed_at) <= as_utc(row.received_at)),
                       key=lambda c: (as_utc(c.signed_at), c.id))[-1:]
        day = row.received_at.date()
    if named:
        return named[0]
    message = NO_CONTRACT_ON if row.contract_starts_on is not None else NO_CONTRACT_BY
    return Problem(index, "contract_starts_on" if row.contract_starts_on else "received_at", message,
                   {"value": row.account, "day": day.isoformat()})


# --- surveys and complaints ---------------------------------------------------------------------------------------


def _prepare_surveys(session: Session, rows: Sequence[SurveyRow | None]) -> tuple[list[Values | None],
                                                                                  list[Problem]]:
    accounts = _accounts(session, rows)
    people = lookups.people(session, [r.rep for r in rows if r is not None])

    def one(index: int, row: SurveyRow) -> Values | Problem:
        account, rep = _account(index, row, accounts), _person(index, "rep", row.rep, people)
        if isinstance(account, Problem) or isinstance(rep, Problem):
            return account if isinstance(account, Problem) else rep  # type: ignore[return-value]
        return {"account_id": account.id, "rep_id": rep, "kind": row.kind, "score": row.score,
                "responded_at": as_utc(row.responded_at)}
    return _each(rows, one)


def _prepare_complaints(session: Session, rows: Sequence[ComplaintRow | None]) -> tuple[list[Values | None],
                                                                                        list[Problem]]:
    accounts = _accounts(session, rows)
    people = lookups.people(session, [r.rep for r in rows if r is not None])

    def one(index: int, row: ComplaintRow) -> Values | Problem:
        account, rep = _account(index, row, accounts), _person(index, "rep", row.rep, people)
        if isinstance(account, Problem) or isinstance(rep, Problem):
            return account if isinstance(account, Problem) else rep  # type: ignore[return-value]
        return {"source": row.source, "external_id": row.external_id, "account_id": account.id, "rep_id": rep,
                "received_at": as_utc(row.received_at), "summary": row.summary}
    return _each(rows, one)


CONTRACTS = Target(
    Kind("contract", TypeAdapter(ContractRow), CONTRACT_FIELDS, ("signed_at", "starts_on", "ends_on")),
    Contract, ("account_id", "starts_on"), ("account_id", "starts_on"), _prepare_contracts,
    ("starts_on", N_("The file has a contract of this account starting on this day on row {row} already.")),
    N_("Importing contracts"),
    N_("{rows}: contracts created {created}, updated {updated}, unchanged {unchanged}; rows rejected {rejected}."))
PAYMENTS = Target(
    Kind("payment", TypeAdapter(PaymentRow), PAYMENT_FIELDS, ("contract_starts_on", "received_at")),
    Payment, ("contract_id", "received_at", "amount"), ("contract_id", "received_at"), _prepare_payments,
    ("received_at", N_("The file has this payment (contract, time and amount) on row {row} already.")),
    N_("Importing payments"),
    N_("{rows}: payments created {created}, updated {updated}, unchanged {unchanged}; rows rejected {rejected}."))
SURVEYS = Target(
    Kind("survey response", TypeAdapter(SurveyRow), SURVEY_FIELDS, ("responded_at",)),
    SurveyResponse, ("account_id", "kind", "responded_at"), ("account_id", "responded_at"), _prepare_surveys,
    ("responded_at", N_("The file has this account's answer of this kind at this time on row {row} already.")),
    N_("Importing survey responses"),
    N_("{rows}: survey responses created {created}, updated {updated}, unchanged {unchanged}; rows rejected "
       "{rejected}."))
COMPLAINTS = Target(
    Kind("complaint", TypeAdapter(ComplaintRow), COMPLAINT_FIELDS, ("received_at",)),
    Complaint, ("source", "external_id"), ("source", "external_id"), _prepare_complaints,
    ("external_id", N_("The file has this complaint on row {row} already.")),
    N_("Importing complaints"),
    N_("{rows}: complaints created {created}, updated {updated}, unchanged {unchanged}; rows rejected {rejected}."))
