"""Columnar reads of leads and their events for the vectorised scorer: rescoring and previews."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Connection, Integer, Table, and_, bindparam, cast, func, select, update
from sqlalchemy.orm import Session

from evenhand.leads import scoring_service
from evenhand.leads.predict import service as predict_service
from evenhand.leads.scoring import CompiledModel, EventTable, LeadTable, TableScores, score_table
from evenhand.models import BehaviourEvent, Lead

Progress = Callable[[str, int, int], None]
WRITE_CHUNK = 20_000
PREDICT_CHUNK = 5_000


@dataclass(frozen=True)
class Columns:
    ids: np.ndarray
    created: np.ndarray  # epoch seconds
    leads: LeadTable
    events: EventTable


def epoch(column: Any, dialect: str) -> ColumnElement[int]:
    """Seconds since 1970 computed by the database: naive UTC on SQLite, timestamp on PostgreSQL."""
    if dialect == "sqlite":
        return cast(func.strftime("%s", column), Integer)
    return cast(func.extract("epoch", column), Integer)


def read(conn: Connection, where: ColumnElement[bool] | None = None, *, as_of_intake: bool = False) -> Columns:
    """Leads (optionally filtered) in id order with their events; ``as_of_intake`` keeps only the events
    that had happened when each lead was created."""
    dialect = conn.dialect.name
    stmt = select(Lead.id, Lead.industry, Lead.company_size, Lead.region, Lead.title,
                  Lead.source, Lead.email, Lead.phone, epoch(Lead.created_at, dialect)).order_by(Lead.id)
    if where is not None:
        stmt = stmt.where(where)
    rows = conn.execute(stmt).all()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    cols = list(zip(*rows, strict=True)) if rows else [()] * 9
    size = np.array([np.nan if v is None else float(v) for v in cols[2]], dtype=np.float64)
    leads = LeadTable(industry=list(cols[1]), company_size=size, region=list(cols[3]), title=list(cols[4]),
                      source=list(cols[5]), email=list(cols[6]), phone=list(cols[7]))
    created = np.array(cols[8], dtype=np.int64)
    return Columns(ids, created, leads, _events(conn, ids, where, dialect, as_of_intake))


def _events(conn: Connection, ids: np.ndarray, where: ColumnElement[bool] | None, dialect: str,
            as_of_intake: bool) -> EventTable:
    stmt = select(BehaviourEvent.lead_id, BehaviourEvent.kind, epoch(BehaviourEvent.occurred_at, dialect),
                  BehaviourEvent.dwell_seconds)
    if where is not None or as_of_intake:
        stmt = stmt.join(Lead, Lead.id == BehaviourEvent.lead_id)
    if where is not None:
        stmt = stmt.where(where)
    if as_of_intake:
        stmt = stmt.where(BehaviourEvent.occurred_at <= Lead.created_at)
    rows = conn.execute(stmt).all()
    lead_ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    kinds = np.array([r[1] for r in rows], dtype=object)
    at = np.fromiter((r[2] for r in rows), dtype=np.int64, count=len(rows))
    dwell = np.array([np.nan if r[3] is None else float(r[3]) for r in rows], dtype=np.float64)
    return EventTable(lead=np.searchsorted(ids, lead_ids), kind=kinds, occurred_at=at, dwell_seconds=dwell)


def explanation_rows(scores: TableScores, probability: np.ndarray | None = None) -> list[list[list[object]]]:
    """Each row's non-zero explanation cells as ``[[rule_id, points], ...]``, as the pure path stores them."""
    assert scores.points is not None
    names = [c.rule_id for c in scores.columns]
    rows, cols = np.nonzero(scores.points)
    values = np.round(scores.points[rows, cols].astype(np.float64), 3).tolist()
    col_list = cols.tolist()
    starts = np.searchsorted(rows, np.arange(len(scores.totals) + 1)).tolist()
    out: list[list[list[object]]] = [[[names[col_list[k]], values[k]] for k in range(starts[i], starts[i + 1])]
                                     for i in range(len(scores.totals))]
    if probability is not None:
        for i in np.flatnonzero(~np.isnan(probability)).tolist():
            out[i].append(scoring_service.blend_line(int(scores.totals[i]), float(scores.rule_totals[i]),
                                                     float(probability[i])))
    return out


def _probabilities(session: Session, ids: np.ndarray, weight: float) -> np.ndarray | None:
    """The predictive model's probability per lead (NaN where unknown), or None when not blended."""
    if weight <= 0 or predict_service.load_active(session) is None:
        return None
    out = np.full(len(ids), np.nan)
    id_list = ids.tolist()
    position = {lead_id: i for i, lead_id in enumerate(id_list)}
    for start in range(0, len(id_list), PREDICT_CHUNK):
        chunk = session.scalars(select(Lead).where(Lead.id.in_(id_list[start:start + PREDICT_CHUNK]))).all()
        for lead, p in zip(chunk, scoring_service.probabilities(session, chunk, weight), strict=True):
            if p is not None:
                out[position[lead.id]] = p
        session.expunge_all()
    return out


def rescore_all(session: Session, *, now: datetime, as_of_intake: bool = False,
                progress: Progress | None = None) -> tuple[int, int]:
    """Rescore every lead with the active model in the caller's transaction; returns (leads, version).

    By default the score is as of ``now`` (behaviour decays with age). ``as_of_intake`` instead scores
    each lead as it stood when it arrived — what routing saw — which is how a seeded history is scored.
    """
    report = progress or (lambda _stage, _done, _total: None)
    model = scoring_service.active(session)
    compiled = scoring_service.compiled_body(model.body)
    conn = session.connection()
    data = read(conn, as_of_intake=as_of_intake)
    report("read", len(data.ids), len(data.ids))
    probability = _probabilities(session, data.ids, compiled.weight)
    scores = score_table(data.leads, data.events, compiled, data.created if as_of_intake else now,
                         probability=probability)
    report("scored", len(data.ids), len(data.ids))
    _write(conn, data.ids, scores, probability, model.version, None if as_of_intake else now, report)
    return len(data.ids), model.version


def _write(conn: Connection, ids: np.ndarray, scores: TableScores, probability: np.ndarray | None, version: int,
           now: datetime | None, report: Progress) -> None:
    """``now`` None means each score is dated at its lead's creation (scored as of intake)."""
    lines = explanation_rows(scores, probability)
    table = Lead.__table__
    assert isinstance(table, Table)
    stmt = (update(table).where(table.c.id == bindparam("lead_id"))
            .values(score=bindparam("s"), score_lines=bindparam("l"), score_model_version=version,
                    scored_at=table.c.created_at if now is None else now))
    totals = scores.totals.tolist()
    id_list = ids.tolist()
    for start in range(0, len(id_list), WRITE_CHUNK):
        end = min(start + WRITE_CHUNK, len(id_list))
        conn.execute(stmt, [{"lead_id": id_list[i], "s": totals[i], "l": lines[i]} for i in range(start, end)])
        report("written", end, len(id_list))


def preview(session: Session, candidate: CompiledModel, *, since: datetime) -> dict[str, object]:
    """The leads created since ``since``, scored as they arrived, under the active model and the candidate."""
    current = scoring_service.compiled_body(scoring_service.active(session).body)
    data = read(session.connection(), and_(Lead.created_at >= since), as_of_intake=True)
    before = score_table(data.leads, data.events, current, data.created, explain=False).totals
    after = score_table(data.leads, data.events, candidate, data.created, explain=False).totals
    threshold = candidate.model.threshold_high_value
    return {"leads": len(data.ids), "current": _summary(before, threshold), "candidate": _summary(after, threshold),
            "changed": int((before != after).sum())}


def _summary(totals: np.ndarray, threshold: int) -> dict[str, object]:
    hist, _ = np.histogram(totals, bins=np.arange(0, 110, 10))
    return {"histogram": hist.tolist(), "mean": round(float(totals.mean()), 2) if len(totals) else None,
            "high_value": int((totals >= threshold).sum())}
