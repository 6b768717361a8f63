"""Accounts and opportunities from a CRM's own exports (``evenhand import accounts`` / ``opportunities``), with the
deals' stage history when the export has one. Each file is streamed in chunks inside the caller's transaction;
rows are created or updated on ``(source, external_id)``, so running a file again changes nothing. A file with a
bad row is refused whole (nothing is written) unless ``skip_invalid``; rejected rows keep their reasons.

Account fields: ``source`` (the CRM: usually a constant, ``{value: salesforce}``), ``external_id``, ``name``,
``industry``, ``region`` (code or name), ``owner`` (a user's external id, e-mail or username), ``created_at``.

Opportunity fields: ``source``, ``external_id``, ``name`` (default: account · product line, else the external id),
``account`` (the account's external id in the same source, or its name: refused when it names none),
``account_name`` (an account's name: created when none has it), ``owner`` (required), ``product`` (a product
line's code or name; unknown ones are refused, naming those there are), ``amount``, ``discount_pct``, ``stage``
(qualification, needs_analysis, proposal, negotiation, won, lost: the CRM's names through the field's ``map``),
``won`` and ``closed`` (flags: the stage when the export has no stage column), ``created_at``, ``engaged_at``,
``closed_at`` (a won or lost deal needs it; an open deal's is dropped, being only expected). A deal without
``created_at`` was created at its first known date.

Stage history fields (``--stages FILE --stages-mapping S.yaml``): ``opportunity`` (the deal's external id),
``source`` (needed only for deals imported before, when sources share ids), ``to_stage``, ``changed_at``,
``from_stage`` (else the line before's). Lines that leave the stage as it was are no move. Deals without a
history get one derived from their dates, marked as derived (``stages``).

The Kaggle/Maven "CRM sales opportunities" export, ``accounts.csv``
(account,sector,year_established,revenue,employees,office_location,subsidiary_of)::

    fields:
      source: {value: maven}
      external_id: account
      name: account
      industry: sector

and ``sales_pipeline.csv`` (opportunity_id,sales_agent,product,account,deal_stage,engage_date,close_date,
close_value)::

    fields:
      source: {value: maven}
      external_id: opportunity_id
      owner: sales_agent
      product: product
      account_name: account
      stage: {column: deal_stage, map: {Prospecting: qualification, Engaging: needs_analysis, Won: won,
                                        Lost: lost}}
      engaged_at: engage_date
      closed_at: close_date
      amount: close_value

A Salesforce ``Opportunity`` export (Id,Name,AccountId,OwnerEmail,StageName,Amount,CreatedDate,CloseDate,IsWon,
IsClosed) with ``OpportunityHistory`` (OpportunityId,StageName,CreatedDate) as the stage file::

    fields:                                   # opportunities.yaml
      source: {value: salesforce}
      external_id: Id
      name: Name
      account: AccountId
      owner: OwnerEmail
      amount: Amount
      stage: {column: StageName, map: {Prospecting: qualification, Qualification: qualification,
              Needs Analysis: needs_analysis, Proposal/Price Quote: proposal,
              Negotiation/Review: negotiation, Closed Won: won, Closed Lost: lost}}
      won: IsWon
      closed: IsClosed
      created_at: CreatedDate
      closed_at: CloseDate

    fields:                                   # history.yaml
      opportunity: OpportunityId
      to_stage: {column: StageName, map: {...the same names...}}
      changed_at: CreatedDate

A Chinese CRM export (商机编号,商机名称,客户名称,负责人邮箱,产品线,金额,阶段,创建日期,赢单日期)::

    fields:
      source: {value: crm}
      external_id: 商机编号
      name: 商机名称
      account_name: 客户名称
      owner: 负责人邮箱
      product: 产品线
      amount: 金额
      stage: {column: 阶段, map: {初步接洽: qualification, 需求分析: needs_analysis, 方案报价: proposal,
                                   商务谈判: negotiation, 赢单: won, 输单: lost}}
      created_at: 创建日期
      closed_at: 赢单日期
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter
from sqlalchemy.orm import Session

from evenhand.i18n import N_, t
from evenhand.kit import mapping as mapping_mod
from evenhand.kit import rows as rows_kit
from evenhand.kit.rows import Kind, Progress, Rejects, RowError
from evenhand.models import Opportunity
from evenhand.opportunities import accounts, repository, service, stages
from evenhand.opportunities.lookups import Problem
from evenhand.opportunities.schemas import (
    ACCOUNT_FIELDS,
    OPPORTUNITY_FIELDS,
    OPPORTUNITY_MOMENTS,
    STAGE_FIELDS,
    AccountCreate,
    OpportunityCreate,
    StageRow,
)
from evenhand.opportunities.stages import Step

# Typed Any: a chunk's rows come out prepared for writing (``accounts.Prepared``, ``service.Prepared``).
ACCOUNTS: Kind[Any] = Kind("account", TypeAdapter(AccountCreate), ACCOUNT_FIELDS, ("created_at",))
OPPORTUNITIES: Kind[Any] = Kind("opportunity", TypeAdapter(OpportunityCreate), OPPORTUNITY_FIELDS,
                                OPPORTUNITY_MOMENTS)
STAGE_LINES: Kind[StageRow] = Kind("stage history", TypeAdapter(StageRow), STAGE_FIELDS, ("changed_at",))
TWICE = N_("The file has {source} {external_id} on row {row} already.")
NO_DEAL = N_("No opportunity {external_id} in the opportunities file or in evenhand.")
SHARED_ID = N_("Opportunities of several sources have the id {external_id}; map source.")

T = TypeVar("T")
P = TypeVar("P")
Prepare = Callable[[Session, Sequence[tuple[tuple[str, str], Any] | None]], tuple[list[P | None], list[Problem]]]


@dataclass
class Report:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0  # rows
    accounts_created: int = 0
    stage_lines: int = 0
    stage_rejected: int = 0
    derived: int = 0  # deals whose history was derived from their dates
    histories: int = 0  # deals whose exported history was added

    def count(self, outcomes: Sequence[str]) -> None:
        for outcome in outcomes:
            setattr(self, outcome, getattr(self, outcome) + 1)


@dataclass
class Refused:
    """What was wrong with the files: the opportunities' (or accounts') rows, and the stage history's."""

    rows: Rejects = field(default_factory=lambda: Rejects(header=[]))
    stages: Rejects = field(default_factory=lambda: Rejects(header=[]))


def import_accounts(session: Session, path: Path, mapping_text: str, *, zone: ZoneInfo, skip_invalid: bool,
                    refused: Refused, progress: Progress | None = None) -> Report:
    report = Report()
    check = _validated(session, ACCOUNTS, accounts.prepare, {})
    for chunk in rows_kit.chunks(path, mapping_text, ACCOUNTS, zone=zone, rejects=refused.rows, validate=check,
                                 progress=progress):
        report.count([w.outcome for w in accounts.write(session, [p for _, p in chunk], actor=None)])
    return _finish(report, refused, skip_invalid=skip_invalid)


def import_opportunities(session: Session, path: Path, mapping_text: str, *, zone: ZoneInfo, skip_invalid: bool,
                         refused: Refused, stages_file: tuple[Path, str] | None = None,
                         progress: Progress | None = None) -> Report:
    """The deals of ``path``; with ``stages_file`` (a file and its mapping), their exported stage history, read
    first (each line's deal must be in ``path`` or in evenhand) so a deal's history is written with it."""
    report = Report()
    lines: Lines = {}
    if stages_file is not None:
        mapping_mod.parse(stages_file[1], known=STAGE_LINES.fields, kind=STAGE_LINES.name)
        in_file = _keys_in(path, mapping_text, zone=zone)
        lines = _stage_lines(session, stages_file, in_file, zone=zone, rejects=refused.stages)
        report.stage_lines, report.stage_rejected = refused.stages.read, _rows(refused.stages)
    check = _validated(session, OPPORTUNITIES, service.prepare, {})
    for chunk in rows_kit.chunks(path, mapping_text, OPPORTUNITIES, zone=zone, rejects=refused.rows, validate=check,
                                 progress=progress):
        items = [p for _, p in chunk]
        report.accounts_created += len({(p.key[0], p.account_name.casefold()) for p in items if p.account_name})
        histories = {p.key: _take(lines, p.key) for p in items if _has(lines, p.key)}
        _count(report, service.write(session, items, actor=None, histories=histories))
    if lines:
        _count(report, _earlier_deals(session, lines))
    return _finish(report, refused, skip_invalid=skip_invalid)


def _count(report: Report, written: Sequence[service.Written]) -> None:
    report.count([w.outcome for w in written])
    report.derived += sum(1 for w in written if w.how == "derived")
    report.histories += sum(1 for w in written if w.how == "imported")


Lines = dict[tuple[str | None, str], list[Step]]


def _keys_in(path: Path, mapping_text: str, *, zone: ZoneInfo) -> set[tuple[str | None, str]]:
    """The (source, external id) of every row of the opportunities file, by a first quick pass."""
    def keys(raw: list[dict[str, Any]], first_row: int) -> tuple[list[Any], list[RowError]]:
        return [(str(r.get("source", "")).strip(), str(r.get("external_id", "")).strip()) for r in raw], []

    found: set[tuple[str | None, str]] = set()
    for chunk in rows_kit.chunks(path, mapping_text, OPPORTUNITIES, zone=zone, validate=keys):
        for _, (source, external_id) in chunk:
            found.update([(source, external_id), (None, external_id)])
    return found


def _stage_lines(session: Session, stages_file: tuple[Path, str], in_file: set[tuple[str | None, str]], *,
                 zone: ZoneInfo, rejects: Rejects) -> Lines:
    """The exported history by deal: (source or None, external id) → its lines. A line whose deal is neither in the
    opportunities file nor in evenhand is refused."""
    def check(raw: list[dict[str, Any]], first_row: int) -> tuple[list[StageRow | None], list[RowError]]:
        parsed, errors = rows_kit.validate_rows(STAGE_LINES.adapter, raw, first_row=first_row)
        wanted = [k for k in ((r.source, r.opportunity) for r in parsed if r is not None) if k not in in_file]
        known = _deals(session, wanted)
        for offset, row in enumerate(parsed):
            key = (row.source, row.opportunity) if row is not None else None
            if key is not None and key not in in_file and not isinstance(known.get(key), Opportunity):
                errors.append(RowError(first_row + offset, "opportunity",
                                       t(known.get(key) or NO_DEAL, external_id=key[1])))
                parsed[offset] = None
        return parsed, sorted(errors, key=lambda e: e.row)

    lines: Lines = {}
    path, mapping_text = stages_file
    for chunk in rows_kit.chunks(path, mapping_text, STAGE_LINES, zone=zone, rejects=rejects, validate=check):
        for _, row in chunk:
            lines.setdefault((row.source, row.opportunity), []).append(
                Step(row.from_stage, row.to_stage, row.changed_at))
    return lines


def _deals(session: Session, keys: Sequence[tuple[str | None, str]]) -> dict[tuple[str | None, str], Any]:
    """The deal in evenhand of each key, or why there is none (a message): by source and id, or by id alone when
    no source is given and one source has it."""
    found: dict[tuple[str | None, str], Any] = {}
    with_source = [(s, e) for s, e in keys if s is not None]
    for key, deal in repository.by_keys(session, Opportunity, with_source).items():
        found[key] = deal
    for external_id, deals in repository.by_external_ids(session, {e for s, e in keys if s is None}).items():
        found[(None, external_id)] = deals[0] if len(deals) == 1 else SHARED_ID
    return found


def _has(lines: Lines, key: tuple[str, str]) -> bool:
    return key in lines or (None, key[1]) in lines


def _take(lines: Lines, key: tuple[str, str]) -> list[Step]:
    return stages.in_order([*lines.pop(key, []), *lines.pop((None, key[1]), [])])


def _earlier_deals(session: Session, lines: Lines) -> list[service.Written]:
    """The history of deals imported before (their lines were checked as they were read). Lines of a deal whose
    row in this file was refused (``--skip-invalid``) go with it."""
    found = _deals(session, list(lines))
    histories: dict[Opportunity, list[Step]] = {}
    for key, steps in lines.items():
        deal = found.get(key)
        if isinstance(deal, Opportunity):
            histories.setdefault(deal, []).extend(steps)
    return service.record_histories(session, {d: stages.in_order(s) for d, s in histories.items()}, actor=None)


def _rows(rejects: Rejects) -> int:
    return len({e.row for e in rejects.errors})


def _finish(report: Report, refused: Refused, *, skip_invalid: bool) -> Report:
    """Refuse the files whole (the caller's transaction rolls back) unless ``skip_invalid``."""
    report.rows, report.rejected = refused.rows.read, _rows(refused.rows)
    if not skip_invalid and refused.rows.errors:
        raise rows_kit.reject(refused.rows.errors)
    if not skip_invalid and refused.stages.errors:
        raise rows_kit.reject(refused.stages.errors, path=lambda e: f"stages row {e.row}.{e.field}")
    return report



def _validated(session: Session, kind: Kind[T], prepare: Prepare[P],
               seen: dict[tuple[str, str], int]) -> rows_kit.Validate[P]:
    """Fields first, then what the rows name (people, product lines, accounts); a key seen on an earlier row is
    refused on the later one."""
    def check(raw: list[dict[str, Any]], first_row: int) -> tuple[list[P | None], list[RowError]]:
        parsed, errors = rows_kit.validate_rows(kind.adapter, raw, first_row=first_row)
        items: list[tuple[tuple[str, str], Any] | None] = []
        for offset, row in enumerate(parsed):
            key = (getattr(row, "source", ""), getattr(row, "external_id", ""))
            if row is not None and key in seen:
                errors.append(RowError(first_row + offset, "external_id",
                                       t(TWICE, source=key[0], external_id=key[1], row=seen[key])))
                row = None
            elif row is not None:
                seen[key] = first_row + offset
            items.append((key, row) if row is not None else None)
        prepared, problems = prepare(session, items)
        errors += [p.row_error(first_row) for p in problems]
        return prepared, sorted(errors, key=lambda e: e.row)
    return check
