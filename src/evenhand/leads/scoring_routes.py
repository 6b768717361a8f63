"""Scoring endpoints: the versioned rule model, validation, preview, and a lead's explained score."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from evenhand.deps import DbSession, DocumentEditor, DocumentReader, Reader
from evenhand.kit.clock import utcnow
from evenhand.kit.schema import DbId
from evenhand.kit.versions import DocumentText, Note, Validation, VersionRead
from evenhand.leads import repository, scoring_bulk, scoring_service, service
from evenhand.models import ScoringModelVersion

router = APIRouter(tags=["scoring"])
class ScoringModelDetail(VersionRead):
    body: str


class ScoringModelSave(DocumentText):
    note: Note = ""


class PreviewRequest(DocumentText):
    days: Annotated[int, Field(ge=1, le=365)] = 30


class Distribution(BaseModel):
    histogram: list[int]
    mean: float | None
    high_value: int


class Preview(BaseModel):
    leads: int
    changed: int
    current: Distribution
    candidate: Distribution


class ScoreLine(BaseModel):
    rule_id: str
    label: str
    group: str
    kind: str
    points: float


class Contribution(BaseModel):
    feature: str
    value: str | None
    delta: float


class PredictiveView(BaseModel):
    model_version: int
    probability: float
    up: list[Contribution]
    down: list[Contribution]


class LeadScore(BaseModel):
    lead_id: int
    score: int | None
    model_version: int | None
    scored_at: datetime | None
    lines: list[ScoreLine]
    predictive: PredictiveView | None


@router.get("/scoring/model", response_model=ScoringModelDetail)
def active_model(session: DbSession, _: DocumentReader) -> ScoringModelVersion:
    return scoring_service.active(session)


@router.get("/scoring/models", response_model=list[VersionRead])
def list_models(session: DbSession, _: DocumentReader) -> list[ScoringModelVersion]:
    scoring_service.active(session)
    return scoring_service.versions(session)


@router.get("/scoring/models/{version}", response_model=ScoringModelDetail)
def get_model(version: DbId, session: DbSession, _: DocumentReader) -> ScoringModelVersion:
    return scoring_service.version(session, version)


@router.put("/scoring/model", response_model=ScoringModelDetail)
def save_model(data: ScoringModelSave, session: DbSession, actor: DocumentEditor) -> ScoringModelVersion:
    """Saves a new version and makes it active; scores given from now on use it."""
    return scoring_service.save(session, data.body, author=actor, note=data.note)


@router.post("/scoring/validate", response_model=Validation)
def validate_model(data: DocumentText, _: DocumentEditor) -> Validation:
    """The problems in the text, each with its path and line; a text refused for what reading it would cost
    (size, depth, values, time) is an error (422), like a body over the length limit."""
    return scoring_service.MODELS.check(data.body)


@router.post("/scoring/preview", response_model=Preview)
def preview_model(data: PreviewRequest, session: DbSession, _: DocumentEditor) -> dict[str, Any]:
    """How the last ``days`` days of leads would score under this text, beside the active model."""
    candidate = scoring_service.validate(data.body)
    return scoring_bulk.preview(session, candidate, since=utcnow() - timedelta(days=data.days))


@router.get("/leads/{lead_id}/score", response_model=LeadScore)
def lead_score(lead_id: DbId, session: DbSession, principal: Reader) -> LeadScore:
    lead = service.visible_lead(session, lead_id, repository.readable(principal))
    lines = [ScoreLine(**line) for line in scoring_service.explanation(session, lead)]
    view = scoring_service.predictive_view(session, lead)
    return LeadScore(lead_id=lead.id, score=lead.score, model_version=lead.score_model_version,
                     scored_at=lead.scored_at, lines=lines, predictive=PredictiveView(**view) if view else None)
