"""A small company built entirely from its own exports, through the commands a sales-ops admin runs: its sales
team, accounts, pipeline with stage dates, two years of leads with outcomes and behaviour counts, and a call log.
On it the predictive model trains and evaluates, ``scoring suggest`` learns rule points, the fairness report of
a backfilled month names its teams and every lead, and the what-if replay reads the history (R1.1–R1.5, R2.2)."""

from __future__ import annotations

import csv
import json
import random
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from evenhand.db import make_engine, session_scope
from evenhand.models import (
    Activity,
    Contract,
    Lead,
    LeadStatus,
    Opportunity,
    Payment,
    StageChange,
    Team,
    UnmatchedActivity,
    User,
)
from tests.files import write_csv
from tests.support import Run

OFFICES = {"Central": ["Dustin Brinkmann", "Melvin Marxen"], "East": ["Cara Losch", "Rocco Neubert"],
           "West": ["Summer Sewald", "Celia Rouche"]}
AGENTS = ["Moses Frase", "Darcel Schlecht", "Zane Levy", "Anna Lee", "Vicki Laflamme", "Hayden Neloms",
          "Versie Hillebrand", "Gladys Colclough", "Kami Bicknell", "Boris Faz", "Jonathan Berthelot", "James Ascencio"]
MANAGERS = [m for managers in OFFICES.values() for m in managers]
SECTORS = ["software", "retail", "medical", "finance", "telecom"]
DAY0 = date(2024, 1, 1)
LEADS = 360


def slug(name: str) -> str:
    return name.lower().replace(" ", ".")


def exports(folder: Path) -> dict[str, Path]:
    """The company's files as its CRM, its sales-team sheet, its marketing platform and its call centre give them."""
    rng = random.Random(20240101)
    office = {manager: o for o, managers in OFFICES.items() for manager in managers}
    team = [[agent, f"{slug(agent)}@acme.com", MANAGERS[i % len(MANAGERS)], office[MANAGERS[i % len(MANAGERS)]]]
            for i, agent in enumerate(AGENTS)]
    accounts = [[f"Acme Customer {n}", SECTORS[n % len(SECTORS)], 1990 + n, "United States"] for n in range(20)]
    pipeline = []
    for n in range(60):
        stage = ("Prospecting", "Engaging", "Won", "Lost")[n % 4]
        engaged = DAY0 + timedelta(days=n * 5)
        closed = engaged + timedelta(days=20) if stage in ("Won", "Lost") else None
        pipeline.append([f"D{n:04d}", AGENTS[n % len(AGENTS)], "GTX Pro", f"Acme Customer {n % 20}" if n % 4 else "",
                         stage, "" if stage == "Prospecting" else engaged.isoformat(),
                         closed.isoformat() if closed else "", 4000 + 100 * n if stage == "Won" else 0])
    leads, calls = [], []
    for n in range(LEADS):
        sector = SECTORS[n % len(SECTORS)]
        visits = rng.choice([0, 1, 2, 4, 6])
        likely = 0.08 + (0.35 if sector == "medical" else 0) + 0.06 * visits
        converted = rng.random() < likely
        created = DAY0 + timedelta(days=n * 2)
        owner = AGENTS[n % len(AGENTS)]
        phone = f"+1 (555) 01{n:04d}"
        leads.append([f"L{n:05d}", f"Prospect {n}", sector, rng.choice(["Google", "Referral", "Web"]), visits,
                      visits * rng.randrange(60, 400), "1" if converted else "0",
                      f"{created.isoformat()} 10:00", f"{slug(owner)}@acme.com", phone])
        if n % 3 == 0:
            calls.append([f"C-{n:05d}", f"{slug(owner)}@acme.com", phone.replace(" ", "").replace("(", "")
                          .replace(")", ""), created.strftime("%m/%d/%Y"), "0:03:25", "Outbound", "Answered"])
    calls.append(["C-99999", "nobody@acme.com", "+15550000000", "03/01/2024", "0:01:00", "Outbound", "No answer"])
    return {**_after_the_sale(folder, pipeline),
        "team": write_csv(folder / "sales_teams.csv", ["sales_agent", "email", "manager", "regional_office"], team),
        "accounts": write_csv(folder / "accounts.csv", ["account", "sector", "year_established", "office_location"],
                          accounts),
        "pipeline": write_csv(folder / "sales_pipeline.csv", ["opportunity_id", "sales_agent", "product", "account",
                                                          "deal_stage", "engage_date", "close_date", "close_value"],
                          pipeline),
        "leads": write_csv(folder / "Leads.csv", ["Prospect ID", "Company", "Industry", "Lead Source", "TotalVisits",
                                              "Total Time Spent on Website", "Converted", "Created On",
                                              "Owner Email", "Phone"], leads),
        "calls": write_csv(folder / "call_log.csv", ["Call ID", "Agent", "Customer Phone", "Call Date", "Duration",
                                                 "Direction", "Outcome"], calls),
    }


def _after_the_sale(folder: Path, pipeline: list[list[object]]) -> dict[str, Path]:
    """Each won deal's contract from its close date, paid in two halves, a CSAT answer two months in, and a
    complaint about every third contract's service."""
    contracts, payments, surveys, complaints = [], [], [], []
    for deal, agent, _, account, stage, _, closed, value in pipeline:
        if stage != "Won":
            continue
        start = date.fromisoformat(str(closed))
        contracts.append([account, deal, f"{slug(str(agent))}@acme.com", value, f"{start} 15:00", start.isoformat()])
        payments += [[account, start.isoformat(), int(str(value)) / 2, f"{start + timedelta(days=d)} 10:00"]
                     for d in (30, 120)]
        surveys.append([account, f"{slug(str(agent))}@acme.com", "CSAT", 3 + len(contracts) % 3,
                        f"{start + timedelta(days=60)} 11:00"])
        if len(contracts) % 3 == 0:
            complaints.append([f"Z-{len(contracts)}", account, slug(str(agent)), f"{start + timedelta(days=90)}",
                               "Slow answers"])
    return {
        "contracts": write_csv(folder / "contracts.csv", ["Account", "Deal", "Owner", "Value", "Signed", "Start"],
                               contracts),
        "payments": write_csv(folder / "payments.csv", ["Account", "Contract Start", "Amount", "Received"], payments),
        "surveys": write_csv(folder / "surveys.csv", ["Account", "Rep", "Survey", "Score", "Answered"], surveys),
        "complaints": write_csv(folder / "complaints.csv", ["Case", "Account", "Rep", "Opened", "Subject"],
                                complaints),
    }


MAPPINGS = {
    "team": """
fields:
  external_id: sales_agent
  display_name: sales_agent
  email: email
  manager_name: manager
  region: regional_office
""",
    "accounts": """
fields:
  source: {value: crm}
  external_id: account
  name: account
  industry: sector
""",
    "pipeline": """
fields:
  source: {value: crm}
  external_id: opportunity_id
  name: opportunity_id
  owner: sales_agent
  account: account
  stage: {column: deal_stage, map: {Prospecting: qualification, Engaging: needs_analysis, Won: won, Lost: lost}}
  engaged_at: engage_date
  closed_at: close_date
  amount: close_value
""",
    "leads": """
fields:
  external_id: Prospect ID
  company: Company
  industry: Industry
  source: {column: Lead Source, case: lower}
  page_views: TotalVisits
  dwell_seconds: Total Time Spent on Website
  outcome: {column: Converted, map: {"1": converted, "0": disqualified}}
  created_at: Created On
  owner: Owner Email
  phone: Phone
timezone: America/New_York
""",
    "calls": """
fields:
  source_system: {value: telephony}
  external_id: Call ID
  type: {value: call}
  rep: Agent
  phone: Customer Phone
  occurred_at: {column: Call Date, format: "%m/%d/%Y"}
  duration: Duration
  direction: {column: Direction, case: lower}
  answered: {column: Outcome, map: {Answered: "true", No answer: "false"}}
timezone: America/New_York
""",
    "contracts": """
fields:
  account: Account
  opportunity: Deal
  owner: Owner
  amount: Value
  signed_at: Signed
  starts_on: Start
timezone: America/New_York
""",
    "payments": """
fields:
  account: Account
  contract_starts_on: Contract Start
  amount: Amount
  received_at: Received
timezone: America/New_York
""",
    "surveys": """
fields:
  account: Account
  rep: Rep
  kind: {column: Survey, case: lower}
  score: Score
  responded_at: Answered
timezone: America/New_York
""",
    "complaints": """
fields:
  source: {value: helpdesk}
  external_id: Case
  account: Account
  rep: Rep
  received_at: Opened
  summary: Subject
timezone: America/New_York
""",
}


@pytest.fixture
def company(run: Run, tmp_path: Path) -> dict[str, Path]:
    files = exports(tmp_path)
    for kind, mapping in MAPPINGS.items():
        (tmp_path / f"{kind}.yaml").write_text(mapping, encoding="utf-8")
    return files


def imported(run: Run, tmp_path: Path, command: str, kind: str, path: Path, *extra: str) -> str:
    result = run("import", command, str(path), "--mapping", str(tmp_path / f"{kind}.yaml"), *extra)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def test_a_company_from_its_own_exports(run: Run, db_url: str, company: dict[str, Path], tmp_path: Path) -> None:
    started = run("init", "--starter", "neutral")  # no Chinese B2B assumptions in its scores and pools
    assert started.exit_code == 0, started.output
    imported(run, tmp_path, "org", "team", company["team"])
    again = imported(run, tmp_path, "org", "team", company["team"])
    imported(run, tmp_path, "accounts", "accounts", company["accounts"])
    imported(run, tmp_path, "opportunities", "pipeline", company["pipeline"])
    leads = imported(run, tmp_path, "leads", "leads", company["leads"], "--history")
    calls = imported(run, tmp_path, "activities", "calls", company["calls"])
    assert "360 new leads" in leads and "360, not routed" in leads, leads
    after_sale = {kind: imported(run, tmp_path, kind, kind, company[kind])
                  for kind in ("contracts", "payments", "surveys", "complaints")}
    assert "15 rows: contracts created 15" in after_sale["contracts"], after_sale
    assert "30 rows: payments created 30" in after_sale["payments"] and "5 rows: complaints created 5" in (
        after_sale["complaints"])
    assert "survey responses created 0, updated 0, unchanged 15" in imported(run, tmp_path, "surveys", "surveys",
                                                                            company["surveys"])
    engine = make_engine(db_url)
    try:
        _check_what_came_in(engine)
    finally:
        engine.dispose()
    assert "people created: 0, updated: 0, unchanged: 12" in again
    assert "Created 0 departments, 0 regions and 0 teams" in again
    assert "120 created" in calls and "1 waiting to be matched (1 with no known rep" in calls

    evaluated = run("scoring", "evaluate", "--json")
    assert evaluated.exit_code == 0, evaluated.output
    figures = json.loads(evaluated.stdout)
    assert (figures["n_rows"], figures["skipped_rows"]) == (LEADS, 0)
    assert figures["auc"] > 0.6 and figures["baselines"]["logistic"]["auc"] > 0.6  # sector and visits drive it
    trained = run("scoring", "train")
    assert trained.exit_code == 0, trained.output
    suggested = run("scoring", "suggest", "--months", "36", "--json", "--out", str(tmp_path / "suggested.yaml"))
    assert suggested.exit_code == 0, suggested.output
    assert (tmp_path / "suggested.yaml").exists()
    accepted = run("scoring", "set", str(tmp_path / "suggested.yaml"), "--note", "learned from our outcomes")
    assert accepted.exit_code == 0, accepted.output

    report = run("report", "fairness", "--month", "2024-03", "--format", "csv", "--out", str(tmp_path / "f.csv"))
    assert report.exit_code == 0, report.output
    said = " ".join(report.output.split())
    assert "6 teams, 16 leads" in said and "imported as history 16" in said, said
    rows = list(csv.DictReader((tmp_path / "f.csv").open(encoding="utf-8-sig")))
    assert sum(int(r["Leads received"]) for r in rows) == 16, rows
    (tmp_path / "policy.yaml").write_text(run("routing", "show").stdout, encoding="utf-8")
    replay = run("routing", "replay", "--policy", str(tmp_path / "policy.yaml"), "--from", "2024-03-01", "--to",
                 "2024-03-31", "--json")
    assert replay.exit_code == 0, replay.output
    replayed = json.loads(replay.stdout)
    assert replayed["leads"] == 16 and 0 < sum(rep["current"]["leads"] for rep in replayed["reps"]) <= 16
    assert sum(rep["actual"] for rep in replayed["reps"]) == 16
    _scorecards_from_the_exports(run, db_url)
    _board_from_the_exports(run, db_url)


def _board_from_the_exports(run: Run, db_url: str) -> None:
    """The board of the month most deals entered qualification in counts each deal the pipeline export holds."""
    engine = make_engine(db_url)
    try:
        with session_scope(engine, readonly=True) as session:
            entered = [at for (at,) in session.execute(select(StageChange.changed_at).where(
                StageChange.to_stage == "qualification"))]
    finally:
        engine.dispose()
    months: dict[str, int] = {}
    for at in entered:
        months[f"{at:%Y-%m}"] = months.get(f"{at:%Y-%m}", 0) + 1
    month = max(months, key=months.__getitem__)
    board = run("board", "show", "--period", month, "--json")
    assert board.exit_code == 0, board.output
    figures = json.loads(board.stdout)["overall"]["current"]
    assert figures["conversion"]["qualification"]["entered"] == months[month] > 0


def _scorecards_from_the_exports(run: Run, db_url: str) -> None:
    """The quarter with the most cash collected, scored from what the exports brought: each rep's cash collected is
    the payments on the contracts they own, and closing the period freezes those cards."""
    engine = make_engine(db_url)
    try:
        with session_scope(engine, readonly=True) as session:
            paid = session.execute(select(Contract.owner_id, Payment.amount, Payment.received_at).join(
                Contract, Contract.id == Payment.contract_id)).all()
            names = dict(session.execute(select(User.id, User.display_name)).tuples().all())
    finally:
        engine.dispose()
    quarters: dict[str, dict[str, float]] = {}
    for owner, amount, received in paid:
        key = f"{received.year}-Q{(received.month - 1) // 3 + 1}"
        name = names[owner] if owner is not None else ""  # every imported contract has its rep
        quarters.setdefault(key, {}).setdefault(name, 0.0)
        quarters[key][name] += float(amount)
    quarter = max(quarters, key=lambda k: sum(quarters[k].values()))
    shown = run("scorecard", "show", "--period", quarter, "--json")
    assert shown.exit_code == 0, shown.output
    cards = {card["name"]: card for card in json.loads(shown.stdout)["cards"]}
    assert set(AGENTS) <= set(cards)
    collected = {name: next(m["value"] for m in card["metrics"] if m["metric"] == "cash_collected")
                 for name, card in cards.items() if any(m["metric"] == "cash_collected" for m in card["metrics"])}
    assert {n: v for n, v in collected.items() if v} == pytest.approx(quarters[quarter])
    closed = run("scorecard", "close", "--period", quarter)
    assert closed.exit_code == 0, closed.output
    frozen = json.loads(run("scorecard", "show", "--period", quarter, "--json").stdout)
    assert frozen["frozen"] and {c["name"]: c["total"] for c in frozen["cards"]} == {
        n: c["total"] for n, c in cards.items()}


def _check_what_came_in(engine: Engine) -> None:
    with session_scope(engine, readonly=True) as session:
        people = {u.display_name: u for u in session.scalars(select(User))}
        assert set(AGENTS) <= set(people) and set(MANAGERS) <= set(people)
        assert people["Anna Lee"].username == "anna.lee"
        assert session.scalar(select(func.count()).select_from(Team)) == len(MANAGERS)
        deals = {o.external_id: o for o in session.scalars(select(Opportunity))}
        assert len(deals) == 60 and deals["D0002"].stage.value == "won" and deals["D0002"].closed_at is not None
        history = session.scalars(select(StageChange).where(StageChange.opportunity_id == deals["D0002"].id)).all()
        assert history and all(change.derived for change in history)
        leads = session.scalars(select(Lead)).all()
        assert len(leads) == LEADS and all(lead.backfilled and lead.owner_id for lead in leads)
        assert {lead.status for lead in leads} == {LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED}
        assert min(lead.created_at for lead in leads).date() == DAY0
        linked = session.scalar(select(func.count()).select_from(Activity).where(Activity.lead_id.is_not(None)))
        assert linked == LEADS // 3
        paid = session.scalar(select(func.sum(Payment.amount)))
        assert paid == sum(deal.amount for deal in deals.values() if deal.stage.value == "won")
        contract = session.scalars(select(Contract).where(Contract.opportunity_id == deals["D0002"].id)).one()
        assert (contract.owner_id, contract.amount) == (deals["D0002"].owner_id, deals["D0002"].amount)
        waiting = session.scalars(select(UnmatchedActivity)).all()
        assert [(w.external_id, w.reason) for w in waiting] == [("C-99999", "no_rep")]
