"""Scoring endpoints: the versioned rule model, validation, preview, and a lead's explained score."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from evenhand.deps import DbSession, DocumentEditor, DocumentReader, Reader
from evenhand.errors import Invalid
from evenhand.kit import yamldoc
from evenhand.kit.clock import utcnow
from evenhand.kit.schema import DEFERRED, DbId, Strict
from evenhand.leads import repository, scoring_bulk, scoring_service, service
from evenhand.models import ScoringModelVersion

router = APIRouter(tags=["scoring"])
# The document reader checks its characters, naming the line (``kit.yamldoc``).
Body = Annotated[str, Field(min_length=1, max_length=200_000), DEFERRED]


class ScoringModelRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    version: int
    name: str
    note: str
    active: bool
    author_id: int | None
    created_at: datetime


class ScoringModelDetail(ScoringModelRead):
    body: str


class ScoringModelSave(Strict):
    body: Body
    note: Annotated[str, Field(max_length=500)] = ""


class ModelText(Strict):
    body: Body


class Problem(BaseModel):
    field: str
    line: int | None
    message: str


class Validation(BaseModel):
    valid: bool
    problems: list[Problem]


class PreviewRequest(Strict):
    body: Body
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


@router.get("/scoring/models", response_model=list[ScoringModelRead])
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
def validate_model(data: ModelText, _: DocumentEditor) -> Validation:
    """The problems in the text, each with its path and line; a text refused for what reading it would cost
    (size, depth, values, time) is an error (422), like a body over the length limit."""
    try:
        scoring_service.validate(data.body)
    except Invalid as exc:
        if yamldoc.refused(exc):
            raise
        return Validation(valid=False, problems=[Problem(**d) for d in exc.details or []])
    return Validation(valid=True, problems=[])


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
