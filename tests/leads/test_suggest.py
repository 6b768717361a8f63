"""``evenhand scoring suggest`` on a small company's own history, on SQLite and PostgreSQL: what it reads, what it
learns, and that ``scoring set`` takes the file as it is."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from evenhand.db import session_scope
from evenhand.kit.clock import utcnow
from evenhand.leads import scoring_service, scoring_suggest
from evenhand.leads.scoring import parse
from evenhand.models import BehaviourEvent, EventKind, Lead, LeadStatus
from tests.builders import make_lead
from tests.support import Run

INDUSTRIES = ("Widgets", "Gardening", "Bakery", "Plumbing")  # none of them known to the shipped model
SEED = 5


def build_company(session: Session, *, now: datetime, leads: int = 240, seed: int = SEED) -> list[Lead]:
    """Leads of the last ten months whose conversion depends on the industry (Widgets) and on whitepaper
    downloads before the lead came in. Converted leads also attend a webinar three days later: sales was
    working them by then, so it must teach nothing."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(leads):
        industry = INDUSTRIES[int(rng.integers(len(INDUSTRIES)))]
        downloads = int(rng.poisson(0.7))
        converted = rng.random() < 1 / (1 + math.exp(-(-1.6 + 2.2 * (industry == "Widgets") + 1.1 * downloads)))
        age = float(rng.uniform(5, 300))
        status = LeadStatus.CONVERTED if converted else LeadStatus.DISQUALIFIED if age < 61 else LeadStatus.CONTACTED
        lead = make_lead(session, status=status, created_at=now - timedelta(days=age), industry=industry,
                         company_size=120, title="Manager", email="buyer@example.com", phone="+1 555 0100")
        before = [lead.created_at - timedelta(hours=k + 1) for k in range(downloads)]
        session.add_all([BehaviourEvent(lead_id=lead.id, kind=EventKind.WHITEPAPER_DOWNLOAD, occurred_at=at)
                         for at in before])
        if converted:
            session.add(BehaviourEvent(lead_id=lead.id, kind=EventKind.WEBINAR,
                                       occurred_at=lead.created_at + timedelta(days=3)))
        out.append(lead)
    session.flush()
    return out


def rules_of(model: Any, kind: str) -> list[Any]:
    return [rule for group in model.groups.values() for rule in group.rules if rule.type == kind]


class TestReading:
    def test_the_outcome_and_the_intake_window_are_the_predictive_models(self, engine: Engine) -> None:
        now = utcnow()
        with session_scope(engine) as session:
            won = make_lead(session, status=LeadStatus.CONVERTED, created_at=now - timedelta(days=10))
            lost = make_lead(session, status=LeadStatus.DISQUALIFIED, created_at=now - timedelta(days=3))
            stale = make_lead(session, status=LeadStatus.CONTACTED, created_at=now - timedelta(days=90))
            make_lead(session, status=LeadStatus.NEW, created_at=now - timedelta(days=20))  # not known yet
            make_lead(session, status=LeadStatus.CONVERTED, created_at=now - timedelta(days=500))  # before the window
            for after in (timedelta(hours=-5), timedelta(minutes=5), timedelta(days=2)):
                session.add(BehaviourEvent(lead_id=won.id, kind=EventKind.EMAIL_CLICK,
                                           occurred_at=won.created_at + after))
        with session_scope(engine) as session:
            found = scoring_suggest.inputs(session, now=now, months=12, horizon_days=60)
        history = found.history
        assert history.outcome.tolist() == [1, 0, 0]
        assert history.leads.company_size.shape == (3,)
        assert history.events.lead.tolist() == [0, 0]  # the click two days after arrival is left out
        with session_scope(engine, readonly=True) as session:
            ids = [won.id, lost.id, stale.id]
            created = [session.get_one(Lead, i).created_at for i in ids]
        assert history.at.tolist() == [int(c.timestamp()) for c in created]
        assert found.active_version == 1

    def test_months_go_back_by_the_calendar(self) -> None:
        assert scoring_suggest.months_before(datetime(2026, 3, 31, 8), 1) == datetime(2026, 2, 28, 8)
        assert scoring_suggest.months_before(datetime(2026, 1, 15), 12) == datetime(2025, 1, 15)


class TestSuggestCommand:
    @pytest.fixture
    def company(self, engine: Engine) -> None:
        with session_scope(engine) as session:
            build_company(session, now=utcnow())

    def test_it_learns_the_industry_and_downloads_and_scoring_set_takes_the_file(
            self, run: Run, company: None, tmp_path: Path) -> None:
        out = tmp_path / "suggested.yaml"
        result = run("scoring", "suggest", "--json", "--out", str(out))
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert report["file"] == str(out) and out.exists()
        assert report["leads"] == 240 and report["n_test"] == 72 and report["seed"] == 42
        assert report["suggested_auc"] > 0.7 and report["suggested_auc"] > report["active_auc"]
        model = parse(out.read_text(encoding="utf-8"))
        industry = {value: rule.points for rule in rules_of(model, "industry") for value in rule.in_}
        assert industry["Widgets"] >= 15 and industry["Widgets"] == max(industry.values())
        assert max(rule.points for rule in rules_of(model, "industry")) <= 25
        assert rules_of(model, "whitepaper_download")[0].points >= 5
        assert not rules_of(model, "webinar")  # what happened after the lead came in teaches nothing
        saved = run("scoring", "set", str(out), "--note", "learned from our outcomes")
        assert saved.exit_code == 0, saved.output
        assert "Saved as version 2" in saved.stdout

    def test_the_default_file_goes_to_the_data_directory_and_the_figures_are_printed(
            self, run: Run, company: None, tmp_path: Path) -> None:
        result = run("scoring", "suggest", "--months", "6")
        assert result.exit_code == 0, result.output
        [written] = list(tmp_path.glob("suggested-model-*.yaml"))
        assert str(written) in result.stdout
        for text in ("ROC AUC", "Suggested model", "Active model (version 1)", "seed 42", "evenhand scoring set"):
            assert text in result.stdout

    def test_a_narrow_active_model_is_pointed_out(self, run: Run, engine: Engine, tmp_path: Path) -> None:
        with session_scope(engine) as session:
            build_company(session, now=utcnow())
            scoring_service.save(session, NARROW, author=None)
        result = run("scoring", "suggest", "--json", "--out", str(tmp_path / "s.yaml"))
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert report["active_spread"]["narrow"] and report["active_spread"]["share"] == 1.0
        assert not report["suggested_spread"]["narrow"]
        shown = run("scoring", "suggest", "--out", str(tmp_path / "t.yaml"))
        assert "100% of the leads score within 10 points (5–5)" in shown.stdout

    def test_too_few_outcomes_are_refused_with_the_counts(self, run: Run, engine: Engine, tmp_path: Path) -> None:
        with session_scope(engine) as session:
            build_company(session, now=utcnow(), leads=30)
        result = run("scoring", "suggest", "--out", str(tmp_path / "s.yaml"))
        assert result.exit_code == 1
        assert "30 with a known outcome" in result.output and "at least 50" in result.output
        assert "Traceback" not in result.output and not (tmp_path / "s.yaml").exists()


class TestEvaluatePointsToSuggest:
    def test_when_the_stored_scores_sit_in_a_narrow_band_evaluate_says_so(self, run: Run, engine: Engine) -> None:
        with session_scope(engine) as session:
            version = scoring_service.active(session).version
            for i, lead in enumerate(build_company(session, now=utcnow(), leads=80)):
                lead.score, lead.score_model_version = 40 + i % 5, version
        result = run("scoring", "evaluate")
        assert result.exit_code == 0, result.output
        assert "With the active rule model, 100% of the leads score within 10 points (40–44)" in result.stdout
        assert "Run 'evenhand scoring suggest'" in result.stdout
        report = json.loads(run("scoring", "evaluate", "--json").stdout)
        assert report["rule_scores"] == {"leads": 80, "low": 40, "high": 44, "share": 1.0, "narrow": True, "width": 10}

    def test_spread_out_scores_are_not_remarked_on(self, run: Run, engine: Engine) -> None:
        with session_scope(engine) as session:
            version = scoring_service.active(session).version
            for i, lead in enumerate(build_company(session, now=utcnow(), leads=80)):
                lead.score, lead.score_model_version = (i * 7) % 90, version
        result = run("scoring", "evaluate")
        assert result.exit_code == 0, result.output
        assert "scoring suggest" not in result.stdout


NARROW = """
name: narrow
groups:
  fit:
    rules:
      - {type: company_size, label: size, bands: [{min: 0, points: 5}]}
"""
