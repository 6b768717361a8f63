"""``listing``: filters combine, and never reach past what the principal reads."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from evenhand.activities import repository
from evenhand.auth.principal import Principal
from evenhand.auth.service import principal_for
from evenhand.db import session_scope
from evenhand.models import ActivityType, User
from tests.builders import Org


def test_filters_combine_inside_the_readable_scope(engine: Engine, org: Org) -> None:
    rep = org.id("rep_n1")
    email = next(a for a in org.activities if a.rep_id == rep and a.type is ActivityType.EMAIL)
    call = next(a for a in org.activities if a.rep_id == rep and a.type is ActivityType.CALL)
    with session_scope(engine, readonly=True) as session:
        sup_a, sup_b = (principal_for(session, session.get_one(User, org.id(n))) for n in ("sup_a", "sup_b"))

        def ids(principal: Principal, **filters: Any) -> list[int]:
            return [a.id for a in session.scalars(repository.listing(principal, **filters))]

        assert ids(sup_a, rep_id=rep, type=ActivityType.EMAIL) == [email.id]
        assert ids(sup_a, rep_id=rep, lead_id=call.lead_id) == [call.id]
        assert ids(sup_a, rep_id=rep, lead_id=call.lead_id, type=ActivityType.EMAIL) == []
        assert ids(sup_b, rep_id=rep) == []


def test_the_batch_lookups_find_what_the_lead_and_deal_lookups_find(engine: Engine) -> None:
    """``leads_by_key``/``deals_by_key`` (one array parameter per batch) against the leads' and deals' own lookups
    on keys shared by several leads (the newest wins) and sources, and keys nobody carries."""
    from evenhand.leads import keys
    from evenhand.leads import repository as lead_repository
    from evenhand.opportunities import repository as deal_repository
    from tests.builders import make_lead, make_opportunity, make_user

    phones, emails = ["13800138000", "+86 139 0000 0001", "0571-1234"], ["A@x.cn", "b@Y.cn", "nobody@z.cn"]
    with session_scope(engine) as session:
        rep = make_user(session)
        for n, source in enumerate(("web", "salesforce", "web", "expo")):
            lead = make_lead(session, source=source, external_id=f"Q{n % 3}", phone=phones[n % 2],
                             phone_key=keys.phone_key(phones[n % 2]), email=emails[n % 2],
                             email_key=keys.email_key(emails[n % 2]))
            make_opportunity(session, owner=rep, lead=lead, source=source, external_id=f"D{n % 3}")
    external_ids = {"Q0", "Q1", "Q2", "Q9"}
    with session_scope(engine, readonly=True) as session:
        theirs = lead_repository.lead_ids_by_key(session, external_ids=external_ids, emails=emails, phones=phones)
        ours = repository.leads_by_key(session, external_ids=external_ids,
                                       email_keys={k for e in emails if (k := keys.email_key(e))},
                                       phone_keys={k for p in phones if (k := keys.phone_key(p))})
        assert ours[0] == theirs[0] and len(ours[0]) == 3
        assert {keys.email_key(e): i for e, i in theirs[1].items()} == ours[1]
        assert {keys.phone_key(p): i for p, i in theirs[2].items()} == ours[2]
        deals = {"D0", "D1", "D7"}
        assert repository.deals_by_key(session, deals) == deal_repository.ids_by_external_id(session, deals)
