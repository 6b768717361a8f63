"""The lead reads the list and the lead pages share with the API, on both databases (who reads which lead
at all is tests/auth/test_visibility.py)."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.auth.service import principal_for
from evenhand.db import session_scope
from evenhand.leads import repository, service
from evenhand.leads.schemas import LeadFilter
from evenhand.models import BehaviourEvent, EventKind
from tests.builders import T0, Org, make_lead

ZONE = ZoneInfo("Asia/Shanghai")


def who(session: Session, org: Org, name: str) -> Principal:
    return principal_for(session, org.users[name])


def test_the_list_is_newest_first_with_owner_names_and_counts_past_its_limit(engine: Engine, org: Org) -> None:
    with session_scope(engine, readonly=True) as session:
        stmt = repository.listing(who(session, org, "sup_b"), LeadFilter(), ZONE)
        rows = repository.with_owner_names(session, stmt, limit=2)
        assert repository.count(session, stmt) == 4  # sup_b, rep_e1 (twice), rep_e2
        assert [(lead.id, owner) for lead, owner in rows] == [(org.leads[9].id, "Rep E1"), (org.leads[7].id, "Sup B")]


def test_the_list_counts_what_its_filters_keep(engine: Engine, org: Org) -> None:
    with session_scope(engine) as session:
        make_lead(session, owner=org.users["rep_n1"], source="wecom")
    with session_scope(engine, readonly=True) as session:
        stmt = repository.listing(who(session, org, "rep_n1"), LeadFilter(source="wecom"), ZONE)
        assert repository.count(session, stmt) == 1
        assert [owner for _, owner in repository.with_owner_names(session, stmt, limit=10)] == ["Rep N1"]


def test_an_unowned_lead_lists_without_an_owner(engine: Engine, org: Org) -> None:
    with session_scope(engine, readonly=True) as session:
        stmt = repository.listing(who(session, org, "admin"), LeadFilter(), ZONE)
        rows = dict(repository.with_owner_names(session, stmt, limit=100))
        assert rows[next(lead for lead in rows if lead.owner_id is None)] is None


def test_events_read_oldest_first_or_the_latest_first(engine: Engine, org: Org) -> None:
    lead_id = org.leads[0].id
    with session_scope(engine) as session:
        session.add_all([BehaviourEvent(lead_id=lead_id, kind=EventKind.PAGE_VIEW, occurred_at=T0 + timedelta(hours=h),
                                        detail=f"p{h}") for h in (2, 0, 1)])
    with session_scope(engine, readonly=True) as session:
        assert [e.detail for e in repository.events(session, lead_id)] == ["p0", "p1", "p2"]
        assert [e.detail for e in repository.events(session, lead_id, newest_first=True, limit=2)] == ["p2", "p1"]
        assert repository.events(session, org.leads[1].id) == []


def test_a_lead_view_is_there_only_for_whoever_may_read_the_lead(engine: Engine, org: Org) -> None:
    own, foreign = org.leads[0], org.leads[3]  # rep_n1's, rep_e1's
    with session_scope(engine, readonly=True) as session:
        view = service.lead_view(session, who(session, org, "rep_n1"), own.id)
        assert view is not None and (view.lead.id, view.owner, view.events) == (own.id, "Rep N1", [])
        assert service.lead_view(session, who(session, org, "rep_n1"), foreign.id) is None
        assert service.lead_view(session, who(session, org, "sup_b"), foreign.id) is not None
        assert service.lead_view(session, who(session, org, "auditor"), 10**9) is None


def test_companies_and_scores_and_every_source(engine: Engine, org: Org) -> None:
    with session_scope(engine) as session:
        scored = make_lead(session, source="wecom", score=88)
    with session_scope(engine, readonly=True) as session:
        found = repository.companies_and_scores(session, {scored.id, org.leads[0].id, 10**9})
        assert found == {scored.id: (scored.company, 88), org.leads[0].id: (org.leads[0].company, None)}
        assert repository.sources(session) == ["web", "wecom"]  # the filter offers every channel to everyone
