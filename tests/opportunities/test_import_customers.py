"""``evenhand import contracts|payments|surveys|complaints``: a small company's after-sale exports come in once, each
record found again by its natural key; a changed row updates its record (audited); a bad amount, an unknown account
or rep, a bad date or a repeated row is named by row and field and nothing is written unless --skip-invalid."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from click.testing import Result
from sqlalchemy import Engine, select

from evenhand.db import session_scope
from evenhand.models import Account, Complaint, Contract, ContractKind, Payment, SurveyKind, SurveyResponse
from tests.files import write_csv, write_xlsx
from tests.opportunities.exports import (
    SF_ACCOUNTS,
    SF_ACCOUNTS_HEADER,
    SF_ACCOUNTS_MAPPING,
    SF_HEADER,
    SF_MAPPING,
    SF_OPPORTUNITIES,
    salesforce_company,
    write,
)
from tests.support import Run, audit_entries, row_counts

ACME, GLOBEX = "0015g00000XyZ01", "0015g00000XyZ02"
CONTRACTS_HEADER = ["Contract No", "Account Id", "Opportunity Id", "Owner", "Type", "Value", "Signed", "Start", "End",
                    "Renewed"]
CONTRACTS = [
    ["K-1", ACME, "0065g00000AbCdE", "", "New", "48000", "2024-03-15 10:00", "2024-04-01", "2025-03-31", "Yes"],
    ["K-2", GLOBEX, "", "zhang.wei@example.com", "New", "12500.50", "2024-06-30 15:00", "2024-07-01", "", ""],
    ["K-3", ACME, "", "", "Renewal", "50000", "2025-03-10 11:00", "2025-04-01", "2026-03-31", ""],
]
CONTRACTS_MAPPING = """\
fields:
  account: Account Id
  account_source: {value: salesforce}
  opportunity: Opportunity Id
  owner: Owner
  kind: {column: Type, map: {New: new, Renewal: renewal}}
  amount: Value
  signed_at: Signed
  starts_on: Start
  ends_on: End
  renewed: {column: Renewed, map: {"Yes": "true", "No": "false"}}
timezone: Asia/Shanghai
"""
PAYMENTS_HEADER = ["Account Id", "Contract Start", "Amount", "Received"]
PAYMENTS = [
    [ACME, "2024-04-01", "24000", "2024-05-02 10:00"],
    [ACME, "", "24000.00", "2024-09-01 10:00"],  # no contract named: the one signed last before, K-1
    [ACME, "", "25000", "2025-05-01 09:00"],  # K-3, signed since
    [GLOBEX, "", "12500.5", "2024-08-01 09:00"],
]
PAYMENTS_MAPPING = """\
fields:
  account: Account Id
  contract_starts_on: Contract Start
  amount: Amount
  received_at: Received
timezone: Asia/Shanghai
"""
SURVEYS_HEADER = ["客户编号", "销售", "类型", "分数", "回答时间"]
SURVEYS = [
    [ACME, "li.na@example.com", "满意度", "4", "2024-06-01 09:00"],
    [ACME, "li.na@example.com", "推荐度", "9", "2024-10-01 09:00"],
    [GLOBEX, "zhang.wei@example.com", "满意度", "2", "2024-09-01 12:00"],
    [GLOBEX, "", "推荐度", "3", "2024-12-01 12:00"],
]
SURVEYS_MAPPING = """\
fields:
  account: 客户编号
  rep: 销售
  kind: {column: 类型, map: {满意度: csat, 推荐度: nps}}
  score: 分数
  responded_at: 回答时间
"""
COMPLAINTS_HEADER = ["Ticket", "Account", "Agent", "Opened", "Summary"]
COMPLAINTS = [
    ["T-1", GLOBEX, "zhang.wei@example.com", "05/10/2024 14:00", "Support visits stopped after the discount"],
    ["T-2", ACME, "", "10/01/2025 09:00", ""],
]
COMPLAINTS_MAPPING = """\
fields:
  source: {value: servicedesk}
  external_id: Ticket
  account: Account
  account_source: {value: salesforce}
  rep: Agent
  received_at: {column: Opened, format: "%d/%m/%Y %H:%M"}
  summary: Summary
timezone: Europe/London
"""
FILES = {"contracts": (CONTRACTS_HEADER, CONTRACTS, CONTRACTS_MAPPING),
         "payments": (PAYMENTS_HEADER, PAYMENTS, PAYMENTS_MAPPING),
         "surveys": (SURVEYS_HEADER, SURVEYS, SURVEYS_MAPPING),
         "complaints": (COMPLAINTS_HEADER, COMPLAINTS, COMPLAINTS_MAPPING)}


def said(result: Result) -> str:
    return " ".join(result.output.split())


def shanghai(text: str) -> datetime:
    return datetime.fromisoformat(text + "+08:00").astimezone(UTC)


def company(run: Run, engine: Engine, tmp_path: Path) -> dict[str, int]:
    """Two reps, their two Salesforce accounts and three deals, imported as a sales-ops admin would."""
    with session_scope(engine) as session:
        people = {email.split("@")[0]: u.id for email, u in salesforce_company(session).items()}
    for command, (header, rows, mapping) in {"accounts": (SF_ACCOUNTS_HEADER, SF_ACCOUNTS, SF_ACCOUNTS_MAPPING),
                                              "opportunities": (SF_HEADER, SF_OPPORTUNITIES, SF_MAPPING)}.items():
        result = run("import", command, str(write_csv(tmp_path / f"{command}.csv", header, rows)), "--mapping",
                     str(write(tmp_path / f"{command}.yaml", mapping)))
        assert result.exit_code == 0, result.output
    return people


def imported(run: Run, tmp_path: Path, command: str, rows: list[list[str]] | None = None, *extra: str,
             xlsx: bool = False) -> Result:
    header, default, mapping = FILES[command]
    writer, suffix = (write_xlsx, "xlsx") if xlsx else (write_csv, "csv")
    file = writer(tmp_path / f"{command}.{suffix}", header, default if rows is None else rows)
    return run("import", command, str(file), "--mapping", str(write(tmp_path / f"{command}-map.yaml", mapping)),
               *extra)


def everything(run: Run, tmp_path: Path) -> dict[str, str]:
    out = {}
    for command in FILES:
        result = imported(run, tmp_path, command, xlsx=command == "surveys")
        assert result.exit_code == 0, result.output
        out[command] = said(result)
    return out


def test_a_customer_history_comes_in_once(run: Run, engine: Engine, tmp_path: Path) -> None:
    people = company(run, engine, tmp_path)
    said_ = everything(run, tmp_path)
    assert "3 rows: contracts created 3, updated 0, unchanged 0; rows rejected 0." in said_["contracts"]
    assert "4 rows: payments created 4" in said_["payments"]
    assert "4 rows: survey responses created 4" in said_["surveys"]
    assert "2 rows: complaints created 2" in said_["complaints"]
    with session_scope(engine, readonly=True) as session:
        account = {a.external_id: a.id for a in session.scalars(select(Account))}
        contracts = {(c.account_id, c.starts_on): c for c in session.scalars(select(Contract))}
        first, globex, renewal = (contracts[(account[ACME], date(2024, 4, 1))],
                                  contracts[(account[GLOBEX], date(2024, 7, 1))],
                                  contracts[(account[ACME], date(2025, 4, 1))])
        assert (first.kind, first.amount, first.owner_id, first.renewed, first.ends_on) == (
            ContractKind.NEW, Decimal("48000.00"), people["li.na"], True, date(2025, 3, 31))  # the deal's owner
        assert first.opportunity_id is not None and first.signed_at == shanghai("2024-03-15T10:00")
        assert (globex.amount, globex.owner_id, globex.ends_on, globex.renewed) == (
            Decimal("12500.50"), people["zhang.wei"], date(2025, 6, 30), None)  # a year, less a day
        assert (renewal.kind, renewal.owner_id, renewal.opportunity_id) == (ContractKind.RENEWAL, people["li.na"],
                                                                            None)  # the account's owner
        paid = sorted((p.received_at, p.contract_id, p.amount) for p in session.scalars(select(Payment)))
        assert paid == [(shanghai("2024-05-02T10:00"), first.id, Decimal("24000.00")),
                        (shanghai("2024-08-01T09:00"), globex.id, Decimal("12500.50")),
                        (shanghai("2024-09-01T10:00"), first.id, Decimal("24000.00")),
                        (shanghai("2025-05-01T09:00"), renewal.id, Decimal("25000.00"))]
        answers = sorted((s.responded_at, s.kind, s.score, s.rep_id) for s in session.scalars(select(SurveyResponse)))
        assert answers[0] == (shanghai("2024-06-01T09:00"), SurveyKind.CSAT, 4, people["li.na"])  # company's zone
        assert answers[-1] == (shanghai("2024-12-01T12:00"), SurveyKind.NPS, 3, None)
        complaints = {c.external_id: c for c in session.scalars(select(Complaint))}
        assert (complaints["T-1"].source, complaints["T-1"].rep_id, complaints["T-1"].account_id) == (
            "servicedesk", people["zhang.wei"], account[GLOBEX])
        assert complaints["T-1"].received_at == datetime(2024, 10, 5, 13, tzinfo=UTC)  # London summer time
        assert complaints["T-2"].summary == "" and complaints["T-2"].rep_id is None
    actions = [e.action for e in audit_entries(engine)]
    assert [a for a in actions if a.endswith(".imported")] == [
        "contracts.imported", "payments.imported", "survey_responses.imported", "complaints.imported"]

    before = row_counts(engine)
    again = everything(run, tmp_path)
    for command, count in (("contracts", 3), ("payments", 4), ("surveys", 4), ("complaints", 2)):
        assert f"created 0, updated 0, unchanged {count}" in again[command], again[command]
    assert row_counts(engine) == before  # no record and no audit entry more


def test_a_changed_row_updates_its_record(run: Run, engine: Engine, tmp_path: Path) -> None:
    company(run, engine, tmp_path)
    everything(run, tmp_path)
    contracts = [list(r) for r in CONTRACTS]
    contracts[1][5] = "13000"  # a corrected value
    contracts[2][9] = "No"
    result = imported(run, tmp_path, "contracts", contracts)
    assert "contracts created 0, updated 2, unchanged 1" in said(result), result.output
    surveys = [list(r) for r in SURVEYS]
    surveys[2][3] = "3"
    assert "survey responses created 0, updated 1, unchanged 3" in said(imported(run, tmp_path, "surveys", surveys))
    payments = [*PAYMENTS, [GLOBEX, "", "500", "2024-08-01 09:00"]]  # a second sum the same day is a payment
    assert "payments created 1, updated 0, unchanged 4" in said(imported(run, tmp_path, "payments", payments))
    last = audit_entries(engine)[-3]
    assert last.action == "contracts.imported" and sorted(
        change for changes in last.payload["changes"].values() for change in changes) == ["amount", "renewed"]
    with session_scope(engine, readonly=True) as session:
        assert sorted(c.amount for c in session.scalars(select(Contract))) == [
            Decimal("13000.00"), Decimal("48000.00"), Decimal("50000.00")]


def test_bad_rows_are_named_and_nothing_is_written(run: Run, engine: Engine, tmp_path: Path) -> None:
    company(run, engine, tmp_path)
    before = row_counts(engine)
    rows = [list(r) for r in CONTRACTS]
    rows[0][5] = "48.000,00"  # row 2: not an amount
    rows[1][1] = "0015g00000NOPE"  # row 3: no such account
    rows[2][3] = "nobody@example.com"  # row 4: no such rep
    rows.append(["K-4", GLOBEX, "", "", "New", "100", "31/02/2025", "2025-03-01", "", ""])  # row 5: not a date
    rows.append(["K-5", ACME, "", "", "New", "100", "2025-03-01", "2025-04-01", "", ""])  # row 6: good
    rows.append(["K-5b", ACME, "", "", "New", "200", "2025-03-02", "2025-04-01", "", ""])  # row 7: row 6 again
    rows.append(["K-6", ACME, "0065g00000AbCdF", "", "New", "100", "2025-03-01", "2025-05-01", "", ""])  # Globex's
    rows.append(["K-7", ACME, "", "", "New", "100", "2025-03-01", "2025-06-01", "2025-05-01", ""])  # row 9
    result = imported(run, tmp_path, "contracts", rows)
    assert result.exit_code == 1, result.output
    output = said(result)
    for where in ("row 2.amount", "row 3.account", "row 4.owner", "row 5.signed_at", "row 7.starts_on",
                  "row 8.opportunity", "row 9.ends_on"):
        assert where in output, where
    assert "0015g00000NOPE" in output and "nobody@example.com" in output and "row 6 already" in output
    assert "nothing was saved" in output and row_counts(engine) == before

    rejects = tmp_path / "out" / "contracts-rejected.csv"
    kept = imported(run, tmp_path, "contracts", rows, "--skip-invalid", "--rejects", str(rejects))
    assert kept.exit_code == 0, kept.output
    assert "8 rows: contracts created 1, updated 0, unchanged 0; rows rejected 7." in said(kept)
    text = rejects.read_text(encoding="utf-8-sig")
    assert text.count("\n") == 8 and "48.000,00" in text and "0015g00000NOPE" in text


def test_payments_surveys_and_complaints_refuse_what_names_nothing(run: Run, engine: Engine, tmp_path: Path) -> None:
    company(run, engine, tmp_path)
    assert imported(run, tmp_path, "contracts").exit_code == 0
    before = row_counts(engine)
    payments = [[ACME, "2023-01-01", "100", "2024-05-02 10:00"],  # row 2: no contract starts that day
                [GLOBEX, "", "100", "2024-01-02 10:00"],  # row 3: before any contract was signed
                [ACME, "", "-5", "2024-05-02 10:00"],  # row 4: not a payment
                [ACME, "", "100", "yesterday"],  # row 5
                [ACME, "2024-04-01", "24000", "2024-05-02 10:00"], [ACME, "", "24000", "2024-05-02 10:00"]]
    output = said(imported(run, tmp_path, "payments", payments))
    for where in ("row 2.contract_starts_on", "row 3.received_at", "row 4.amount", "row 5.received_at",
                  "row 7.received_at"):
        assert where in output, where
    surveys = [[ACME, "li.na@example.com", "满意度", "7", "2024-06-01 09:00"],  # row 2: CSAT is 1 to 5
               [ACME, "li.na@example.com", "推荐度", "10", "2024-06-01"], [ACME, "ghost", "推荐度", "9", "2024-07-01"],
               [ACME, "", "其他", "9", "2024-07-01"]]
    output = said(imported(run, tmp_path, "surveys", surveys))
    for where in ("row 2.score", "row 4.rep", "row 5.kind"):
        assert where in output, where
    assert "row 3." not in output
    complaints = [[*COMPLAINTS[0]], [*COMPLAINTS[0]], ["T-3", "0015g00000NOPE", "", "05/10/2024 14:00", ""]]
    output = said(imported(run, tmp_path, "complaints", complaints))
    assert "row 3.external_id" in output and "row 4.account" in output
    assert row_counts(engine) == before


def test_an_id_two_crms_share_needs_its_source(run: Run, engine: Engine, tmp_path: Path) -> None:
    company(run, engine, tmp_path)
    with session_scope(engine) as session:
        session.add(Account(source="hubspot", external_id=ACME, name="Acme (HubSpot)"))
    mapping = SURVEYS_MAPPING
    file = write_csv(tmp_path / "s.csv", SURVEYS_HEADER, SURVEYS[:1])
    result = run("import", "surveys", str(file), "--mapping", str(write(tmp_path / "s.yaml", mapping)))
    assert result.exit_code == 1 and "row 2.account" in said(result) and "account_source" in said(result)
    sourced = mapping.replace("fields:\n", "fields:\n  account_source: {value: salesforce}\n")
    result = run("import", "surveys", str(file), "--mapping", str(write(tmp_path / "s.yaml", sourced)))
    assert "survey responses created 1" in said(result), result.output
