"""Call QA endpoints (/api/v1/qa): samples (list, draw, verify), reviews (queue, list, read, save), the rep's
acknowledgement and coaching items, trends, the rubric document, and the recording of a call."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import FileResponse

from evenhand.deps import DbSession, OrgManager, Reader, Writer
from evenhand.i18n import current_locale
from evenhand.kit.schema import DbId
from evenhand.kit.versions import DocumentText, Note, VersionRead
from evenhand.models import QaSample, ReviewStatus
from evenhand.qa import audio, service
from evenhand.qa.schemas import (
    CoachingItem,
    DrawRequest,
    Period,
    ReviewRead,
    ReviewSave,
    SampleRead,
    Seed,
    Trends,
    Verification,
)
from evenhand.web import document_routes

router = APIRouter(prefix="/qa", tags=["qa"])


class RubricDetail(VersionRead):
    body: str


class RubricSave(DocumentText):
    note: Note = ""


document_routes.add(router, "/rubric", service.RUBRIC, noun="rubric", detail=RubricDetail, save_body=RubricSave,
                    save=service.save_rubric, saved="A new active version (admin, ops); audited with its diff. Reviews "
                    "keep the version they were scored under.")


def _sample(sample: QaSample, ids: list[int]) -> SampleRead:
    return SampleRead(id=sample.id, period=sample.period, seed=sample.seed, share=sample.share, calls=sample.calls,
                      drawn=sample.drawn, drawn_at=sample.drawn_at, drawn_by=sample.drawn_by, current=sample.current,
                      activity_ids=ids)


@router.get("/samples", response_model=list[SampleRead])
def list_samples(session: DbSession, _: Reader, period: Period | None = None) -> list[SampleRead]:
    """Every draw, newest period first, with its seed, share and the sampled call ids."""
    return [_sample(s, ids) for s, ids in service.samples(session, period)]


@router.post("/samples", response_model=SampleRead)
def draw_sample(data: DrawRequest, session: DbSession, actor: OrgManager) -> SampleRead:
    """Draw a period's sample (admin, ops): with a seed drawn before, the same calls again; with a new seed (or
    none: a fresh one), a new current sample. Audited."""
    drawn = service.draw(session, data.period, seed=data.seed, share=data.share, actor_id=actor.user_id)
    return _sample(drawn.sample, drawn.ids)


@router.get("/samples/{period}/verify", response_model=Verification)
def verify_sample(period: Period, session: DbSession, _: Reader, seed: Seed | None = None) -> Verification:
    """Draw the stored sample again from its seed and share and say whether the calls are the same."""
    return service.verify(session, period, seed)


@router.get("/queue", response_model=list[ReviewRead])
def review_queue(session: DbSession, principal: Reader) -> list[ReviewRead]:
    """The current samples' calls waiting for a review the caller may give (their team's, or everyone's for ops)."""
    return service.queue(session, principal)


@router.get("/reviews", response_model=list[ReviewRead])
def list_reviews(session: DbSession, principal: Reader, status: ReviewStatus | None = None,
                 rep_id: DbId | None = None, period: Period | None = None,
                 limit: Annotated[int, Query(ge=1, le=500)] = 200) -> list[ReviewRead]:
    """Reviews of the calls the caller reads (a rep's own, a supervisor's teams', everyone's for staff)."""
    return service.listed(session, principal, status=status, rep_id=rep_id, period=period, limit=limit)


@router.get("/reviews/{review_id}", response_model=ReviewRead)
def get_review(review_id: DbId, session: DbSession, principal: Reader) -> ReviewRead:
    return service.detail(session, principal, review_id)


@router.put("/reviews/{review_id}", response_model=ReviewRead)
def save_review(review_id: DbId, data: ReviewSave, session: DbSession, actor: Writer) -> ReviewRead:
    """Score every criterion of the active rubric 1–5, with a comment and coaching items; the rep is told. The
    supervisor of the rep's team, sales ops or an admin; never the rep. Audited."""
    return service.save_review(session, review_id, data, actor=actor)


@router.post("/reviews/{review_id}/acknowledge", response_model=ReviewRead)
def acknowledge(review_id: DbId, session: DbSession, actor: Writer) -> ReviewRead:
    """The rep confirms they read the feedback. Audited."""
    return service.acknowledge(session, review_id, actor=actor)


@router.post("/reviews/{review_id}/coaching/{index}/done", response_model=ReviewRead)
def coaching_done(review_id: DbId, index: Annotated[int, Path(ge=0, le=100)], session: DbSession,
                  actor: Writer) -> ReviewRead:
    """A coaching item is done (the rep or their reviewer): it no longer carries into the next period."""
    return service.coaching_done(session, review_id, index, actor=actor)


@router.get("/coaching", response_model=list[CoachingItem])
def open_coaching(session: DbSession, principal: Reader, rep_id: DbId | None = None) -> list[CoachingItem]:
    """A rep's coaching items not yet done (the caller's own by default)."""
    return service.open_coaching(session, principal, rep_id or principal.user_id)


@router.get("/trends", response_model=Trends)
def trends(session: DbSession, principal: Reader, until: Period | None = None,
           periods: Annotated[int, Query(ge=1, le=24)] = service.TREND_PERIODS) -> dict[str, Any]:
    """Average score per criterion per month, per rep and team the caller reads."""
    return service.trends(session, principal, until=until, periods=periods, locale=current_locale())


@router.get("/recordings/{activity_id}", response_class=FileResponse)
def recording(activity_id: DbId, session: DbSession, principal: Reader) -> FileResponse:
    """The call's recording, streamed (ranges supported), for whoever reads the call."""
    path = service.recording(session, principal, activity_id)
    return FileResponse(path, media_type=audio.media_type(path), headers={"Cache-Control": "private, no-store"})
