"""Columnar reads of leads and their events for the vectorised scorer: rescoring and previews.

Rescoring a million leads has to fit in seconds, so the bulk reads and the score write-back go
through the database driver's cursor directly (plain tuples, ``executemany``) instead of ORM rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from evenhand.kit.clock import as_utc
from evenhand.kit.cursor import epoch_sql
from evenhand.leads import scoring_service
from evenhand.leads.predict import service as predict_service
from evenhand.leads.scoring import CompiledModel, EventTable, LeadTable, TableScores, score_table
from evenhand.leads.scoring.schema import EVENT_KINDS
from evenhand.models import Lead

Progress = Callable[[str, int, int], None]
WRITE_CHUNK = 50_000
PREDICT_CHUNK = 5_000
# Missing numbers come back as -1 so whole columns convert to numpy at once (and -1 becomes NaN).
_LEADS = ("SELECT id, {created}, COALESCE(company_size, -1), industry, region, title, source, email, phone"
          " FROM leads l {where} ORDER BY id")
# Event kinds come back as their index in EVENT_KINDS (-1 for others): integers convert far faster.
_KIND_CODE = "CASE e.kind " + " ".join(f"WHEN '{k}' THEN {i}" for i, k in enumerate(EVENT_KINDS)) + " ELSE -1 END"
_EVENTS = f"SELECT e.lead_id, {{occurred}}, COALESCE(e.dwell_seconds, -1), {_KIND_CODE} FROM behaviour_events e"


@dataclass(frozen=True)
class Columns:
    ids: np.ndarray
    created: np.ndarray  # epoch seconds
    leads: LeadTable
    events: EventTable


def _raw(conn: Connection, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql, tuple(params))
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _marker(conn: Connection) -> str:
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def read(conn: Connection, *, created_since: datetime | None = None, as_of_intake: bool = False) -> Columns:
    """Leads (all, or created since a moment) in id order with their events; ``as_of_intake`` keeps only
    the events that had happened when each lead was created."""
    clauses, params = [], []
    if created_since is not None:
        clauses.append(f"l.created_at >= {_marker(conn)}")
        params.append(_bind_time(conn, created_since))
    lead_where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    rows = _raw(conn, _LEADS.format(created=epoch_sql(conn, "l.created_at"), where=lead_where), params)
    table = np.array(rows, dtype=object).reshape(len(rows), 9)
    ids, created = table[:, 0].astype(np.int64), table[:, 1].astype(np.int64)
    text = [table[:, j].tolist() for j in range(3, 9)]
    leads = LeadTable(industry=text[0], company_size=_missing_as_nan(table[:, 2]), region=text[1], title=text[2],
                      source=text[3], email=text[4], phone=text[5])
    events = _raw(conn, _EVENTS.format(occurred=epoch_sql(conn, "e.occurred_at")))
    return Columns(ids, created, leads, _event_table(ids, created, events, as_of_intake))


def _missing_as_nan(column: np.ndarray) -> np.ndarray:
    values = column.astype(np.float64)
    values[values < 0] = np.nan
    return values


def _bind_time(conn: Connection, moment: datetime) -> datetime | str:
    """As the column stores it: naive UTC; on SQLite the exact text form SQLAlchemy writes, so text compares."""
    naive = as_utc(moment).replace(tzinfo=None)
    return naive.strftime("%Y-%m-%d %H:%M:%S.%f") if conn.dialect.name == "sqlite" else naive


def _event_table(ids: np.ndarray, created: np.ndarray, rows: list[tuple[Any, ...]],
                 as_of_intake: bool) -> EventTable:
    """Events of the leads read (others dropped), optionally only those before each lead was created."""
    table = np.array(rows, dtype=np.float64).reshape(len(rows), 4)  # all numeric; ids and seconds fit exactly
    lead_ids, at = table[:, 0].astype(np.int64), table[:, 1].astype(np.int64)
    index = np.searchsorted(ids, lead_ids)
    keep = index < len(ids)
    keep[keep] = ids[index[keep]] == lead_ids[keep]
    if as_of_intake:
        keep[keep] = at[keep] <= created[index[keep]]
    return EventTable(lead=index[keep], kind=table[keep, 3].astype(np.int8), occurred_at=at[keep],
                      dwell_seconds=_missing_as_nan(table[keep, 2]))


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
    number = model.version
    conn = session.connection()
    data = read(conn, as_of_intake=as_of_intake)
    report("read", len(data.ids), len(data.ids))
    probability = _probabilities(session, data.ids, compiled.weight)
    scores = score_table(data.leads, data.events, compiled, data.created if as_of_intake else now,
                         probability=probability)
    report("scored", len(data.ids), len(data.ids))
    _write(conn, data.ids, scores, probability, number, None if as_of_intake else now, report)
    return len(data.ids), number


def _write(conn: Connection, ids: np.ndarray, scores: TableScores, probability: np.ndarray | None, version: int,
           now: datetime | None, report: Progress) -> None:
    """Score, explanation bytes, probability, version and time per lead, by primary key, in one pass through
    the driver's executemany; ``now`` None dates each score at its lead's creation."""
    assert scores.points is not None
    points = np.ascontiguousarray(scores.points, dtype=scoring_service.POINTS_DTYPE)
    width = points.shape[1] * points.itemsize
    blob = points.tobytes()
    mark = _marker(conn)
    scored_at = "created_at" if now is None else mark
    sql = (f"UPDATE leads SET score = {mark}, score_points = {mark}, score_probability = {mark}, "
           f"score_model_version = {int(version)}, scored_at = {scored_at} WHERE id = {mark}")
    extra = () if now is None else (_bind_time(conn, now),)
    totals, id_list = scores.totals.tolist(), ids.tolist()
    chances = [None] * len(id_list) if probability is None else \
        [None if np.isnan(p) else p for p in probability.tolist()]
    cursor = conn.connection.cursor()
    try:
        for start in range(0, len(id_list), WRITE_CHUNK):
            end = min(start + WRITE_CHUNK, len(id_list))
            cursor.executemany(sql, [(totals[i], blob[i * width:(i + 1) * width], chances[i], *extra, id_list[i])
                                     for i in range(start, end)])
            report("written", end, len(id_list))
    finally:
        cursor.close()


def preview(session: Session, candidate: CompiledModel, *, since: datetime) -> dict[str, object]:
    """The leads created since ``since``, scored as they arrived, under the active model and the candidate."""
    current = scoring_service.compiled_body(scoring_service.active(session).body)
    data = read(session.connection(), created_since=since, as_of_intake=True)
    before = score_table(data.leads, data.events, current, data.created, explain=False).totals
    after = score_table(data.leads, data.events, candidate, data.created, explain=False).totals
    threshold = candidate.model.threshold_high_value
    return {"leads": len(data.ids), "current": _summary(before, threshold), "candidate": _summary(after, threshold),
            "changed": int((before != after).sum())}


def _summary(totals: np.ndarray, threshold: int) -> dict[str, object]:
    hist, _ = np.histogram(totals, bins=np.arange(0, 110, 10))
    return {"histogram": hist.tolist(), "mean": round(float(totals.mean()), 2) if len(totals) else None,
            "high_value": int((totals >= threshold).sum())}
