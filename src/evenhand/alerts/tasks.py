"""Alerts in the background: the scan every ``alerts_scan_every_seconds`` through the worker (incremental; a full one
once a day, ``service.FULL_EVERY``), the hook that judges the deals and leads ingested activities touched
(``activities.service.on_captured``), and the marks the incremental scan reads (``alerts.marks``: every ORM flush, every
write told through ``kit.written``, and every captured batch).

The hook collects what each batch touched in the transaction and judges it once, just before the transaction
commits: an import of many batches judges each deal once, in bulk, and a batch that rolls back judges nothing. Only
activities of the last ``EVENT_WINDOW`` count as events: a company's history imported, or a sync days late, is left
to the next scan rather than judged (and told) as it arrives. The app and the command line import this module too, so
every door activities come in by runs the hook."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import event
from sqlalchemy.orm import Session

from evenhand.activities import service as activities
from evenhand.activities.linking import Links
from evenhand.alerts import marks, service
from evenhand.config import get_settings
from evenhand.kit import written
from evenhand.kit.clock import as_utc, utcnow
from evenhand.notify import jobs

log = logging.getLogger(__name__)
TOUCHED = "alerts.touched"  # session.info: (deal ids, lead ids) captured in the open transaction
EVENT_WINDOW = timedelta(days=2)


@jobs.every(get_settings().alerts_scan_every_seconds, name="alerts.scan")
def scan_open_entities(session: Session, now: datetime) -> None:
    service.scan(session, now=now, full=False)


if not event.contains(Session, "after_flush", marks.flushed):
    event.listen(Session, "after_flush", marks.flushed)
written.listen(marks.wrote)


@activities.on_captured
def judge_touched(session: Session, captured: Sequence[tuple[Links, datetime]]) -> None:
    """Marks every deal and lead the batch touched for the next scan; judges now those of recent activities."""
    marks.mark(session, "opportunity", (links.opportunity_id for links, _ in captured))
    marks.mark(session, "lead", (links.lead_id for links, _ in captured))
    since = utcnow() - EVENT_WINDOW
    touched = [links for links, at in captured if as_utc(at) >= since]
    if not touched:
        return
    pending: tuple[set[int], set[int]] | None = session.info.get(TOUCHED)
    if pending is None:
        pending = session.info[TOUCHED] = (set(), set())
        event.listen(session, "before_commit", judge_pending, once=True)
        event.listen(session, "after_rollback", forget_pending, once=True)
    pending[0].update(t.opportunity_id for t in touched if t.opportunity_id)
    pending[1].update(t.lead_id for t in touched if t.lead_id)


def judge_pending(session: Session) -> None:
    """In a savepoint: an alert that cannot be judged must not lose the activities (it is logged)."""
    deals, leads = session.info.pop(TOUCHED, (set(), set()))
    if not deals and not leads:
        return
    try:
        with session.begin_nested():
            service.evaluate_entities(session, opportunity_ids=deals, lead_ids=leads)
    except Exception:
        log.exception("judging the alerts of %s deals and %s leads failed", len(deals), len(leads))


def forget_pending(session: Session, *_: object) -> None:
    session.info.pop(TOUCHED, None)
