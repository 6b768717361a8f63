"""Notes and contacts on the standard organisation (tests.builders.build_org), a month after its own records.

- rep_n1 (north, supervised by sup_a): a note claiming a call nobody made (``fake``) and two copies of a long
  boilerplate note on two other leads (``copy1``, ``copy2``);
- rep_n2 (north): a note backed by their answered call an hour before (``backed``), and a stock phrase claiming
  nothing (``plain``);
- rep_e1 (east, sup_b): a note on a deal backed by rep_e2's call logged on the lead the deal came from (``deal``);
- rep_solo (no team): a note claiming a visit nothing backs (``solo``), reviewed by sales ops.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from evenhand.models import Activity, ActivityType, Direction, SourceSystem
from tests.builders import Org, make_activity, make_lead, make_opportunity

DAY = datetime(2026, 4, 6, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Shanghai
SINCE, UNTIL = DAY - timedelta(days=1), DAY + timedelta(days=1)
BOILERPLATE = ("今日与客户进行了深入沟通，客户对我司产品表现出浓厚兴趣，认可我们的解决方案，计划下周安排技术交流，"
               "预计本季度内推进到商务谈判阶段。")


def note(session: Session, org: Org, rep: str, text: str, *, declared: ActivityType | None = None,
         at: datetime = DAY, **links: Any) -> Activity:
    return make_activity(session, rep=org.users[rep], type=ActivityType.NOTE, direction=Direction.INTERNAL,
                         source_system=SourceSystem.CRM, occurred_at=at, body=text, subject=text[:40],
                         declared_type=declared, **links)


def call(session: Session, org: Org, rep: str, *, at: datetime, answered: bool = True, **links: Any) -> Activity:
    return make_activity(session, rep=org.users[rep], occurred_at=at, answered=answered,
                         duration_seconds=240 if answered else 0, **links)


def build(session: Session, org: Org) -> dict[str, int]:
    users = org.users
    leads = {name: make_lead(session, owner=users[rep]) for name, rep in (
        ("fake", "rep_n1"), ("copy1", "rep_n1"), ("copy2", "rep_n1"), ("backed", "rep_n2"), ("deal", "rep_e1"),
        ("solo", "rep_solo"))}
    deal = make_opportunity(session, owner=users["rep_e1"], lead=leads["deal"])
    call(session, org, "rep_n2", at=DAY - timedelta(hours=1), lead=leads["backed"])
    call(session, org, "rep_n1", at=DAY - timedelta(hours=1), answered=False, lead=leads["fake"])
    call(session, org, "rep_e2", at=DAY - timedelta(hours=2), lead=leads["deal"])
    ids = {
        "fake": note(session, org, "rep_n1", "已电话沟通，客户有意向", declared=ActivityType.CALL, lead=leads["fake"]),
        "copy1": note(session, org, "rep_n1", BOILERPLATE, lead=leads["copy1"]),
        "copy2": note(session, org, "rep_n1", BOILERPLATE.replace("下周", "下下周"), lead=leads["copy2"]),
        "backed": note(session, org, "rep_n2", "Called the buyer about pricing", declared=ActivityType.CALL,
                       lead=leads["backed"]),
        "plain": note(session, org, "rep_n2", "客户要求发送报价", lead=leads["backed"]),
        "deal": note(session, org, "rep_e1", "与客户电话沟通了合同条款", opportunity_id=deal.id),
        "solo": note(session, org, "rep_solo", "上门拜访客户", lead=leads["solo"]),
    }
    session.flush()
    return {name: a.id for name, a in ids.items()} | {f"lead_{k}": v.id for k, v in leads.items()}
