"""Real parallel intake through two server processes on PostgreSQL: no lead routed twice, no cap
exceeded, and round-robin counts over always-available reps within one of each other (R1.2, R1.3)."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from evenhand.auth.service import create_token
from evenhand.db import make_engine, session_scope
from evenhand.kit import audit_check
from evenhand.migrate import upgrade
from evenhand.models import Lead, Role, RoutingDecision
from evenhand.org import service as org_service
from evenhand.org.schemas import UserCreate
from tests.builders import build_online_team
from tests.e2e.conftest import evenhand_serve
from tests.e2e.test_scale_out import pg_url  # noqa: F401  (fixture)

pytestmark = [pytest.mark.pg, pytest.mark.slow]
LEADS = 62
REPS = 4


def _company(url: str, cap: int) -> str:
    engine = make_engine(url)
    upgrade(engine)
    with session_scope(engine) as session:
        build_online_team(session, reps=REPS, display_name="销售{n}", reps_in_region=True, daily_lead_cap=cap)
        org_service.create_user(session, UserCreate(username="forms", display_name="表单", role=Role.OPS), actor=None)
        token, _ = create_token(session, username="forms", role=Role.OPS)
    engine.dispose()
    return token


@pytest.mark.parametrize("cap", [14, 100], ids=["caps-bite", "no-caps"])
def test_parallel_intake_on_two_processes(pg_url: str, tmp_path: Path, cap: int) -> None:  # noqa: F811
    """With a daily cap of 14, 4 reps take 56 leads and 6 wait; without, 62 leads split 16/16/15/15."""
    token = _company(pg_url, cap)
    with evenhand_serve(pg_url, tmp_path, workers=2) as base:
        def post(n: int) -> dict[str, object]:
            body = {"source": "website", "external_id": f"P-{n}", "company": f"华东公司{n}", "region": "east"}
            response = httpx.post(f"{base}/api/v1/leads", json=body, timeout=60,
                                  headers={"Authorization": f"Bearer {token}", "Connection": "close"})
            assert response.status_code == 201, response.text
            return response.json()["assignment"]  # type: ignore[no-any-return]

        with ThreadPoolExecutor(max_workers=8) as pool:
            assignments = list(pool.map(post, range(LEADS)))
    assigned = Counter(a["rep_id"] for a in assignments if a["outcome"] == "assigned")
    expected = min(LEADS, REPS * cap)
    assert sum(assigned.values()) == expected and max(assigned.values()) <= cap
    assert max(assigned.values()) - min(assigned.values()) <= 1
    assert sum(1 for a in assignments if a["outcome"] == "held") == LEADS - expected
    engine = make_engine(pg_url)
    with session_scope(engine, readonly=True) as session:
        per_lead = Counter(session.scalars(select(RoutingDecision.lead_id)))
        assert len(per_lead) == LEADS and set(per_lead.values()) == {1}  # no lead routed twice
        owners = Counter(session.scalars(select(Lead.owner_id).where(Lead.owner_id.is_not(None))))
        assert owners == assigned
        assert session.scalar(select(func.count()).select_from(Lead)) == LEADS
        assert audit_check.verify(session)[1] is None
    engine.dispose()
