"""Sending writes the inbox row and the outbox in the caller's transaction; acknowledgement stops the rest."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from evenhand.auth.service import create_token
from evenhand.db import session_scope
from evenhand.errors import NotFound
from evenhand.i18n import N_
from evenhand.kit.clock import utcnow
from evenhand.models import Channel, Lead, Notification, NotificationStatus, NotifyPreference, User
from evenhand.notify import service
from tests.notify.conftest import People
from tests.support import error_of


def rows(engine: Engine, **where: object) -> list[Notification]:
    with session_scope(engine, readonly=True) as session:
        stmt = select(Notification).filter_by(**where).order_by(Notification.id)
        return list(session.scalars(stmt))


def bearer(engine: Engine, user: User) -> dict[str, str]:
    with session_scope(engine) as session:
        return {"Authorization": f"Bearer {create_token(session, username=user.username, role=user.role)[0]}"}


def test_a_message_is_an_inbox_row_plus_one_outbox_row_per_channel(engine: Engine, people: People) -> None:
    with session_scope(engine) as session:
        lead = people.lead(session)
        message = service.lead_assigned(session, lead, people.rep.id, decision_id=7)
        lead_id, message_id = lead.id, message.id
    (inbox,) = rows(engine, channel=Channel.IN_APP)
    assert inbox.id == message_id and inbox.status is NotificationStatus.DELIVERED and inbox.lead_id == lead_id
    assert inbox.idempotency_key == f"lead_assigned:{lead_id}:7"
    assert inbox.title.startswith("新线索") or inbox.title.startswith("New lead")
    assert inbox.escalate_at is not None and inbox.escalate_at - inbox.created_at == timedelta(minutes=15)
    (hook,) = rows(engine, message_id=message_id)
    assert (hook.channel, hook.status, hook.escalation_step) == (Channel.WEBHOOK, NotificationStatus.PENDING, 0)
    assert (hook.title, hook.body, hook.link) == (inbox.title, inbox.body, f"/leads/{lead_id}")
    assert hook.target == people.endpoints["hook"].url and hook.next_attempt_at is not None


def test_the_same_key_sends_once(engine: Engine, people: People) -> None:
    with session_scope(engine) as session:
        lead = people.lead(session)
        first = service.lead_assigned(session, lead, people.rep.id, decision_id=1)
        again = service.lead_assigned(session, lead, people.rep.id, decision_id=1)
        assert first.id == again.id
    assert len(rows(engine)) == 2


def test_a_rolled_back_change_sends_nothing(engine: Engine, people: People) -> None:
    """The outbox is written in the caller's transaction: no change, no message."""
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        service.send(session, recipient_id=people.rep.id, kind="alert", title=N_("Leads"))
        raise RuntimeError("the change failed")
    assert rows(engine) == []


def test_unknown_recipients_are_refused_naming_the_field(engine: Engine, people: People) -> None:
    with pytest.raises(NotFound) as caught, session_scope(engine) as session:
        service.send(session, recipient_id=99_999, kind="alert", title=N_("Leads"))
    assert caught.value.field == "recipient_id"


def test_personal_choice_replaces_the_defaults_and_quiet_hours_hold_outside_channels(engine: Engine,
                                                                                       people: People) -> None:
    now = utcnow()
    start = (now + timedelta(hours=8) - timedelta(minutes=30)).strftime("%H:%M")  # Shanghai time, 30 min ago
    end = (now + timedelta(hours=8) + timedelta(hours=2)).strftime("%H:%M")
    with session_scope(engine) as session:
        session.add(NotifyPreference(user_id=people.rep.id, channels=["sms", "webhook"], personal={},
                                     quiet_start=start, quiet_end=end, updated_at=now))
        message = service.send(session, recipient_id=people.rep.id, kind="alert", title=N_("Leads"))
        message_id = message.id
    deliveries = rows(engine, message_id=message_id)
    assert [d.channel for d in deliveries] == [Channel.SMS, Channel.WEBHOOK]
    assert deliveries[0].target == "json://127.0.0.1:9/sms?:to=13900000002"
    for d in deliveries:
        assert d.next_attempt_at is not None and d.next_attempt_at > now + timedelta(minutes=89)
    assert rows(engine, id=message_id)[0].read_at is None  # the inbox itself is not held back


def test_a_channel_that_cannot_reach_the_person_fails_visibly_and_escalates_at_once(engine: Engine,
                                                                                     people: People) -> None:
    with session_scope(engine) as session:
        session.add(NotifyPreference(user_id=people.nophone.id, channels=["sms"], personal={}, updated_at=utcnow()))
        message = service.send(session, recipient_id=people.nophone.id, kind="alert", title=N_("Leads"))
        message_id, created = message.id, message.created_at
    (sms,) = rows(engine, message_id=message_id)
    assert sms.status is NotificationStatus.FAILED and sms.target is None
    assert sms.last_error == "The recipient has no phone, which the sms channel needs"
    (inbox,) = rows(engine, id=message_id)
    assert inbox.escalate_at == created  # not in 30 minutes: nothing is on its way


def test_opening_the_lead_acknowledges_only_for_its_owner(client: TestClient, engine: Engine, people: People) -> None:
    with session_scope(engine) as session:
        lead = people.lead(session)
        message = service.lead_assigned(session, lead, people.rep.id, decision_id=3)
        lead_id, message_id = lead.id, message.id
    assert client.get(f"/api/v1/leads/{lead_id}", headers=bearer(engine, people.boss)).status_code == 200
    assert rows(engine, id=message_id)[0].acknowledged_at is None  # the supervisor looking is not the rep
    assert client.get(f"/api/v1/leads/{lead_id}", headers=bearer(engine, people.rep)).status_code == 200
    inbox = rows(engine, id=message_id)[0]
    assert inbox.acknowledged_at is not None and inbox.read_at is not None and inbox.escalate_at is None
    (hook,) = rows(engine, message_id=message_id)
    assert hook.status is NotificationStatus.CANCELLED  # not sent: the rep already has it


def test_acknowledge_lead_skips_leads_that_changed_hands(engine: Engine, people: People) -> None:
    with session_scope(engine) as session:
        lead = people.lead(session)
        message = service.lead_assigned(session, lead, people.rep.id, decision_id=4)
        lead.owner_id = people.rep2.id
        lead_id, message_id = lead.id, message.id
    with session_scope(engine) as session:
        assert service.acknowledge_lead(session, lead_id, people.rep.id) == 0
        assert service.acknowledge_lead(session, lead_id, people.rep2.id) == 0
    assert rows(engine, id=message_id)[0].acknowledged_at is None


def test_inbox_api_lists_counts_reads_and_acknowledges(client: TestClient, engine: Engine, people: People) -> None:
    with session_scope(engine) as session:
        ids = [service.send(session, recipient_id=people.boss.id, kind="alert", title=N_("Leads")).id
               for _ in range(3)]
        other = service.send(session, recipient_id=people.rep.id, kind="alert", title=N_("Leads")).id
    boss = bearer(engine, people.boss)
    assert client.get("/api/v1/notifications/unread-count", headers=boss).json() == {"unread": 3}
    listed = client.get("/api/v1/notifications", headers=boss).json()
    assert [m["id"] for m in listed] == ids[::-1]
    assert client.post(f"/api/v1/notifications/{ids[0]}/read", headers=boss).json()["read_at"] is not None
    acked = client.post(f"/api/v1/notifications/{ids[1]}/ack", headers=boss).json()
    assert acked["acknowledged_at"] is not None and acked["read_at"] is not None
    assert client.get("/api/v1/notifications/unread-count", headers=boss).json() == {"unread": 1}
    assert [m["id"] for m in client.get("/api/v1/notifications?unread_only=true", headers=boss).json()] == [ids[2]]
    assert client.post("/api/v1/notifications/read-all", headers=boss).json() == {"unread": 0}
    refused = client.post(f"/api/v1/notifications/{other}/ack", headers=boss)
    assert refused.status_code == 404 and error_of(refused)["field"] == "notification_id"
    assert rows(engine, id=other)[0].acknowledged_at is None
    deliveries = client.get(f"/api/v1/notifications/{ids[2]}/deliveries", headers=boss).json()
    assert [d["channel"] for d in deliveries] == ["webhook"] and deliveries[0]["target"].startswith("json://")
    assert client.get(f"/api/v1/notifications/{other}/deliveries", headers=boss).status_code == 404


def test_acknowledging_an_alert_stops_its_pending_deliveries(engine: Engine, people: People) -> None:
    with session_scope(engine) as session:
        message_id = service.send(session, recipient_id=people.boss.id, kind="alert", title=N_("Leads")).id
    with session_scope(engine) as session:
        service.acknowledge(session, message_id, people.boss.id)
    assert [d.status for d in rows(engine, message_id=message_id)] == [NotificationStatus.CANCELLED]


def test_team_posts_go_to_the_supervisor_and_the_teams_group_channels(engine: Engine, people: People) -> None:
    from evenhand.models import NotifyEndpoint

    with session_scope(engine) as session:
        session.add(NotifyEndpoint(name="华东一组群", channel=Channel.DINGTALK, url="dingtalk://SECx@grouptoken/",
                                   team_id=people.team.id))
        session.flush()
        message = service.post_to_team(session, team_id=people.team.id, kind="fairness_report",
                                       title=N_("Leads"), key="fairness:2026-10:team")
        again = service.post_to_team(session, team_id=people.team.id, kind="fairness_report",
                                     title=N_("Leads"), key="fairness:2026-10:team")
        assert again.id == message.id and message.recipient_id == people.boss.id
        message_id = message.id
    assert sorted(d.channel.value for d in rows(engine, message_id=message_id)) == ["dingtalk", "webhook"]


def test_lead_rows_keep_working_for_history_without_an_outbox(engine: Engine, people: People) -> None:
    """Rows written before the outbox (and the demo's) have no message and are never picked up."""
    with session_scope(engine) as session:
        session.add(Notification(kind="lead_assigned", recipient_id=people.rep.id, channel=Channel.APP_PUSH,
                                 status=NotificationStatus.SENT, idempotency_key="lead_assigned:1:0:push",
                                 platform="android", app_version="3.2.0", sent_at=utcnow()))
    assert service.inbox.__name__ == "inbox"
    with session_scope(engine, readonly=True) as session:
        assert session.scalar(select(Lead.id).limit(1)) is None
        assert service.unread_count(session, people.rep.id) == 0
