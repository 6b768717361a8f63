"""The timeline a lead's and a deal's page read: which activities belong (a lead's and its deals'; a deal's and its
lead's from before it), newest first, by source system, only what the viewer reads, in the viewer's zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from evenhand.activities import service
from evenhand.auth.service import principal_for
from evenhand.db import session_scope
from evenhand.models import ActivityType, Role, SourceSystem, User
from tests.builders import T0, make_activity, make_lead, make_opportunity, make_team, make_user


@dataclass(frozen=True)
class Work:
    lead: int
    deal: int
    rep: int
    boss: int
    outsider: int


@pytest.fixture
def work(engine: Engine) -> Work:
    """A lead worked by a call and a WeCom chat before it became a deal at T0 + 10 h; then a note on the lead alone,
    an e-mail on the deal, and a call on another lead (belongs to neither)."""
    with session_scope(engine) as session:
        boss = make_user(session, username="boss", role=Role.SUPERVISOR, timezone="Europe/London")
        rep = make_user(session, username="rep", display_name="张伟", team=make_team(session, supervisor=boss))
        outsider = make_user(session, username="outsider", team=make_team(session))
        lead, other = make_lead(session, owner=rep), make_lead(session, owner=rep)
        deal = make_opportunity(session, owner=rep, lead=lead, created_at=T0 + timedelta(hours=10))
        for key, hours, source, kind, extra in (
                ("call-before", 1, SourceSystem.TELEPHONY, ActivityType.CALL, {"lead": lead}),
                ("chat-before", 2, SourceSystem.WECOM, ActivityType.MESSAGE, {"lead": lead, "message_count": 9}),
                ("note-after", 12, SourceSystem.CRM, ActivityType.NOTE, {"lead": lead, "body": "拜访客户"}),
                ("mail-deal", 13, SourceSystem.OUTLOOK, ActivityType.EMAIL,
                 {"lead": lead, "opportunity_id": deal.id, "attachment_count": 1}),
                ("call-other", 14, SourceSystem.TELEPHONY, ActivityType.CALL, {"lead": other})):
            make_activity(session, rep=rep, external_id=key, source_system=source, type=kind,
                          occurred_at=T0 + timedelta(hours=hours), **extra)
        return Work(lead.id, deal.id, rep.id, boss.id, outsider.id)


def keys(timeline: service.Timeline | None) -> list[str]:
    assert timeline is not None
    return [line.activity.external_id for line in timeline.lines]


def test_a_lead_shows_its_own_and_its_deals_activities_newest_first(engine: Engine, work: Work) -> None:
    with session_scope(engine, readonly=True) as session:
        boss = principal_for(session, session.get_one(User, work.boss))
        seen = service.lead_timeline(session, boss, work.lead)
        assert keys(seen) == ["mail-deal", "note-after", "chat-before", "call-before"]
        assert seen is not None and seen.by_source == {SourceSystem.OUTLOOK: 1, SourceSystem.CRM: 1,
                                                      SourceSystem.WECOM: 1, SourceSystem.TELEPHONY: 1}
        assert seen.zone == ZoneInfo("Europe/London")  # the viewer's own zone
        assert {line.rep for line in seen.lines} == {"张伟"}
        assert keys(service.lead_timeline(session, boss, work.lead, source=SourceSystem.WECOM)) == ["chat-before"]


def test_a_deal_shows_its_own_and_its_leads_activities_from_before_it(engine: Engine, work: Work) -> None:
    with session_scope(engine, readonly=True) as session:
        rep = principal_for(session, session.get_one(User, work.rep))
        assert keys(service.deal_timeline(session, rep, work.deal)) == ["mail-deal", "chat-before", "call-before"]


def test_only_what_the_viewer_reads(engine: Engine, work: Work) -> None:
    with session_scope(engine, readonly=True) as session:
        outsider = principal_for(session, session.get_one(User, work.outsider))
        assert service.lead_timeline(session, outsider, work.lead) is None
        assert service.deal_timeline(session, outsider, work.deal) is None
        assert service.deal_timeline(session, outsider, 999_999) is None
