"""The company and the exports the activity tests import: a telemarketing call log, a CRM's tasks (Salesforce-
like) and an Outlook mail log (XLSX), each with its mapping file as a user writes it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from evenhand.db import session_scope
from evenhand.leads import keys
from evenhand.models import Lead, Role
from tests.builders import make_lead, make_opportunity, make_team, make_user

CALL_LOG = ["Call ID", "Agent", "Customer Phone", "Call Date", "Call Time", "Duration", "Direction", "Outcome"]
CALLS = [
    ["C-1001", "A007", "+86 138 0013 8000", "12/03/2024", "14:05", "0:03:25", "Outbound", "Answered"],
    ["C-1002", "A007", "138-0013-8000", "12/03/2024", "15:10", "0:00:00", "Outbound", "No Answer"],
    ["C-1003", "A008", "+86 139 9999 0000", "13/03/2024", "09:00", "1:10", "Inbound", "Answered"],
    ["C-1004", "A999", "+86 138 0013 8000", "13/03/2024", "10:00", "0:02:00", "Outbound", "Answered"],
]
CALL_MAPPING = """\
fields:
  source_system: {value: telephony}
  external_id: Call ID
  type: {value: call}
  rep: Agent
  phone: Customer Phone
  occurred_at: {column: Call Date, format: "%d/%m/%Y"}
  occurred_time: Call Time
  duration: Duration
  direction: {column: Direction, case: lower}
  answered: {column: Outcome, map: {Answered: true, No Answer: false, Busy: false}}
timezone: Asia/Shanghai
"""

TASK_EXPORT = ["Id", "WhoId", "WhatId", "OwnerEmail", "Subject", "ActivityDate", "CallDurationInSeconds", "CallType",
               "TaskSubtype"]
TASKS = [
    ["00T001", "00Q001", "", "wei.zhang@acme.cn", "Intro call", "2024-03-12", "185", "Outbound", "Call"],
    ["00T002", "00Q999", "006A01", "wei.zhang@acme.cn", "Proposal follow-up", "2024-03-13", "", "", "Email"],
    ["00T003", "00Q404", "", "WEI.ZHANG@acme.cn", "Sent the brochure", "2024-03-14", "", "", "Email"],
    ["00T004", "00Q001", "", "nobody@acme.cn", "Left a voicemail", "2024-03-14", "30", "Outbound", "Call"],
]
TASK_MAPPING = """\
fields:
  source_system: {value: crm}
  external_id: Id
  lead: WhoId
  opportunity: WhatId
  rep: OwnerEmail
  subject: Subject
  occurred_at: ActivityDate
  duration_seconds: CallDurationInSeconds
  direction: {column: CallType, case: lower, default: outbound}
  type: {column: TaskSubtype, map: {Call: call, Email: email, Task: note, Event: meeting}}
"""

MAIL_LOG = ["Message-ID", "From", "To", "Sent", "Subject"]
MAILS = [["<m1@acme.cn>", "li.na@acme.cn", "Buyer@Hangzhou-Retail.CN", "2024-03-15 10:30", "Quotation"]]
MAIL_MAPPING = """\
fields:
  source_system: {value: outlook}
  external_id: Message-ID
  type: {value: email}
  direction: {value: outbound}
  rep: From
  email: To
  occurred_at: Sent
  subject: Subject
"""


@dataclass(frozen=True)
class Company:
    reps: dict[str, int]
    leads: dict[str, int]
    deal: int


def build(engine: Engine) -> Company:
    """Reps known by external id (the call centre's agent numbers), e-mail and username; leads known by their CRM
    id, e-mail or phone (stored without formatting); one deal."""
    with session_scope(engine) as session:
        boss = make_user(session, username="sup_east", role=Role.SUPERVISOR)
        team = make_team(session, name="East", supervisor=boss)
        zhang = make_user(session, username="zhangwei", team=team, external_id="A007", email="Wei.Zhang@acme.cn")
        chen = make_user(session, username="chenxiao", team=team, external_id="A008")
        li = make_user(session, username="lina", team=team, email="li.na@acme.cn")
        make_user(session, username="ops", role=Role.OPS)
        by_id = make_lead(session, owner=zhang, source="salesforce", external_id="00Q001", company="苏州精密")
        by_phone = _lead(session, zhang, "tele-1", phone="13800138000")
        by_email = _lead(session, li, "web-7", email="buyer@hangzhou-retail.cn")
        deal = make_opportunity(session, owner=zhang, lead=by_id, source="salesforce", external_id="006A01")
        return Company(reps={"zhangwei": zhang.id, "chenxiao": chen.id, "lina": li.id, "sup_east": boss.id},
                       leads={"00Q001": by_id.id, "phone": by_phone.id, "email": by_email.id}, deal=deal.id)


def _lead(session: Any, owner: Any, external_id: str, **contact: Any) -> Lead:
    return make_lead(session, owner=owner, external_id=external_id,
                     email_key=keys.email_key(contact.get("email")), phone_key=keys.phone_key(contact.get("phone")),
                     **contact)


def mapping(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
