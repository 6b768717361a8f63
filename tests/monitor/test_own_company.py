"""KPI monitoring on a company built from its own exports: a sales-team sheet and four months of leads with their
outcomes and first responses, imported as history. Web leads stop converting after a landing-page change the
company registered; the scan finds the conversion drop on its own, names the web channel, and links the change
(R4.1–R4.3, R4.6 on own data)."""

from __future__ import annotations

import json
import random
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest

from tests.files import write_csv
from tests.support import Run

DAY0 = date(2025, 3, 3)  # a Monday
DAYS = 126
SHIFT = 84  # from this day on web leads convert at a fifth of their old rate
CHANNELS = (("Web", 0.40), ("Google", 0.35), ("Referral", 0.25))
AGENTS = [f"Agent {n}" for n in range(12)]
MANAGERS = {"North": "Nora Manager", "South": "Sam Manager"}

TEAM_MAPPING = """
fields:
  display_name: sales_agent
  email: email
  manager_name: manager
  team: regional_office
"""
LEAD_MAPPING = """
fields:
  external_id: Lead Number
  company: Company
  source: {column: Lead Source, case: lower}
  outcome: {column: Status, map: {Won: converted, Lost: disqualified, Open: open}}
  outcome_at: Closed On
  created_at: Created On
  first_response_at: First Response
  owner: Owner Email
timezone: Asia/Shanghai
"""


def email(agent: str) -> str:
    return agent.lower().replace(" ", ".") + "@own.example"


def stamp(moment: datetime) -> str:
    return moment.isoformat(sep=" ", timespec="minutes")


def lead_rows(end: datetime) -> list[list[object]]:
    rng = random.Random(84)
    rows: list[list[object]] = []
    for day in range(DAYS):
        on = DAY0 + timedelta(days=day)
        for k in range(36 if on.weekday() < 5 else 6):
            channel = rng.choices([c for c, _ in CHANNELS], [w for _, w in CHANNELS])[0]
            rate = 0.03 if channel == "Web" and day >= SHIFT else 0.15
            created = datetime.combine(on, time(9)) + timedelta(minutes=rng.randrange(0, 540))
            response = created + timedelta(hours=rng.lognormvariate(0.2, 0.6))
            won = rng.random() < rate
            closed = created + timedelta(days=rng.uniform(2, 12) if won else rng.uniform(3, 15))
            status = ("Won" if won else "Lost") if closed <= end else "Open"
            rows.append([f"L{day:03d}{k:02d}", f"Prospect {day}-{k}", channel, status,
                         stamp(closed) if status != "Open" else "", stamp(created), stamp(response),
                         email(AGENTS[(day * 7 + k) % len(AGENTS)])])
    return rows


@pytest.fixture
def exported(tmp_path: Path) -> dict[str, Path]:
    end = datetime.combine(DAY0 + timedelta(days=DAYS - 1), time(18))
    team = [[agent, email(agent), list(MANAGERS.values())[n % 2], list(MANAGERS)[n % 2]]
            for n, agent in enumerate(AGENTS)]
    (tmp_path / "team.yaml").write_text(TEAM_MAPPING, encoding="utf-8")
    (tmp_path / "leads.yaml").write_text(LEAD_MAPPING, encoding="utf-8")
    return {"team": write_csv(tmp_path / "team.csv", ["sales_agent", "email", "manager", "regional_office"], team),
            "leads": write_csv(tmp_path / "leads.csv", ["Lead Number", "Company", "Lead Source", "Status", "Closed On",
                                                        "Created On", "First Response", "Owner Email"],
                               lead_rows(end))}


def import_history(run: Run, exported: dict[str, Path], mappings: Path) -> None:
    """A new database with the company's team sheet and its leads imported as history (``team.yaml`` and
    ``leads.yaml`` in ``mappings``)."""
    assert run("init", "--starter", "neutral").exit_code == 0
    for kind, extra in (("org", ()), ("leads", ("--history",))):
        name = "team" if kind == "org" else "leads"
        done = run("import", kind, str(exported[name]), "--mapping", str(mappings / f"{name}.yaml"), *extra)
        assert done.exit_code == 0, done.output


def test_the_scan_finds_a_channel_shift_in_a_company_s_own_history(run: Run, exported: dict[str, Path],
                                                                    tmp_path: Path) -> None:
    import_history(run, exported, tmp_path)
    shift = DAY0 + timedelta(days=SHIFT)
    added = run("changes", "add", "--title", "Landing page redesign: shorter web form", "--kind", "release",
                "--system", "website", "--effective-at", f"{shift - timedelta(days=1)}T20:00", "--json")
    assert added.exit_code == 0, added.output
    change_id = json.loads(added.output)["id"]
    last = DAY0 + timedelta(days=DAYS - 1)
    refreshed = run("monitor", "refresh", "--until", last.isoformat(), "--json")
    assert refreshed.exit_code == 0, refreshed.output
    scanned = run("monitor", "scan", "--until", last.isoformat(), "--json")
    assert scanned.exit_code == 0, scanned.output
    found = json.loads(scanned.output)["anomalies"]
    drops = [a for a in found if a["kpi"] == "lead_conversion" and a["kind"] == "statistical"]
    assert drops, [(a["kpi"], a["kind"], a["started"]) for a in found]
    drop = drops[0]
    assert drop["direction"] == "down"
    assert shift - timedelta(days=7) <= date.fromisoformat(drop["started"]) <= shift + timedelta(days=7), drop
    assert date.fromisoformat(drop["detected"]) <= shift + timedelta(days=28), drop  # a third of the leads, one a day
    top = drop["dimensions"][0]
    assert top["dimension"] == "channel" and top["elements"][0]["value"] == "web", drop["dimensions"]
    assert change_id in [c["id"] for c in drop["changes"]], (drop["started"], drop["changes"])
    steady = {a["kpi"] for a in found if a["kind"] == "statistical"} - {"lead_conversion"}
    assert not steady & {"first_response_mean", "first_response_p50", "lead_volume"}, steady
