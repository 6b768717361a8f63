"""Scoring models as versioned data; scoring a lead when it arrives or behaves; bulk rescoring.

The rule model is a YAML document stored with every version (who, when, what changed). Exactly
one version is active; a database without one gets the shipped default as version 1 the first time
anything is scored. A lead's score is stored with the version that produced it and its explanation:
the points on each of that version's columns (``score_points``, float32) and the predictive
probability when one was blended in. Labels come from that version's document, so an explanation
always reads as it did when the score was given. The same bytes come out of the one-lead path and
the vectorised rescoring.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.i18n import N_, t
from evenhand.kit import revision
from evenhand.kit import versions as versions_kit
from evenhand.kit.clock import utcnow
from evenhand.kit.revision import Revisioned
from evenhand.leads.predict import service as predict_service
from evenhand.leads.scoring import (
    CompiledModel,
    Event,
    LeadFacts,
    ScoreResult,
    ScoringModelError,
    compile,
    parse,
    score,
)
from evenhand.leads.scoring.schema import MESSAGES, default_text
from evenhand.leads.scoring.vector import row_lines
from evenhand.models import BehaviourEvent, Lead, ScoringModelVersion

MODELS: versions_kit.Document[ScoringModelVersion, CompiledModel] = versions_kit.Document(
    ScoringModelVersion, compile=lambda body: compile(parse(body)), error=ScoringModelError, messages=MESSAGES,
    wrong=N_("The scoring model is wrong at {where} (line {line}): {problem}"),
    missing=N_("No scoring model version {version}."), default_text=default_text,
    default_note="the default model shipped with evenhand", name_of=lambda compiled: compiled.model.name,
    saved_action="scoring.model_saved")
compiled_body, validate, active = MODELS.compiled, MODELS.validate, MODELS.active
versions, version = MODELS.versions, MODELS.version


def save(session: Session, body: str, *, author: Principal | None, note: str = "") -> ScoringModelVersion:
    """Validate, store as the next version and make it active; the audit entry carries the diff."""
    return MODELS.save(session, body, author_id=author.user_id if author else None, note=note)


def facts(lead: Lead, events: Sequence[BehaviourEvent | Event]) -> LeadFacts:
    return LeadFacts(industry=lead.industry, company_size=lead.company_size, region=lead.region, title=lead.title,
                     source=lead.source, email=lead.email, phone=lead.phone,
                     events=tuple(e if isinstance(e, Event) else Event(e.kind.value, e.occurred_at, e.dwell_seconds)
                                  for e in events))


BLEND_LINE = "blend.predictive"
POINTS_DTYPE = np.dtype("<f4")


def points_bytes(compiled: CompiledModel, result: ScoreResult) -> bytes:
    """The explanation as stored: one float32 per column of the model version, zero where nothing fired."""
    index = compiled.column_index()
    row = np.zeros(len(compiled.columns), dtype=POINTS_DTYPE)
    for line in result.lines:
        row[index[line.rule_id]] = line.points
    return row.tobytes()


def probabilities(session: Session, leads: Sequence[Lead], weight: float) -> list[float | None]:
    """The active predictive model's conversion probability per lead (as at intake) when the rule model
    blends it in; None otherwise."""
    active_model = predict_service.load_active(session) if weight > 0 else None
    if active_model is None:
        return [None] * len(leads)
    rows = {row["id"]: row for row in predict_service.intake_rows(session, [lead.id for lead in leads])}
    known = [lead for lead in leads if lead.id in rows]
    found = dict(zip([lead.id for lead in known],
                     active_model.model.predict_proba([rows[lead.id] for lead in known]).tolist(), strict=True))
    return [found.get(lead.id) for lead in leads]


_EVENTS_OF = select(BehaviourEvent).where(BehaviourEvent.lead_id.in_(bindparam("ids", expanding=True)))


def _events_of(session: Session, lead_ids: Sequence[int]) -> dict[int, list[BehaviourEvent]]:
    grouped: dict[int, list[BehaviourEvent]] = {i: [] for i in lead_ids}
    if lead_ids:
        for event in session.scalars(_EVENTS_OF, {"ids": list(lead_ids)}):
            grouped[event.lead_id].append(event)
    return grouped


def score_leads(session: Session, leads: Sequence[Lead], *, now: datetime | None = None,
                events: Mapping[int, Sequence[BehaviourEvent | Event]] | None = None, at_arrival: bool = False) -> None:
    """Score with the active model as of ``now`` (default: this moment; ``at_arrival``: each lead's creation)
    and store score and explanation. ``events``: every event of these leads by lead id, when the caller holds
    them all (leads taken in by this transaction have only those they came with); else they are read."""
    if not leads:
        return
    if events is None:
        events = _events_of(session, [lead.id for lead in leads])
    _score(session, [(lead, events[lead.id]) for lead in leads], _active_compiled(session), now or utcnow(),
           at_arrival=at_arrival)
    session.flush()


def score_arriving(session: Session, arriving: Sequence[tuple[Lead, Sequence[Event]]]) -> bool:
    """Score leads not stored yet, as of now, with the events they came with, so their INSERT carries the score —
    unless the active model blends in the predictive model, which reads the stored lead: then nothing is scored,
    and False says so (the caller scores them once stored)."""
    active_model = _active_compiled(session)
    if active_model[1].weight > 0:
        return False
    _score(session, arriving, active_model, utcnow(), at_arrival=False)
    return True


def _score(session: Session, scored: Sequence[tuple[Lead, Sequence[BehaviourEvent | Event]]],
           active_model: tuple[int, CompiledModel], at: datetime, *, at_arrival: bool) -> None:
    number, compiled = active_model
    leads = [lead for lead, _ in scored]
    for (lead, events), probability in zip(scored, probabilities(session, leads, compiled.weight), strict=True):
        when = lead.created_at if at_arrival else at
        result = score(facts(lead, events), compiled, when, probability)
        lead.score, lead.score_points = result.total, points_bytes(compiled, result)
        lead.score_probability, lead.score_model_version, lead.scored_at = probability, number, when


_ACTIVE: Revisioned[None, tuple[int, CompiledModel]] = Revisioned(keep=4)


def _active_compiled(session: Session) -> tuple[int, CompiledModel]:
    """The active version's number and compiled model, read once per configuration revision in this process."""
    return _ACTIVE.get(session, revision.current(session), None, lambda: _read_active(session))


def _read_active(session: Session) -> tuple[int, CompiledModel]:
    model = active(session)
    return model.version, compiled_body(model.body)


def predictive_view(session: Session, lead: Lead) -> dict[str, Any] | None:
    """The active predictive model's view of this lead as it arrived: its probability and the inputs that
    pushed it up and down most (None when no model is trained)."""
    active_model = predict_service.load_active(session)
    rows = predict_service.intake_rows(session, [lead.id]) if active_model else []
    if active_model is None or not rows:
        return None
    probability = float(active_model.model.predict_proba(rows)[0])
    parts = predict_service.explain(active_model.model, rows[0])
    def shown(c: Any) -> dict[str, Any]:
        return {"feature": c.feature, "value": None if c.value is None else str(c.value), "delta": round(c.delta, 4)}

    return {"model_version": active_model.version, "probability": round(probability, 4),
            "up": [shown(c) for c in parts if c.delta > 0], "down": [shown(c) for c in parts if c.delta < 0]}


def explanation(session: Session, lead: Lead) -> list[dict[str, Any]]:
    """The lead's stored lines with the labels of the version that scored it; a blend line when one applied."""
    if lead.score_model_version is None or lead.score_points is None:
        return []
    compiled = compiled_body(version(session, lead.score_model_version).body)
    row = np.frombuffer(lead.score_points, dtype=POINTS_DTYPE)
    out = [{"rule_id": line.rule_id, "label": line.label, "group": line.group, "kind": line.kind,
            "points": round(line.points, 3)} for line in row_lines(compiled, row)]
    if lead.score_probability is not None and lead.score is not None:
        out.append({"rule_id": BLEND_LINE, "group": "blend", "kind": "blend",
                    "points": round(lead.score - float(row.sum(dtype=np.float64)), 3),
                    "label": t("Predictive model: {p}% likely to convert", p=round(100 * lead.score_probability))})
    return out
