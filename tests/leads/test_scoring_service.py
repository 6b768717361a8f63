"""Scoring models as versioned data, and scores stored with their explanation (R1.1)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from evenhand.db import session_scope
from evenhand.errors import Invalid
from evenhand.kit.clock import utcnow
from evenhand.leads import scoring_bulk, scoring_service
from evenhand.leads.predict import service as predict_service
from evenhand.leads.schemas import EventCreate, LeadCreate
from evenhand.leads.scoring.schema import default_text
from evenhand.leads.service import intake, record_events
from evenhand.models import EventKind, Lead, LeadStatus, ScoringModelVersion
from tests.builders import Org
from tests.support import audit_actions, error_of, row_counts

SMALL = """
name: 小模型
groups:
  fit:
    cap: 60
    rules:
      - {type: industry, in: [制造业], points: 40, label: "行业：制造业"}
      - {type: region, in: [east], points: 30, label: "区域：华东"}
  behaviour:
    cap: 30
    half_life_days: 7
    rules:
      - {type: whitepaper_download, points: 20, label: 下载白皮书}
"""


def new_lead(session: Session, n: int, **extra: object) -> Lead:
    fields = {"source": "website", "external_id": f"S-{n}", "company": f"公司{n}", "industry": "制造业",
              "region": "east", **extra}
    return intake(session, LeadCreate.model_validate(fields), actor=None, dedup=[]).lead


def test_the_default_model_is_installed_once_as_version_one(engine: Engine) -> None:
    with session_scope(engine) as session:
        first = scoring_service.active(session)
        assert (first.version, first.body) == (1, default_text())
    with session_scope(engine) as session:
        assert scoring_service.active(session).id == first.id
        assert len(scoring_service.versions(session)) == 1


def test_saving_versions_activates_the_new_one_and_audits_the_diff(engine: Engine) -> None:
    with session_scope(engine) as session:
        scoring_service.active(session)
        saved = scoring_service.save(session, SMALL, author=None, note="仅保留行业与区域")
    assert saved.version == 2
    with session_scope(engine, readonly=True) as session:
        actives = session.scalars(select(ScoringModelVersion.version).where(ScoringModelVersion.active)).all()
        assert actives == [2]
    (action, subject, _), = audit_actions(engine)[-1:]
    assert (action, subject) == ("scoring.model_saved", "2")


def test_an_invalid_model_names_path_and_line_and_saves_nothing(engine: Engine) -> None:
    with session_scope(engine) as session:
        scoring_service.active(session)
    before = row_counts(engine)
    broken = SMALL.replace("points: 30", "points: lots")
    with pytest.raises(Invalid) as caught, session_scope(engine) as session:
        scoring_service.save(session, broken, author=None)
    assert caught.value.field == "groups.fit.rules.1.points"
    assert caught.value.details and caught.value.details[0]["line"] == 8
    assert row_counts(engine) == before


def test_scores_keep_the_version_and_labels_they_were_given_with(engine: Engine) -> None:
    with session_scope(engine) as session:
        scoring_service.save(session, SMALL, author=None)
        lead = new_lead(session, 1)
        assert (lead.score, lead.score_model_version) == (60, 2)  # 40 + 30 capped at 60
        scoring_service.save(session, SMALL.replace("points: 40", "points: 10"), author=None)
        lines = scoring_service.explanation(session, lead)
    assert [(line["label"], line["points"]) for line in lines[:2]] == [("行业：制造业", 40.0), ("区域：华东", 30.0)]
    assert (lines[2]["kind"], lines[2]["points"]) == ("cap", -10.0)


def test_events_raise_the_score_and_decay_with_age(engine: Engine) -> None:
    with session_scope(engine) as session:
        scoring_service.save(session, SMALL, author=None)
        lead = new_lead(session, 1, region="north")
        assert lead.score == 40
        record_events(session, lead, [EventCreate(kind=EventKind.WHITEPAPER_DOWNLOAD,
                                                  occurred_at=utcnow() - timedelta(days=7))])
        assert lead.score == 50  # 20 points, one half-life old


def test_bulk_rescoring_matches_scoring_one_by_one(engine: Engine) -> None:
    now = utcnow()
    with session_scope(engine) as session:
        leads = [new_lead(session, n, company_size=50 * n, industry=("制造业", "金融", None)[n % 3],
                          region=("east", "south", None)[n % 3], title=("总监", "采购经理", None)[n % 3])
                 for n in range(1, 40)]
        for n, lead in enumerate(leads):
            record_events(session, lead, [EventCreate(kind=EventKind.PAGE_VIEW, dwell_seconds=30 * n,
                                                      occurred_at=now - timedelta(days=n))] * (n % 4))
        scoring_service.score_leads(session, leads, now=now)
        one_by_one = {lead.id: (lead.score, lead.score_points) for lead in leads}
        assert all(points for _, points in one_by_one.values())
    with session_scope(engine) as session:
        count, version = scoring_bulk.rescore_all(session, now=now)
    assert (count, version) == (39, 1)
    with session_scope(engine, readonly=True) as session:
        bulk = {lead.id: (lead.score, lead.score_points) for lead in session.scalars(select(Lead))}
    assert bulk == one_by_one


def test_preview_compares_the_candidate_with_the_active_model(engine: Engine) -> None:
    with session_scope(engine) as session:
        scoring_service.save(session, SMALL, author=None)
        for n in range(5):
            new_lead(session, n)
        candidate = scoring_service.validate(SMALL.replace("points: 40", "points: 10"))
        result = scoring_bulk.preview(session, candidate, since=utcnow() - timedelta(days=30))
    assert result["leads"] == 5 and result["changed"] == 5
    assert result["current"]["histogram"][6] == 5 and result["candidate"]["histogram"][4] == 5  # 60 → 40


def test_blending_the_predictive_model_moves_the_score_and_says_so(engine: Engine) -> None:
    blended = SMALL + "blend: {predictive_weight: 0.5}\n"
    with session_scope(engine) as session:
        history = [new_lead(session, n, industry=("制造业", "教育")[n % 2], company_size=100 + n) for n in range(200)]
        for lead in history:
            won = lead.industry == "制造业" and lead.id % 3
            lead.status = LeadStatus.CONVERTED if won else LeadStatus.DISQUALIFIED
        session.flush()
        predict_service.train(session, predict_service.history_dataset(session), seed=1)
        scoring_service.save(session, blended, author=None)
        lead = new_lead(session, 999)
        lines = scoring_service.explanation(session, lead)
        view = scoring_service.predictive_view(session, lead)
        other = scoring_service.predictive_view(session, new_lead(session, 1000, industry="教育"))
    assert view is not None and other is not None and 0 < view["probability"] <= 1
    assert view["probability"] > other["probability"]  # 制造业 converted in this history, 教育 did not
    assert "industry" in [c["feature"] for c in view["up"]] + [c["feature"] for c in other["down"]]
    blend = [line for line in lines if line["kind"] == "blend"]
    assert len(blend) == 1 and "%" in blend[0]["label"]
    assert lead.score == round(sum(line["points"] for line in lines))
    assert not np.isclose(blend[0]["points"], 0)


def test_api_reads_validates_previews_and_saves(client: TestClient, org: Org) -> None:
    ops, rep = org.headers("ops"), org.headers("rep_n1")
    assert client.get("/api/v1/scoring/model", headers=rep).json()["version"] == 1
    check = client.post("/api/v1/scoring/validate", json={"body": "name: x\ngroups: {}\nbogus: 1\n"}, headers=ops)
    assert check.json()["valid"] is False and "bogus" in [p["field"] for p in check.json()["problems"]]
    assert client.put("/api/v1/scoring/model", json={"body": SMALL}, headers=rep).status_code == 403
    bad = client.put("/api/v1/scoring/model", json={"body": SMALL.replace("cap: 60", "cap: -5")}, headers=ops)
    assert bad.status_code == 422 and error_of(bad)["field"] == "groups.fit.cap"
    saved = client.put("/api/v1/scoring/model", json={"body": SMALL, "note": "试行"}, headers=ops)
    assert saved.status_code == 200 and saved.json()["version"] == 2
    versions = client.get("/api/v1/scoring/models", headers=rep).json()
    assert [(v["version"], v["active"]) for v in versions] == [(2, True), (1, False)]
    preview = client.post("/api/v1/scoring/preview", json={"body": SMALL, "days": 30}, headers=ops)
    assert preview.status_code == 200 and preview.json()["changed"] == 0
