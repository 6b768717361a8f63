"""What a message needs of its recipient (language, zone, quiet hours, channels, addresses) is kept in process for
the configuration's revision: a change to the person, their preferences or the organisation's channels takes effect
at the next transaction (or at once in the transaction that makes it), and a warm send reads none of those tables.
The rows are written with Core statements: the same values as the model would write, a repeated key left as
stored."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, update

from evenhand.db import session_scope
from evenhand.errors import NotFound
from evenhand.i18n import N_
from evenhand.kit.clock import utcnow
from evenhand.models import Channel, Notification, NotificationStatus, NotifyEndpoint, NotifyPreference, User
from evenhand.notify import preferences, service
from tests.notify.conftest import People
from tests.support import statements


def rows(engine: Engine, **where: object) -> list[Notification]:
    with session_scope(engine, readonly=True) as session:
        return list(session.scalars(select(Notification).filter_by(**where).order_by(Notification.id)))


def alert(engine: Engine, recipient_id: int) -> int:
    with session_scope(engine) as session:
        return service.send(session, recipient_id=recipient_id, kind="alert", title=N_("Leads")).id


def test_a_warm_send_reads_neither_the_person_nor_their_settings(engine: Engine, people: People) -> None:
    alert(engine, people.rep.id)
    with statements(engine) as seen, session_scope(engine) as session:
        lead = people.lead(session)
        session.flush()
        seen.clear()
        [message_id] = service.leads_assigned(session, [(lead, people.rep.id, 5)])
    written = [s for s in seen if not s.startswith(("BEGIN", "COMMIT", "SELECT config_revision"))]
    assert [s.split(" (")[0] for s in written] == ["INSERT INTO notifications"] * 2  # the inbox row, the webhook's
    assert not any("users" in s.split(" WHERE")[0] or "notify_preferences" in s for s in seen)
    (inbox,) = rows(engine, id=message_id)
    assert inbox.idempotency_key == f"lead_assigned:{lead.id}:5" and inbox.recipient_id == people.rep.id


def test_a_changed_locale_is_used_from_the_next_transaction(engine: Engine, people: People) -> None:
    with session_scope(engine) as session:
        session.execute(update(User).where(User.id == people.rep.id).values(locale="en"))
    first = alert(engine, people.rep.id)
    with session_scope(engine) as session:
        session.execute(update(User).where(User.id == people.rep.id).values(locale="zh-CN"))
    second = alert(engine, people.rep.id)
    assert [rows(engine, id=i)[0].title for i in (first, second)] == ["Leads", "线索"]


def test_a_change_counts_at_once_in_the_transaction_that_makes_it(engine: Engine, people: People) -> None:
    with session_scope(engine) as session:
        session.execute(update(User).where(User.id == people.rep.id).values(locale="en"))
    alert(engine, people.rep.id)
    with session_scope(engine) as session:
        session.get(User, people.rep.id).locale = "zh-CN"  # type: ignore[union-attr]  # flushed by the send
        message = service.send(session, recipient_id=people.rep.id, kind="alert", title=N_("Leads"))
        assert message.title == "线索"


def test_changed_preferences_are_used_from_the_next_transaction(engine: Engine, people: People) -> None:
    first = alert(engine, people.rep.id)
    now = utcnow()
    start = (now + timedelta(hours=8) - timedelta(minutes=30)).strftime("%H:%M")  # Shanghai time, 30 min ago
    end = (now + timedelta(hours=8) + timedelta(hours=2)).strftime("%H:%M")
    with session_scope(engine) as session:
        session.add(NotifyPreference(user_id=people.rep.id, channels=["sms"], personal={}, quiet_start=start,
                                     quiet_end=end, updated_at=now))
    second = alert(engine, people.rep.id)
    assert [d.channel for d in rows(engine, message_id=first)] == [Channel.WEBHOOK]
    (sms,) = rows(engine, message_id=second)
    assert sms.channel is Channel.SMS and sms.target == "json://127.0.0.1:9/sms?:to=13900000002"
    assert sms.next_attempt_at is not None and sms.next_attempt_at > now + timedelta(minutes=89)  # quiet hours
    with session_scope(engine) as session:
        session.execute(update(NotifyPreference).where(NotifyPreference.user_id == people.rep.id)
                        .values(quiet_start=None, quiet_end=None))
    (sms,) = rows(engine, message_id=alert(engine, people.rep.id))
    assert sms.next_attempt_at is not None and sms.next_attempt_at < now + timedelta(minutes=5)


def test_a_new_channel_is_used_from_the_next_transaction(engine: Engine, people: People) -> None:
    first = alert(engine, people.rep.id)
    with session_scope(engine) as session:
        session.add(NotifyEndpoint(name="everyone's dingtalk", channel=Channel.DINGTALK,
                                   url="dingtalk://SECx@token/{phone}", is_default=True))
    second = alert(engine, people.rep.id)
    assert [d.channel for d in rows(engine, message_id=first)] == [Channel.WEBHOOK]
    assert sorted(d.channel.value for d in rows(engine, message_id=second)) == ["dingtalk", "webhook"]


def test_a_changed_phone_number_is_used_from_the_next_transaction(engine: Engine, people: People) -> None:
    with session_scope(engine) as session:
        session.add(NotifyPreference(user_id=people.rep.id, channels=["sms"], personal={}, updated_at=utcnow()))
    first = alert(engine, people.rep.id)
    with session_scope(engine) as session:
        session.execute(update(User).where(User.id == people.rep.id).values(phone=None))
    second = alert(engine, people.rep.id)
    assert [d.status for d in rows(engine, message_id=first)] == [NotificationStatus.PENDING]
    (sms,) = rows(engine, message_id=second)
    assert sms.status is NotificationStatus.FAILED and sms.last_error == (
        "The recipient has no phone, which the sms channel needs")
    assert rows(engine, id=second)[0].escalate_at == sms.created_at  # nothing on its way: escalates at once


def test_an_unknown_recipient_is_refused_with_the_cache_warm(engine: Engine, people: People) -> None:
    alert(engine, people.rep.id)
    with pytest.raises(NotFound) as caught, session_scope(engine) as session:
        service.send_all(session, [service.Message(people.rep.id, "alert", N_("Leads")),
                                   service.Message(99_999, "alert", N_("Leads"))])
    assert caught.value.field == "recipient_id"
    assert len(rows(engine)) == 2  # the warm-up's inbox row and delivery only: nothing of the refused batch


def test_a_deleted_user_is_unknown_from_the_next_transaction(engine: Engine, people: People) -> None:
    alert(engine, people.nophone.id)
    with session_scope(engine) as session:
        session.delete(session.get(User, people.nophone.id))
    with pytest.raises(NotFound), session_scope(engine) as session:
        service.send(session, recipient_id=people.nophone.id, kind="alert", title=N_("Leads"))


def test_a_stored_key_is_answered_with_its_message_whoever_it_names(engine: Engine, people: People) -> None:
    with session_scope(engine) as session:
        first = service.send(session, recipient_id=people.rep.id, kind="alert", title=N_("Leads"), key="k1").id
    with session_scope(engine) as session:
        again = service.send_all(session, [service.Message(99_999, "alert", N_("Leads"), key="k1"),
                                           service.Message(people.rep.id, "alert", N_("Leads"), key="k1")])
        assert [m.id for m in again] == [first, first] and again[0] is again[1]
        assert service.leads_assigned(session, []) == []
    assert len(rows(engine)) == 2


def test_a_key_repeated_in_one_batch_is_one_message(engine: Engine, people: People) -> None:
    with session_scope(engine) as session:
        lead = people.lead(session)
        ids = service.leads_assigned(session, [(lead, people.rep.id, 9), (lead, people.rep.id, 9),
                                               (lead, people.rep2.id, 10)])
    assert ids[0] == ids[1] != ids[2]
    assert [(r.idempotency_key, r.recipient_id) for r in rows(engine, channel=Channel.IN_APP)] == [
        (f"lead_assigned:{lead.id}:9", people.rep.id), (f"lead_assigned:{lead.id}:10", people.rep2.id)]
    assert sorted(r.message_id for r in rows(engine, channel=Channel.WEBHOOK)) == sorted([ids[0], ids[2]])


def test_a_returned_message_holds_what_was_written(engine: Engine, people: People) -> None:
    """``send_all`` gives rows of the session made from the values written, without reading them back."""
    columns = [c.key for c in Notification.__table__.columns]
    with session_scope(engine) as session:
        lead = people.lead(session)
        message = service.lead_assigned(session, lead, people.rep.id, decision_id=11)
        assert message in session and message not in session.dirty
        with statements(engine) as seen:
            held = {c: getattr(message, c) for c in columns}
        assert seen == []
        assert session.get(Notification, message.id) is message
    (stored,) = rows(engine, id=message.id)
    assert held == {c: getattr(stored, c) for c in columns}
    assert (stored.attempts, stored.escalation_step, stored.title) == (0, 0, message.title)
    assert stored.title.startswith(("New lead", "新线索"))


def test_recipients_leave_out_unknown_ids(engine: Engine, people: People) -> None:
    with session_scope(engine, readonly=True) as session:
        found = preferences.recipients(session, [people.rep.id, 99_999, people.rep.id])
        again = preferences.recipients(session, [people.rep.id])
    assert list(found) == [people.rep.id] and again[people.rep.id] is found[people.rep.id]
    assert [t.channel for t in found[people.rep.id].targets] == [Channel.WEBHOOK]
