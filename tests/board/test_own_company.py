"""The board on a company imported from its own exports (its sales team, accounts, pipeline with the CRM's stage
history — a stage skipped, one re-entered — leads as history and a call log), read through ``evenhand board show``:
the same figures a hand-built pipeline gives."""

from __future__ import annotations

import json
from pathlib import Path

from tests.files import write_csv
from tests.support import Run
from tests.test_own_company import MAPPINGS as COMPANY_MAPPINGS

TEAM = [["Anna Lee", "anna.lee@acme.com", "Cara Losch", "East"], ["Boris Faz", "boris.faz@acme.com", "Cara Losch",
                                                                    "East"]]
DEALS = [["D1", "Anna Lee", "Acme Customer 1", "Closed Won", "2025-02-20 12:00", "2025-03-20 12:00", 9000],
         ["D2", "Anna Lee", "Acme Customer 2", "Closed Lost", "2025-03-02 12:00", "2025-03-25 12:00", 0],
         ["D3", "Boris Faz", "Acme Customer 1", "Needs Analysis", "2025-03-01 12:00", "", 0]]
HISTORY = [["D1", "Prospecting", "2025-02-20 12:00"], ["D1", "Needs Analysis", "2025-03-05 12:00"],
           ["D1", "Proposal", "2025-03-08 12:00"], ["D1", "Needs Analysis", "2025-03-12 12:00"],  # back again
           ["D1", "Proposal", "2025-03-15 12:00"], ["D1", "Closed Won", "2025-03-20 12:00"],
           ["D2", "Prospecting", "2025-03-02 12:00"], ["D2", "Proposal", "2025-03-04 12:00"],  # needs analysis skipped
           ["D2", "Closed Lost", "2025-03-25 12:00"],
           ["D3", "Prospecting", "2025-03-01 12:00"], ["D3", "Needs Analysis", "2025-03-03 12:00"]]
LEADS = [["L1", "Prospect 1", "2025-03-10 10:00", "anna.lee@acme.com", "+1 555 0101"],
         ["L2", "Prospect 2", "2025-03-11 10:00", "anna.lee@acme.com", "+1 555 0102"],
         ["L3", "Prospect 3", "2025-02-10 10:00", "anna.lee@acme.com", "+1 555 0103"]]
CALLS = [["C1", "anna.lee@acme.com", "+15550101", "2025-03-10 12:00", "0:03:00", "Outbound"],
         ["C2", "anna.lee@acme.com", "+15550103", "2025-02-10 10:30", "0:01:00", "Outbound"],
         ["C3", "anna.lee@acme.com", "+15550102", "2025-03-11 11:00", "0:01:00", "Inbound"]]  # no response
STAGES = "{Prospecting: qualification, Needs Analysis: needs_analysis, Proposal: proposal, Closed Won: won, " \
         "Closed Lost: lost}"
MAPPINGS = {
    "team": COMPANY_MAPPINGS["team"],
    "deals": f"""
fields:
  source: {{value: crm}}
  external_id: id
  owner: agent
  account_name: account
  stage: {{column: stage, map: {STAGES}}}
  created_at: created
  closed_at: closed
  amount: amount
timezone: UTC
""",
    "history": f"""
fields:
  opportunity: id
  to_stage: {{column: stage, map: {STAGES}}}
  changed_at: at
timezone: UTC
""",
    "leads": """
fields:
  source: {value: web}
  external_id: id
  company: company
  created_at: created
  owner: owner
  phone: phone
timezone: UTC
""",
    "calls": """
fields:
  source_system: {value: telephony}
  external_id: id
  type: {value: call}
  rep: agent
  phone: phone
  occurred_at: at
  duration: duration
  direction: {column: direction, case: lower}
timezone: UTC
""",
}


def _files(folder: Path) -> dict[str, Path]:
    for kind, text in MAPPINGS.items():
        (folder / f"{kind}.yaml").write_text(text, encoding="utf-8")
    return {"team": write_csv(folder / "team.csv", ["sales_agent", "email", "manager", "regional_office"], TEAM),
            "deals": write_csv(folder / "deals.csv", ["id", "agent", "account", "stage", "created", "closed",
                                                      "amount"], DEALS),
            "history": write_csv(folder / "history.csv", ["id", "stage", "at"], HISTORY),
            "leads": write_csv(folder / "leads.csv", ["id", "company", "created", "owner", "phone"], LEADS),
            "calls": write_csv(folder / "calls.csv", ["id", "agent", "phone", "at", "duration", "direction"], CALLS)}


def _import(run: Run, folder: Path, *args: str) -> None:
    result = run("import", *args)
    assert result.exit_code == 0, result.output


def test_the_board_of_a_company_imported_from_its_exports(run: Run, tmp_path: Path) -> None:
    files = _files(tmp_path)
    assert run("init", "--starter", "neutral").exit_code == 0
    _import(run, tmp_path, "org", str(files["team"]), "--mapping", str(tmp_path / "team.yaml"))
    _import(run, tmp_path, "opportunities", str(files["deals"]), "--mapping", str(tmp_path / "deals.yaml"),
            "--stages", str(files["history"]), "--stages-mapping", str(tmp_path / "history.yaml"))
    _import(run, tmp_path, "leads", str(files["leads"]), "--mapping", str(tmp_path / "leads.yaml"), "--history")
    _import(run, tmp_path, "activities", str(files["calls"]), "--mapping", str(tmp_path / "calls.yaml"))
    shown = run("board", "show", "--period", "2025-03", "--json")
    assert shown.exit_code == 0, shown.output
    board = json.loads(shown.stdout)
    now, before = board["overall"]["current"], board["overall"]["previous"]
    assert {s: (t["count"], t["median"]) for s, t in now["time_in_stage"].items()} == {
        "qualification": (3, 2.0), "needs_analysis": (2, 3.0), "proposal": (3, 5.0), "negotiation": (0, None)}
    assert {s: (c["entered"], c["advanced"], c["lost"]) for s, c in now["conversion"].items()} == {
        "qualification": (2, 2, 0), "needs_analysis": (2, 1, 0), "proposal": (2, 1, 1), "negotiation": (0, 0, 0)}
    assert now["stuck"]["needs_analysis"] == [0, 0, 1, 0, 0]  # D3, 28 days in needs analysis
    assert now["cycle"] == {"count": 1, "median": 28.0, "p90": 28.0}
    assert now["first_response"]["buckets"] == [0, 1, 0, 0, 0, 0, 1]  # L1 in 2 h; L2 only called in
    assert before["first_response"]["buckets"] == [1, 0, 0, 0, 0, 0, 0]
    assert before["stuck"]["qualification"] == [0, 1, 0, 0, 0]  # D1, 8 days in qualification when February ended
    assert [(r["rep"], sum(r["current"]["stuck"]["needs_analysis"])) for r in board["reps"]] == [
        ("Anna Lee", 0), ("Boris Faz", 1)]
    assert "share_on_time" in board["compliance"]["current"]["overall"]
    table = run("board", "show", "--period", "2025-03", "--team", "nowhere")
    assert table.exit_code == 1 and "No team nowhere." in table.output
    printed = run("board", "show", "--period", "2025-03")
    assert printed.exit_code == 0 and "Lead-to-won cycle: 1 won, median 28 days" in " ".join(printed.output.split())
