"""What the scan reads besides the series (the change registry) and how it stores anomalies: one row per KPI and
episode, updated as the episode goes on, closed once it ended; the ops and admins are told of each new one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from evenhand.config import get_settings
from evenhand.i18n import N_
from evenhand.kit.clock import utcnow
from evenhand.models import Anomaly, AnomalyStatus, ChangeEntry, Notification, Role, User
from evenhand.monitor.explain import ChangeRef
from evenhand.monitor.kpis import Kpi
from evenhand.monitor.report import Report
from evenhand.monitor.series import day_date
from evenhand.monitor.sources import local_days
from evenhand.notify import service as notify

NEW_ANOMALY = N_("KPI anomaly: {kpi} {direction} {effect}")
ARROWS = {"up": "↑", "down": "↓"}
NEW_ANOMALY_BODY = N_("Started {started}, detected {detected}. Open the drill-down for the explanation.")
WITHDRAWN = N_("KPI anomaly withdrawn: {kpi} {direction} {effect}")
WITHDRAWN_BODY = N_("Detected {detected}. Scanned again with what the company has told since (its holidays, history "
                    "imported, the KPI's definition), the shift is not there.")
_ANNOUNCED = "kpi_anomaly"  # the first part of an announcement's idempotency key


def change_refs(session: Session, first: date, last: date) -> list[ChangeRef]:
    """The changes effective between the two days, by local day: released ones, and planned ones whose moment
    passed (a change nobody marked released may still have happened), and those rolled back since."""
    zone = get_settings().zone
    since = datetime.combine(first, time(), zone)
    until = datetime.combine(last + timedelta(days=1), time(), zone)
    rows = list(session.scalars(select(ChangeEntry).where(
        ChangeEntry.effective_at >= since, ChangeEntry.effective_at < until).order_by(ChangeEntry.effective_at)))
    days = local_days(np.array([int(r.effective_at.timestamp()) for r in rows], np.int64), zone)
    return [ChangeRef(r.id, int(d), r.title, r.description, tuple(str(m) for m in r.affected_metrics or ()),
                      r.system) for r, d in zip(rows, days.tolist(), strict=True)]


def store(session: Session, reports: Sequence[Report], *, judged: tuple[date, date], kpis: Mapping[str, Kpi]
          ) -> list[Report]:
    """Each report as its KPI's anomaly: the stored episode detected the same day (its identity: what was known on
    the day it was detected does not change), else one it continues (same KPI and kind, overlapping), else a new
    one (announced); then each report's funnel names the stored anomalies of its shifted KPIs. A stored anomaly of
    one of the ``kpis`` scanned, detected on one of the ``judged`` days (first, last), that no report is is
    withdrawn: the scan judged its days again and no longer finds it."""
    claimed: set[int] = set()
    stored = [_upsert(session, r, claimed) for r in reports]
    session.flush()
    _withdraw(session, {row.id for row, _ in stored}, judged, kpis)
    ids = {(r.kpi.id, r.finding.started): row.id for r, (row, _) in zip(reports, stored, strict=True)}
    out = []
    for report, (row, new) in zip(reports, stored, strict=True):
        done = replace(report, anomaly_id=row.id, trace_ids=ids)
        row.explanation = done.explanation()
        if new and row.status == AnomalyStatus.OPEN:
            _announce(session, done)
        out.append(done)
    return out


def _withdraw(session: Session, kept: set[int], judged: tuple[date, date], kpis: Mapping[str, Kpi]) -> None:
    """Withdraw what the scan no longer finds, and tell whoever was told of it."""
    gone = select(Anomaly).where(Anomaly.kpi.in_(sorted(kpis)), Anomaly.detected_on >= judged[0],
                                 Anomaly.detected_on <= judged[1], Anomaly.status != AnomalyStatus.WITHDRAWN,
                                 Anomaly.id.not_in(kept))
    messages: list[Any] = []
    for row in session.scalars(gone):
        row.status, row.updated_at = AnomalyStatus.WITHDRAWN, utcnow()
        told = session.scalars(select(Notification.recipient_id).where(
            Notification.idempotency_key.like(f"{_ANNOUNCED}:{row.id}:%")).distinct())
        kpi = kpis[row.kpi]
        params = {"kpi": f"{kpi.name_zh} / {kpi.name_en}", "direction": ARROWS.get(row.direction, ""),
                  "effect": f"{row.effect or 0:+.0%}", "detected": row.detected_on.isoformat()}
        messages += [notify.Message(uid, "kpi_anomaly", WITHDRAWN, WITHDRAWN_BODY, f"/monitor/anomalies/{row.id}", None,
                                    f"kpi_anomaly_withdrawn:{row.id}:{uid}", params) for uid in told]
    notify.send_all(session, messages)


def _upsert(session: Session, report: Report, claimed: set[int]) -> tuple[Anomaly, bool]:
    f = report.finding
    same = (Anomaly.kpi == f.kpi, Anomaly.kind == f.kind, Anomaly.id.not_in(claimed))
    with session.no_autoflush:
        row = session.scalar(select(Anomaly).where(*same, Anomaly.detected_on == day_date(f.detected))) or \
            session.scalar(select(Anomaly).where(*same, Anomaly.started_on <= day_date(f.last),
                                                 Anomaly.last_on >= day_date(f.started - 7))
                           .order_by(Anomaly.detected_on.desc()).limit(1))
    new = row is None
    if row is None:
        row = Anomaly(kpi=f.kpi, kind=f.kind)
        session.add(row)
    else:
        claimed.add(row.id)
    row.method, row.direction, row.detected_on = f.method, f.direction, day_date(f.detected)
    row.started_on, row.last_on = day_date(f.started), day_date(f.last)
    row.ended_on = day_date(f.ended) if f.ended is not None else None
    row.baseline, row.observed, row.effect, row.p_value = f.baseline, f.observed, f.effect, f.p_value
    row.status = AnomalyStatus.CLOSED if f.ended is not None else AnomalyStatus.OPEN
    row.change_ids = [c.id for c in report.changes]
    row.updated_at = utcnow()
    return row, new


def _announce(session: Session, report: Report) -> None:
    """A new anomaly goes to every active ops and admin through the outbox, in their own language."""
    f = report.finding
    people = session.scalars(select(User.id).where(User.role.in_([Role.OPS, Role.ADMIN]), User.active.is_(True)))
    params = {"kpi": f"{report.kpi.name_zh} / {report.kpi.name_en}", "direction": ARROWS[f.direction],
              "effect": f"{f.effect:+.0%}", "started": day_date(f.started).isoformat(),
              "detected": day_date(f.detected).isoformat()}
    link = f"/monitor/anomalies/{report.anomaly_id}"
    messages: list[Any] = [notify.Message(uid, "kpi_anomaly", NEW_ANOMALY, NEW_ANOMALY_BODY, link, None,
                                          f"{_ANNOUNCED}:{report.anomaly_id}:{uid}", params) for uid in people]
    notify.send_all(session, messages)
