"""New leads waiting for acceptance (the home page's list): the owner's unacknowledged "new lead" messages, the one
escalating first on top, gone once accepted or once the lead changes hands."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, update

from evenhand.db import session_scope
from evenhand.models import Lead, Notification
from evenhand.notify import service
from tests.notify.conftest import People


def waiting(engine: Engine, user_id: int) -> list[service.WaitingLead]:
    with session_scope(engine, readonly=True) as session:
        return service.waiting_leads(session, user_id)


def test_unaccepted_leads_are_listed_the_one_escalating_first_on_top(engine: Engine, people: People) -> None:
    with session_scope(engine) as session:
        first, second = people.lead(session), people.lead(session)
        older = service.lead_assigned(session, first, people.rep.id, decision_id=1)
        service.lead_assigned(session, second, people.rep.id, decision_id=2)
        service.send(session, recipient_id=people.rep.id, kind="alert", title="Alert", lead_id=first.id)  # not a lead
        session.execute(update(Notification).where(Notification.id == older.id).values(
            escalate_at=older.escalate_at + timedelta(minutes=5)))  # type: ignore[operator]
        ids = (first.id, second.id, first.company)
    found = waiting(engine, people.rep.id)
    assert [w.lead_id for w in found] == [ids[1], ids[0]]
    assert found[1].company == ids[2] and not found[1].escalated
    assert found[0].escalate_at is not None and found[0].escalate_at - found[0].sent_at == timedelta(minutes=15)
    assert waiting(engine, people.rep2.id) == []


def test_accepting_or_a_new_owner_takes_the_lead_off_the_list(engine: Engine, people: People) -> None:
    with session_scope(engine) as session:
        kept, accepted, moved = (people.lead(session) for _ in range(3))
        for n, lead in enumerate((kept, accepted, moved)):
            service.lead_assigned(session, lead, people.rep.id, decision_id=n)
        ids = kept.id, accepted.id, moved.id
    with session_scope(engine) as session:
        assert service.acknowledge_lead(session, ids[1], people.rep.id) == 1
        session.execute(update(Lead).where(Lead.id == ids[2]).values(owner_id=people.rep2.id))
    assert [w.lead_id for w in waiting(engine, people.rep.id)] == [ids[0]]
    assert waiting(engine, people.rep2.id) == []  # the message was to the rep before


def test_a_lead_sent_twice_is_listed_once_with_its_newest_message(engine: Engine, people: People) -> None:
    with session_scope(engine) as session:
        lead = people.lead(session)
        service.lead_assigned(session, lead, people.rep.id, decision_id=1)
        newest = service.lead_assigned(session, lead, people.rep.id, decision_id=2)
        newest.escalation_step = 1
        expected = newest.id
    (only,) = waiting(engine, people.rep.id)
    assert only.message_id == expected and only.escalated
