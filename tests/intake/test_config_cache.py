"""What the intake path keeps between transactions (``kit.revision``) is never older than the database: after a
change to the roster, a policy, a grant, the scoring model, the regions or the channels, the next intake decides
with it. Time moves the roster without any change: a grant stops at its expiry, leave starts on its first day.
And a routed intake changes none of it, so the next one finds it kept and reads none of those tables."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, event, select

from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.errors import Invalid
from evenhand.intake import flows as intake_flows
from evenhand.kit import revision
from evenhand.kit.clock import utcnow
from evenhand.leads import scoring_service
from evenhand.leads import service as lead_service
from evenhand.leads.schemas import LeadCreate
from evenhand.models import (
    KEY_ACCOUNT_GRANT,
    Channel,
    Lead,
    Leave,
    Notification,
    NotifyEndpoint,
    Presence,
    Region,
    RoutingDecision,
    User,
    UserGrant,
)
from evenhand.routing import policy_versions
from evenhand.routing.router import route
from tests.builders import build_online_team
from tests.routing.factory import policy_text

KEY_ACCOUNTS = {"id": "ka", "key_account": True, "condition": "lead.company_size != null && lead.company_size >= 300"}
BIG, SMALL = 500, 20


def company(engine: Engine, *pools: dict[str, object]) -> tuple[int, int]:
    """Two online reps in one team, always within their hours, routed by a policy of ``pools`` (default: one
    pool of everyone)."""
    with session_scope(engine) as session:
        a, b = build_online_team(session, reps=2, max_open_leads=100, daily_lead_cap=100,
                                 monthly_quota=Decimal(100_000))
        policy_versions.save(session, policy_text(list(pools) or None), author=None)
        session.flush()
        return a.id, b.id


class Door:
    """Leads through ``intake.flows.take_in``, one transaction each."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.n = engine, 0

    def take(self, *, size: int = SMALL, region: str = "east") -> RoutingDecision:
        self.n += 1
        row = LeadCreate(source="website", external_id=f"c-{self.n}", company=f"公司{self.n}", region=region,
                         company_size=size)
        with session_scope(self.engine) as session:
            [(_, decision)] = intake_flows.take_in(session, [row], actor=None, dedup=[])
            assert decision is not None
            return decision

    def reps(self, count: int, **fields: object) -> list[int | None]:
        return [self.take(**fields).rep_id for _ in range(count)]  # type: ignore[arg-type]


@pytest.fixture
def door(engine: Engine) -> Door:
    return Door(engine)


def test_a_rep_going_offline_gets_nothing_from_the_next_intake(engine: Engine, door: Door) -> None:
    a, b = company(engine)
    assert set(door.reps(2)) == {a, b}
    with session_scope(engine) as session:
        session.get_one(User, a).presence = Presence.OFFLINE
    assert door.reps(3) == [b, b, b]


def test_a_new_policy_version_routes_the_next_intake(engine: Engine, door: Door) -> None:
    company(engine)
    first = door.take().policy_version
    with session_scope(engine) as session:
        saved = policy_versions.save(session, policy_text([{"id": "everyone"}]), author=None).version
    later = door.take()
    assert saved > first and (later.policy_version, later.pool_id) == (saved, "everyone")


def test_a_grant_opens_the_key_account_pool_at_the_next_intake(engine: Engine, door: Door) -> None:
    a, _ = company(engine, KEY_ACCOUNTS, {"id": "all"})
    held = door.take(size=BIG)
    assert (held.pool_id, held.rep_id) == ("ka", None)
    with session_scope(engine) as session:
        session.add(UserGrant(user_id=a, grant=KEY_ACCOUNT_GRANT))
    assert door.reps(2, size=BIG) == [a, a]


def test_a_rep_moved_to_another_region_leaves_the_pool_at_the_next_intake(engine: Engine, door: Door) -> None:
    """A pool's members are kept with the roster (``snapshot.Roster.uncounted``, ``kept_as``), for the lead's region."""
    a, b = company(engine, {"id": "by_region", "members": {"match_lead": ["region"]}})
    with session_scope(engine) as session:
        session.add(Region(code="south", name="华南"))
    assert set(door.reps(2)) == {a, b}
    assert door.reps(2, region="south") == [None, None]  # nobody works the south yet: held
    with session_scope(engine) as session:
        south = session.scalars(select(Region.id).where(Region.code == "south")).one()
        session.get_one(User, a).region_id = south
    assert door.reps(3) == [b, b, b]
    assert door.take(region="south").rep_id == a


def test_a_new_scoring_model_scores_the_next_intake(engine: Engine, door: Door) -> None:
    company(engine)
    door.take()
    with session_scope(engine) as session:
        saved = scoring_service.save(session, scoring_service.active(session).body, author=None).version
    with session_scope(engine, readonly=True) as session:
        assert session.get_one(Lead, door.take().lead_id).score_model_version == saved


def test_a_new_region_is_taken_at_the_next_intake(engine: Engine, door: Door) -> None:
    company(engine)
    with pytest.raises(Invalid):
        door.take(region="north")
    with session_scope(engine) as session:
        session.add(Region(code="north", name="华北"))
    assert door.take(region="north").lead_id


def test_a_new_channel_carries_the_next_message(engine: Engine, door: Door) -> None:
    company(engine)
    door.take()
    with session_scope(engine) as session:
        session.add(NotifyEndpoint(name="hook", channel=Channel.WEBHOOK, url="json://127.0.0.1:9/hook",
                                   is_default=True))
    lead_id = door.take().lead_id
    with session_scope(engine, readonly=True) as session:
        channels = set(session.scalars(select(Notification.channel).where(Notification.lead_id == lead_id)))
    assert channels == {Channel.IN_APP, Channel.WEBHOOK}


def _route_at(engine: Engine, now: datetime, **fields: int) -> tuple[int | None, revision.Revision | None]:
    """A new lead routed at ``now``, and the revision it was routed at."""
    with session_scope(engine) as session:
        row = LeadCreate(source="website", external_id=f"at-{now.isoformat()}-{fields}", company="定时公司",
                         region="east", company_size=fields.get("size", SMALL))
        [taken] = lead_service.intake_many(session, [row], actor=None, dedup=[])
        at = revision.current(session)
        return route(session, taken.lead, now=now).rep_id, at


def test_a_grant_stops_at_its_expiry_though_nothing_changed(engine: Engine) -> None:
    a, _ = company(engine, KEY_ACCOUNTS, {"id": "all"})
    ends = utcnow() + timedelta(hours=1)
    with session_scope(engine) as session:
        session.add(UserGrant(user_id=a, grant=KEY_ACCOUNT_GRANT, expires_at=ends))
    before, at = _route_at(engine, ends - timedelta(minutes=1), size=BIG)
    after, still = _route_at(engine, ends + timedelta(minutes=1), size=BIG)
    assert (before, after) == (a, None) and at == still


def test_leave_counts_from_its_first_day_though_nothing_changed(engine: Engine) -> None:
    a, b = company(engine)
    now = utcnow()
    starts = now.astimezone(get_settings().zone).date() + timedelta(days=3)  # beyond the days today's roster reads
    with session_scope(engine) as session:
        session.add(Leave(user_id=a, starts_on=starts, ends_on=starts + timedelta(days=2)))
    today = [_route_at(engine, now + timedelta(seconds=n)) for n in range(2)]
    later = [_route_at(engine, now + timedelta(days=3, seconds=n)) for n in range(2)]
    assert {rep for rep, _ in today} == {a, b} and [rep for rep, _ in later] == [b, b]
    assert len({at for _, at in today + later}) == 1


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def test_a_routed_intake_changes_nothing_kept_so_the_next_reads_none_of_it(engine: Engine, door: Door,
                                                                            statements: list[str]) -> None:
    company(engine)
    with session_scope(engine) as session:
        session.add(NotifyEndpoint(name="hook", channel=Channel.WEBHOOK, url="json://127.0.0.1:9/hook",
                                   is_default=True))
    door.take()  # installs the shipped scoring model: kept from the next intake on
    door.take()
    with session_scope(engine, readonly=True) as session:
        kept = revision.current(session)
    statements.clear()
    door.take()
    with session_scope(engine, readonly=True) as session:
        assert revision.current(session) == kept
    read = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    for table in ("routing_policies", "canaries", "scoring_models", "regions", "teams", "user_grants", "leaves",
                  "user_product_lines", "notify_endpoints", "notify_preferences"):
        assert not [s for s in read if f"FROM {table}" in s or f"JOIN {table}" in s], table
