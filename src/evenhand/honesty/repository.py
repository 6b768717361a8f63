"""Honesty flag queries, and the bulk reads a scan makes; ``readable`` is the only place flag visibility is decided.

A flag is read by whoever may read its rep's records: the rep themselves (what is said about their notes is
shown to them), the supervisor of their team, and admin, ops and auditors.

A scan reads notes and captured contacts as plain columns (epoch seconds computed by the database, like the
scoring's bulk path), each with its customer: the activity's lead, else the lead its deal came from, else the
deal itself (``detect.customer_key``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, Select, func, select
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.auth.visibility import owned_by_visible
from evenhand.honesty.detect import Contacts, Notes, customer_key
from evenhand.kit.cursor import epoch
from evenhand.models import (
    Activity,
    ActivityType,
    FlagKind,
    FlagStatus,
    HonestyFlag,
    Lead,
    Opportunity,
    SourceSystem,
    Team,
    User,
)

CHUNK = 5000  # ids per IN list: far below either database's limit on bound parameters


def readable(principal: Principal) -> Select[HonestyFlag]:
    return select(HonestyFlag).where(owned_by_visible(principal, HonestyFlag.rep_id))


def listed(principal: Principal, *, status: FlagStatus | None = None, kind: FlagKind | None = None,
           rep_id: int | None = None, limit: int = 200) -> Select[HonestyFlag]:
    """Open flags oldest first (a queue is worked from its oldest); any other selection newest first."""
    stmt = readable(principal)
    if status is not None:
        stmt = stmt.where(HonestyFlag.status == status)
    if kind is not None:
        stmt = stmt.where(HonestyFlag.kind == kind)
    if rep_id is not None:
        stmt = stmt.where(HonestyFlag.rep_id == rep_id)
    order = HonestyFlag.id.asc() if status is FlagStatus.OPEN else HonestyFlag.id.desc()
    return stmt.order_by(order).limit(limit)


# --- what a scan reads ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteRows:
    notes: Notes
    rep: np.ndarray


def _with_customer(conn: Connection, *columns: Any) -> Select[Any]:
    return (select(Activity.id, Activity.lead_id, Opportunity.lead_id, Activity.opportunity_id,
                   epoch(conn, Activity.occurred_at), *columns)
            .select_from(Activity).outerjoin(Opportunity, Opportunity.id == Activity.opportunity_id))


def notes(conn: Connection, since: datetime, until: datetime) -> NoteRows:
    """The CRM notes written in ``since``..``until`` (end excluded), in id order. A note's text is its body, else
    its subject (notes imported before bodies were kept)."""
    stmt = _with_customer(conn, Activity.rep_id, func.coalesce(Activity.body, Activity.subject, ""),
                          Activity.declared_type).where(
        Activity.type == ActivityType.NOTE, Activity.occurred_at >= since, Activity.occurred_at < until
    ).order_by(Activity.id)
    rows: list[Any] = list(conn.execute(stmt).all())
    ids, customers, at = _identity(rows)
    return NoteRows(Notes(ids, customers, at, [r[6] for r in rows], [_value(r[7]) for r in rows]),
                    np.array([r[5] for r in rows], dtype=np.int64))


def contacts(conn: Connection, since: datetime, until: datetime) -> Contacts:
    """Contacts captured by the communication tools (not notes, nothing typed into the CRM) starting in
    ``since``..``until``. A call connected when it was answered or has talk time; every other kind counts."""
    stmt = _with_customer(conn, func.coalesce(Activity.duration_seconds, 0), Activity.type, Activity.answered).where(
        Activity.type != ActivityType.NOTE, Activity.source_system != SourceSystem.CRM,
        Activity.occurred_at >= since, Activity.occurred_at < until)
    rows: list[Any] = list(conn.execute(stmt).all())
    ids, customers, start = _identity(rows)
    duration = np.array([r[5] for r in rows], dtype=np.int64)
    kinds = [_value(r[6]) or "" for r in rows]
    connected = np.array([k != "call" or bool(r[7]) or r[5] > 0 for k, r in zip(kinds, rows, strict=True)],
                         dtype=np.bool_)
    return Contacts(ids, customers, start, start + duration, kinds, connected)


def _identity(rows: list[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    customers = np.array([customer_key(r[1], r[2], r[3]) for r in rows], dtype=np.int64)
    at = np.array([r[4] for r in rows], dtype=np.int64)
    return ids, customers, at


def _value(kind: object) -> str | None:
    return None if kind is None else str(getattr(kind, "value", kind))


def flags_of(session: Session, note_ids: Collection[int]) -> dict[tuple[int, FlagKind], HonestyFlag]:
    """The flags already raised on these notes, by (note, kind)."""
    found: dict[tuple[int, FlagKind], HonestyFlag] = {}
    ids = sorted(note_ids)
    for start in range(0, len(ids), CHUNK):
        stmt = select(HonestyFlag).where(HonestyFlag.activity_id.in_(ids[start:start + CHUNK]))
        found.update({(f.activity_id, f.kind): f for f in session.scalars(stmt)})
    return found


def open_flags_between(session: Session, since: datetime, until: datetime) -> list[HonestyFlag]:
    """Open flags on notes written in ``since``..``until``."""
    notes_in = select(Activity.id).where(Activity.occurred_at >= since, Activity.occurred_at < until)
    return list(session.scalars(select(HonestyFlag).where(HonestyFlag.status == FlagStatus.OPEN,
                                                          HonestyFlag.activity_id.in_(notes_in))))


def supervisors(session: Session, rep_ids: Collection[int]) -> dict[int, int | None]:
    """Each rep's team supervisor (``None`` without one, or when the rep supervises their own team)."""
    stmt = (select(User.id, Team.supervisor_id).outerjoin(Team, Team.id == User.team_id)
            .where(User.id.in_(set(rep_ids))))
    return {rep: (boss if boss != rep else None) for rep, boss in session.execute(stmt).tuples()}


def names(session: Session, user_ids: Collection[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    return dict(session.execute(select(User.id, User.display_name).where(User.id.in_(set(user_ids)))).tuples().all())


def activities(session: Session, ids: Collection[int]) -> dict[int, Activity]:
    found: dict[int, Activity] = {}
    wanted = sorted(ids)
    for start in range(0, len(wanted), CHUNK):
        found.update({a.id: a for a in session.scalars(select(Activity).where(
            Activity.id.in_(wanted[start:start + CHUNK])))})
    return found


def companies(session: Session, lead_ids: Collection[int], deal_ids: Collection[int]) -> tuple[dict[int, str],
                                                                                              dict[int, str]]:
    """The company of each lead and the name of each deal a flag names."""
    leads = dict(session.execute(select(Lead.id, Lead.company).where(Lead.id.in_(set(lead_ids)))).tuples().all())
    deals = dict(session.execute(select(Opportunity.id, Opportunity.name)
                                 .where(Opportunity.id.in_(set(deal_ids)))).tuples().all())
    return leads, deals


def teams(session: Session, user_ids: Collection[int]) -> dict[int, int | None]:
    if not user_ids:
        return {}
    return dict(session.execute(select(User.id, User.team_id).where(User.id.in_(set(user_ids)))).tuples().all())


def team_of(session: Session, rep_id: int) -> int | None:
    return session.scalar(select(User.team_id).where(User.id == rep_id))

