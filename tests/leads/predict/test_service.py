"""Training from evenhand's own history, versioning, and loading the active model — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from evenhand.db import session_scope
from evenhand.leads.predict import service, synthetic
from evenhand.leads.predict.data import LEAD_FEATURES, Dataset, from_table
from evenhand.leads.predict.model import fit
from evenhand.models import BehaviourEvent, EventKind, Lead, LeadStatus, PredictiveModelVersion
from tests.builders import make_lead
from tests.support import audit_actions

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
LEAKY = {"owner_id", "status", "score", "score_points", "score_probability", "assigned_at", "first_response_at",
         "closed_at", "last_event_at", "product_line_id"}


def _lead(session: Session, *, status: LeadStatus, days_old: float, **fields: Any) -> Lead:
    defaults: dict[str, Any] = {"industry": "金融", "region": "east", "title": "CIO", "company_size": 200,
                                   "email": "li@acme.cn", "first_response_at": NOW, "page_views": 40}
    return make_lead(session, status=status, created_at=NOW - timedelta(days=days_old), **{**defaults, **fields})


def _event(session: Session, lead: Lead, kind: EventKind, after: timedelta, dwell: int | None = None) -> None:
    session.add(BehaviourEvent(lead_id=lead.id, kind=kind, occurred_at=lead.created_at + after, dwell_seconds=dwell))


class TestHistory:
    def test_outcomes_are_known_for_converted_disqualified_and_old_open_leads_only(self, engine: Engine) -> None:
        with session_scope(engine) as session:
            won = _lead(session, status=LeadStatus.CONVERTED, days_old=5)
            dropped = _lead(session, status=LeadStatus.DISQUALIFIED, days_old=3)
            stale = _lead(session, status=LeadStatus.CONTACTED, days_old=61)
            _lead(session, status=LeadStatus.NEW, days_old=10)
        with session_scope(engine, readonly=True) as session:
            data = service.history_dataset(session, horizon_days=60, now=NOW)
        assert dict(zip(data.ids, data.target.tolist(), strict=True)) == {str(won.id): 1, str(dropped.id): 0,
                                                                          str(stale.id): 0}

    def test_only_intake_time_facts_are_read(self, engine: Engine) -> None:
        with session_scope(engine) as session:
            lead = _lead(session, status=LeadStatus.CONVERTED, days_old=20, phone="13800000000")
            _event(session, lead, EventKind.PAGE_VIEW, -timedelta(days=2), dwell=30)
            _event(session, lead, EventKind.WHITEPAPER_DOWNLOAD, timedelta(minutes=5))
            _event(session, lead, EventKind.EMAIL_OPEN, timedelta(days=2))  # sales was working the lead by then
            _event(session, lead, EventKind.PAGE_VIEW, timedelta(days=3), dwell=600)
        with session_scope(engine, readonly=True) as session:
            [row] = service.intake_rows(session, [lead.id])
            data = service.history_dataset(session, now=NOW)
        assert not LEAKY & set(row)
        assert list(data.columns) == list(LEAD_FEATURES)
        intake = {k: data.columns[k][0] for k in ("page_views", "dwell_seconds", "downloads", "email_opens",
                                                  "has_phone", "email_kind")}
        assert intake == {"page_views": 1, "dwell_seconds": 30, "downloads": 1, "email_opens": 0,
                          "has_phone": "yes", "email_kind": "company"}


def _small_export() -> Dataset:
    header, rows = synthetic.lead_export(600, seed=3)
    return from_table(header, rows, target="Converted", id_column="Prospect ID", description="synthetic 600")


class TestVersions:
    @pytest.mark.slow
    def test_train_stores_the_only_active_version_and_load_active_round_trips_it(self, engine: Engine) -> None:
        data = _small_export()
        with session_scope(engine, readonly=True) as session:
            assert service.load_active(session) is None
        with session_scope(engine) as session:
            first = service.train(session, data, seed=1, author_id=None)
        with session_scope(engine) as session:
            second = service.train(session, data, seed=1)
        with session_scope(engine, readonly=True) as session:
            active = service.load_active(session)
            flags = session.execute(select(PredictiveModelVersion.version, PredictiveModelVersion.active)
                                    .order_by(PredictiveModelVersion.version)).tuples().all()
        assert (first.version, second.version, flags) == (1, 2, [(1, False), (2, True)])
        assert active is not None and active.version == 2 and active.trained_on == "synthetic 600"
        assert {"auc", "brier", "n_train", "n_test", "baselines"} <= set(active.metrics)
        _, rows = synthetic.lead_export(40, seed=9)
        assert np.array_equal(service.predict(active.model, rows), fit(data, seed=1).predict_proba(rows))
        assert [a for a, _, _ in audit_actions(engine)] == ["scoring.predictive_model_trained"] * 2

    def test_a_model_trained_on_history_scores_and_explains_orm_leads(self, engine: Engine) -> None:
        with session_scope(engine) as session:
            for i in range(80):
                won = i % 10 < (7 if i < 40 else 1)
                _lead(session, status=LeadStatus.CONVERTED if won else LeadStatus.DISQUALIFIED, days_old=100 - i,
                      industry="金融" if i < 40 else "零售", company_size=50 + i)
            service.train(session, service.history_dataset(session, now=NOW), seed=2)
        with session_scope(engine, readonly=True) as session:
            active = service.load_active(session)
            leads = list(session.scalars(select(Lead).order_by(Lead.id)))
        assert active is not None and active.model.origin == "leads"
        finance, retail = service.predict(active.model, [leads[0], leads[-1]])
        assert finance > retail
        # Half the leads are 金融 and half 零售; the tie goes to 金融 as the typical value, so 零售 explains down.
        assert "industry" in [c.feature for c in service.explain(active.model, leads[-1]) if c.delta < 0]
