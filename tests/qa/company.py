"""The QA tests' calls: recorded outbound calls in March 2026 (Asia/Shanghai) for four reps of the standard
organisation, and calls that are not in the population (inbound, unrecorded, e-mail, February, April)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from evenhand.models import ActivityType, Direction, SourceSystem
from tests.builders import Org, make_activity

PERIOD = "2026-03"
MARCH = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
CALLS = {"rep_n1": 30, "rep_n2": 12, "rep_s1": 5, "rep_e1": 1}
EDGES = {"first": datetime(2026, 2, 28, 17, 0, tzinfo=UTC),  # 1 March, 01:00 in Shanghai: March
         "after": datetime(2026, 3, 31, 16, 30, tzinfo=UTC),  # 1 April, 00:30 in Shanghai: April
         "before": datetime(2026, 2, 28, 15, 0, tzinfo=UTC)}  # 28 February, 23:00 in Shanghai


def call(session: Session, org: Org, rep: str, at: datetime, *, recorded: bool = True,
         direction: Direction = Direction.OUTBOUND, type: ActivityType = ActivityType.CALL) -> int:
    n = len(org.activities)
    act = make_activity(session, rep=org.users[rep], type=type, direction=direction,
                        source_system=SourceSystem.TELEPHONY, external_id=f"QA-{n}", occurred_at=at,
                        duration_seconds=120, answered=True,
                        recording_ref=f"recordings/2026-03/call-{n:09d}.mp3" if recorded else None)
    org.activities.append(act)
    session.flush()
    return act.id


def build(session: Session, org: Org) -> dict[str, list[int]]:
    """The population's ids per rep (``rep_n1`` includes the call at the month's first hour)."""
    ids: dict[str, list[int]] = {rep: [] for rep in CALLS}
    for rep, count in CALLS.items():
        for i in range(count):
            ids[rep].append(call(session, org, rep, MARCH + timedelta(hours=7 * i)))
    ids["rep_n1"].append(call(session, org, "rep_n1", EDGES["first"]))
    call(session, org, "rep_n1", EDGES["after"])
    call(session, org, "rep_n1", EDGES["before"])
    call(session, org, "rep_e2", MARCH, recorded=False)
    call(session, org, "rep_e2", MARCH, direction=Direction.INBOUND)
    call(session, org, "rep_e2", MARCH, type=ActivityType.EMAIL)
    return ids
