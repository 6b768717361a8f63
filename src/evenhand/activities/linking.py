"""Matching activities to the rep who did them and the lead or deal they concern, a batch at a time: one query
per kind of key for the whole batch (reps; deals by CRM id; leads by CRM id, e-mail and phone).

The matching order: a deal named by its CRM id; then a lead by its CRM id, by the contact's e-mail, by the
contact's phone (each compared normalised; the newest lead carrying it). A deal's own lead stands in for a lead
the row does not name. An activity with no known rep, or linking neither a lead nor a deal, is not matched."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy.orm import Session

from evenhand.activities import repository
from evenhand.activities.schemas import NO_LINK, NO_REP, ActivityUpdate, Reason
from evenhand.leads import keys
from evenhand.org import service as org_service


class Links(NamedTuple):  # a tuple: one is made for every row of a bulk capture
    rep_id: int | None
    lead_id: int | None
    opportunity_id: int | None

    @property
    def reason(self) -> Reason | None:
        """Why the activity must wait, or None when it is matched."""
        if self.rep_id is None:
            return NO_REP
        return NO_LINK if self.lead_id is None and self.opportunity_id is None else None


def resolve(session: Session, rows: Sequence[ActivityUpdate]) -> list[Links]:
    """The rep, lead and deal of each row, in the rows' order."""
    session.flush()  # the lookups read through the connection, past the session
    reps = _reps(session, {r.rep for r in rows if r.rep})
    deals = repository.deals_by_key(session, {r.opportunity for r in rows if r.opportunity})
    email_keys = {v: k for v in {r.email for r in rows if r.email} if (k := keys.email_key(v))}
    phone_keys = {v: k for v in {r.phone for r in rows if r.phone} if (k := keys.phone_key(v))}
    by_id, by_email, by_phone = repository.leads_by_key(session, external_ids={r.lead for r in rows if r.lead},
                                                        email_keys=set(email_keys.values()),
                                                        phone_keys=set(phone_keys.values()))
    by_email = {v: by_email[k] for v, k in email_keys.items() if k in by_email}
    by_phone = {v: by_phone[k] for v, k in phone_keys.items() if k in by_phone}
    out = []
    for r in rows:
        deal_id, deal_lead = deals.get(r.opportunity or "", (None, None))
        lead_id = (by_id.get(r.lead or "") or by_email.get(r.email or "") or by_phone.get(r.phone or "")
                   or deal_lead)
        out.append(Links(reps.get(r.rep or ""), lead_id, deal_id))
    return out


def _reps(session: Session, keys: set[str]) -> dict[str, int]:
    """Reps by key: external id, username, or e-mail in any case."""
    return org_service.people_by_key(session, keys)
