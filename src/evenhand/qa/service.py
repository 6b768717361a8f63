"""Call QA: each period's seeded, stratified sample of recorded outbound calls; reviews against the versioned
rubric; the rep's feedback, acknowledgement and coaching items; trends per rep and team. Callers commit.

Who reviews: the supervisor of the rep's team, sales ops or an admin — never the rep themself, never an auditor.
Who reads a review: whoever reads the rep's records (``auth.visibility``). A new draw of a period (a new seed)
becomes its current sample; reviews finished under an earlier sample stay with it (in the rep's feedback and the
trends), and a call drawn again starts out with its finished review copied, so nobody reviews it twice."""

from __future__ import annotations

import calendar
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from evenhand.activities import service as activity_service
from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.errors import Conflict, Forbidden, Invalid, NotFound
from evenhand.i18n import N_
from evenhand.kit import audit
from evenhand.kit import versions as versions_kit
from evenhand.kit.clock import as_utc, local, utcnow
from evenhand.models import Activity, QaReview, QaSample, ReviewStatus, RubricVersion
from evenhand.notify import service as notify
from evenhand.qa import audio, repository, sampling
from evenhand.qa.repository import FINISHED
from evenhand.qa.rubric import MESSAGES, CompiledRubric, RubricError, compile, default_text, parse
from evenhand.qa.schemas import BAD_PERIOD, PERIOD, CoachingItem, ReviewRead, ReviewSave, Verification

RUBRIC: versions_kit.Document[RubricVersion, CompiledRubric] = versions_kit.Document(
    RubricVersion, compile=lambda body: compile(parse(body)), error=RubricError, messages=MESSAGES,
    wrong=N_("The QA rubric is wrong at {where} (line {line}): {problem}"),
    missing=N_("No QA rubric version {version}."), default_text=default_text,
    default_note="the default rubric shipped with evenhand", name_of=lambda compiled: compiled.name,
    saved_action="qa.rubric_saved")
KIND = "qa_feedback"
LINK = "/qa"
FEEDBACK_TITLE = N_("Feedback on your call of {day}")
FEEDBACK_BODY = N_("{reviewer} reviewed your call: {average} on average. Read the feedback and acknowledge it.")
TREND_PERIODS = 6


def rubric(session: Session) -> CompiledRubric:
    return RUBRIC.compiled(RUBRIC.active(session).body)


def save_rubric(session: Session, body: str, *, author: Principal | None, note: str = "") -> RubricVersion:
    """Validate, store as the next active version; the audit entry carries the diff. Reviews keep their version."""
    return RUBRIC.save(session, body, author_id=author.user_id if author else None, note=note)


# --- periods -------------------------------------------------------------------------------------------------------


def bounds(period: str) -> tuple[datetime, datetime]:
    """The month ``YYYY-MM`` in the company's zone, as [start, end) instants."""
    found = PERIOD.match(period)
    if found is None:
        raise Invalid(BAD_PERIOD, field="period", value=period)
    year, month = int(found.group(1)), int(found.group(2))
    zone = get_settings().zone
    start = datetime(year, month, 1, tzinfo=zone)
    end = start + timedelta(days=calendar.monthrange(year, month)[1])
    return as_utc(start), as_utc(end)


def period_of(at: datetime) -> str:
    return local(at, get_settings().zone).strftime("%Y-%m")


def previous_period(now: datetime) -> str:
    first = local(now, get_settings().zone).date().replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


# --- drawing -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Drawn:
    sample: QaSample
    ids: list[int]
    fresh: bool  # False: the seed had been drawn for the period before, and its sample is current again


def draw(session: Session, period: str, *, seed: int | None = None, share: float | None = None,
         actor_id: int | None = None) -> Drawn:
    """The period's sample under ``seed`` (a fresh one by default) as its current sample; audited."""
    start, end = bounds(period)
    earlier = repository.by_seed(session, period, seed) if seed is not None else None
    if earlier is not None:
        return _again(session, earlier, share, actor_id)
    chosen_seed, chosen_share = sampling.new_seed() if seed is None else seed, share or get_settings().qa_share
    ids, reps = repository.population(session, start, end)
    result = sampling.draw(ids, reps, chosen_share, chosen_seed)
    repository.retire(session, period)
    sample = QaSample(period=period, seed=chosen_seed, share=chosen_share, calls=result.calls,
                      drawn=len(result.ids), drawn_by=actor_id, current=True)
    session.add(sample)
    session.flush()
    _reviews(session, sample, result.ids, dict(zip(ids.tolist(), reps.tolist(), strict=True)))
    picked = result.ids.tolist()
    _audit_draw(session, sample, picked, actor_id)
    return Drawn(sample, picked, True)


def _again(session: Session, sample: QaSample, share: float | None, actor_id: int | None) -> Drawn:
    if share is not None and share != sample.share:
        raise Conflict("Seed {seed} was drawn for {period} with the share {share}; a draw with another share needs "
                       "another seed.", field="share", seed=sample.seed, period=sample.period, share=sample.share)
    if not sample.current:
        repository.retire(session, sample.period)
        sample.current = True
        session.flush()
        audit.append(session, action="qa.sample_restored", subject_type="qa_samples", subject_id=sample.id,
                     actor_id=actor_id, payload={"period": sample.period, "seed": sample.seed})
    return Drawn(sample, repository.sampled_ids(session, sample.id), False)


def _reviews(session: Session, sample: QaSample, ids: np.ndarray, reps: dict[int, int]) -> None:
    """A pending review per sampled call; a call reviewed under an earlier sample of the period keeps its review."""
    done = repository.finished_in(session, sample.period)
    kept = ("status", "reviewer_id", "rubric_version", "scores", "comment", "coaching", "reviewed_at",
            "acknowledged_at")
    fresh = [i for i in ids.tolist() if i not in done]
    repository.insert_reviews(session, [{"sample_id": sample.id, "activity_id": i, "rep_id": reps[i]} for i in fresh])
    session.add_all([QaReview(sample_id=sample.id, activity_id=i, rep_id=reps[i],
                              **{k: getattr(done[i], k) for k in kept}) for i in ids.tolist() if i in done])
    session.flush()


def _audit_draw(session: Session, sample: QaSample, ids: list[int], actor_id: int | None) -> None:
    digest = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()
    audit.append(session, action="qa.sampled", subject_type="qa_samples", subject_id=sample.id, actor_id=actor_id,
                 payload={"period": sample.period, "seed": sample.seed, "share": sample.share, "calls": sample.calls,
                          "drawn": sample.drawn, "ids_sha256": digest})


def draw_due(session: Session, now: datetime) -> Drawn | None:
    """The worker's monthly draw: last month's sample, once, when it has none yet and had recorded calls."""
    period = previous_period(now)
    if repository.samples(session, period):
        return None
    start, end = bounds(period)
    if not len(repository.population(session, start, end)[0]):
        return None
    return draw(session, period)


def sample_of(session: Session, period: str, seed: int | None = None) -> QaSample:
    bounds(period)
    found = repository.by_seed(session, period, seed) if seed is not None else repository.current(session, period)
    if found is None:
        raise NotFound("No QA sample for {period}.", field="period", period=period)
    return found


def verify(session: Session, period: str, seed: int | None = None) -> Verification:
    """The stored sample against a fresh draw from its seed and share over the period's calls as they are now."""
    sample = sample_of(session, period, seed)
    ids, reps = repository.population(session, *bounds(period))
    again = sampling.draw(ids, reps, sample.share, sample.seed).ids.tolist()
    stored = repository.sampled_ids(session, sample.id)
    return Verification(period=period, seed=sample.seed, share=sample.share, calls_then=sample.calls,
                        calls_now=len(ids), stored=stored, recomputed=again, matches=stored == again)


def samples(session: Session, period: str | None = None) -> list[tuple[QaSample, list[int]]]:
    if period is not None:
        bounds(period)
    return [(s, repository.sampled_ids(session, s.id)) for s in repository.samples(session, period)]


# --- who may do what -----------------------------------------------------------------------------------------------


def may_review(principal: Principal, rep_id: int, team_id: int | None) -> bool:
    """Sales ops and admin, or the supervisor of the rep's team; never one's own calls, never an auditor."""
    if not principal.can_write or rep_id == principal.user_id:
        return False
    return principal.manages_org or (team_id is not None and team_id in principal.supervised_team_ids)


def reviews_anyone(principal: Principal) -> bool:
    return principal.can_write and (principal.manages_org or bool(principal.supervised_team_ids))


def _visible(session: Session, principal: Principal, review_id: int, *, lock: bool = False) -> tuple[Any, ...]:
    """The review with its period, call and rep; ``lock``: for a change, held until commit (the audit chain's lock
    first, then the row, as every writer takes them) so a revision and the rep's acknowledgement cannot cross."""
    stmt = repository.readable(principal).where(QaReview.id == review_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        audit.lock(session)
        stmt = stmt.with_for_update(of=QaReview)
    row = repository.rows(session, stmt)
    if not row:
        raise NotFound("No QA review with id {id}.", field="review_id", id=review_id)
    return tuple(row[0])


# --- reading -------------------------------------------------------------------------------------------------------


def listed(session: Session, principal: Principal, *, status: ReviewStatus | None = None, rep_id: int | None = None,
           current_only: bool = False, period: str | None = None, periods: list[str] | None = None,
           limit: int = 200) -> list[ReviewRead]:
    """Reviews the principal reads, newest calls first (a pending queue: oldest first)."""
    stmt = repository.readable(principal)
    if status is not None:
        stmt = stmt.where(QaReview.status == status)
    if rep_id is not None:
        stmt = stmt.where(QaReview.rep_id == rep_id)
    if current_only:
        stmt = stmt.where(QaSample.current.is_(True))
    if period is not None:
        stmt = stmt.where(QaSample.period == period)
    if periods is not None:
        stmt = stmt.where(QaSample.period.in_(periods))
    order = Activity.occurred_at.asc() if status is ReviewStatus.PENDING else Activity.occurred_at.desc()
    return _reads(session, principal, repository.rows(session, stmt.order_by(order, QaReview.id).limit(limit)))


def queue(session: Session, principal: Principal, *, limit: int = 200) -> list[ReviewRead]:
    """The current samples' calls waiting for a review that the principal may give."""
    pending = listed(session, principal, status=ReviewStatus.PENDING, current_only=True, limit=limit)
    return [r for r in pending if r.may_review]


def feedback(session: Session, principal: Principal) -> list[ReviewRead]:
    """The principal's own finished reviews (reviewed, then acknowledged), newest call first."""
    return [r for r in listed(session, principal, rep_id=principal.user_id, limit=500) if r.status in FINISHED]


def detail(session: Session, principal: Principal, review_id: int) -> ReviewRead:
    return _reads(session, principal, [_visible(session, principal, review_id)])[0]


def _reads(session: Session, principal: Principal, rows: Sequence[Any]) -> list[ReviewRead]:
    reviewers = repository.names(session, {r[0].reviewer_id for r in rows if r[0].reviewer_id})
    return [_read(review, period, current, act, name, team, reviewers, principal)
            for review, period, current, act, name, team in rows]


def _read(review: QaReview, period: str, current: bool, act: Any, name: str, team: int | None,
          reviewers: dict[int, str], principal: Principal) -> ReviewRead:
    scores = {k: v for k, v in (review.scores or {}).items() if isinstance(v, int)}
    return ReviewRead(
        id=review.id, sample_id=review.sample_id, period=period, current=current, activity_id=review.activity_id,
        rep_id=review.rep_id, rep=name, team_id=team, status=review.status, reviewer_id=review.reviewer_id,
        reviewer=reviewers.get(review.reviewer_id) if review.reviewer_id else None,
        rubric_version=review.rubric_version, scores=scores,
        average=round(sum(scores.values()) / len(scores), 2) if scores else None, comment=review.comment,
        coaching=_items(review, period), reviewed_at=review.reviewed_at, acknowledged_at=review.acknowledged_at,
        call_at=act.occurred_at, duration_seconds=act.duration_seconds, lead_id=act.lead_id,
        opportunity_id=act.opportunity_id, recording=f"/api/v1/qa/recordings/{review.activity_id}",
        may_review=may_review(principal, review.rep_id, team))


def _items(review: QaReview, period: str | None = None) -> list[CoachingItem]:
    return [CoachingItem(review_id=review.id, index=i, text=str(item.get("text", "")), done=bool(item.get("done")),
                         done_at=item.get("done_at"), period=period) for i, item in enumerate(review.coaching or [])]


def open_coaching(session: Session, principal: Principal, rep_id: int) -> list[CoachingItem]:
    """The rep's coaching items not yet done, from every finished review, oldest first: they carry into each next
    period until someone marks them done."""
    reads = [r for r in listed(session, principal, rep_id=rep_id, limit=500) if r.status in FINISHED]
    return [item for r in sorted(reads, key=lambda r: (r.reviewed_at or r.call_at, r.id)) for item in r.coaching
            if not item.done]


# --- reviewing, acknowledging, coaching ----------------------------------------------------------------------------


def save_review(session: Session, review_id: int, data: ReviewSave, *, actor: Principal,
                now: datetime | None = None) -> ReviewRead:
    """Score the call against the active rubric (every criterion, 1–5), with a comment and coaching items; audited,
    and the rep is told. A review may be revised until the rep acknowledges it."""
    review, _period, _current, act, _name, team = _visible(session, actor, review_id, lock=True)
    if not may_review(actor, review.rep_id, team):
        raise Forbidden("Only the supervisor of the rep's team, sales ops or an admin review this call.",
                        field="review_id")
    if review.status is ReviewStatus.ACKNOWLEDGED:
        raise Conflict("The rep has acknowledged this review; it can no longer change.", field="review_id")
    version = RUBRIC.active(session)
    _check_scores(RUBRIC.compiled(version.body), data.scores)
    at = as_utc(now or utcnow())
    review.status, review.reviewer_id, review.rubric_version = ReviewStatus.REVIEWED, actor.user_id, version.version
    review.scores, review.comment, review.reviewed_at = dict(data.scores), data.comment, at
    review.coaching = [{"text": text, "done": False, "done_at": None} for text in data.coaching]
    session.flush()
    audit.append(session, action="qa.reviewed", subject_type="qa_reviews", subject_id=review.id,
                 actor_id=actor.user_id, at=at, payload={"activity_id": review.activity_id, "rep_id": review.rep_id,
                                                         "rubric_version": version.version, "scores": review.scores})
    _tell(session, review, act.occurred_at, actor)
    return detail(session, actor, review.id)


def _check_scores(rubric: CompiledRubric, scores: dict[str, int]) -> None:
    unknown = sorted(set(scores) - set(rubric.criteria))
    if unknown:
        raise Invalid("{criterion} is not a criterion of the rubric.", field=f"scores.{unknown[0]}",
                      criterion=unknown[0])
    missing = [k for k in rubric.criteria if k not in scores]
    if missing:
        raise Invalid("Score {criterion} too: every criterion of the rubric gets a score.",
                      field=f"scores.{missing[0]}", criterion=missing[0])


def _tell(session: Session, review: QaReview, call_at: datetime, actor: Principal) -> None:
    average = sum(review.scores.values()) / len(review.scores)
    notify.send(session, recipient_id=review.rep_id, kind=KIND, title=FEEDBACK_TITLE, body=FEEDBACK_BODY, link=LINK,
                day=local(call_at, get_settings().zone).strftime("%Y-%m-%d"), reviewer=actor.display_name,
                average=f"{average:.1f}")


def acknowledge(session: Session, review_id: int, *, actor: Principal, now: datetime | None = None) -> ReviewRead:
    """The rep confirms they read the feedback on their call; only they can, once; audited."""
    review = _visible(session, actor, review_id, lock=True)[0]
    if review.rep_id != actor.user_id:
        raise Forbidden("Only the rep whose call it is acknowledges the feedback.", field="review_id")
    if review.status is not ReviewStatus.REVIEWED:
        raise Conflict("There is no new feedback to acknowledge on this call ({status}).", field="review_id",
                       status=review.status.value)
    at = as_utc(now or utcnow())
    review.status, review.acknowledged_at = ReviewStatus.ACKNOWLEDGED, at
    session.flush()
    audit.append(session, action="qa.acknowledged", subject_type="qa_reviews", subject_id=review.id,
                 actor_id=actor.user_id, at=at, payload={"activity_id": review.activity_id})
    return detail(session, actor, review.id)


def coaching_done(session: Session, review_id: int, index: int, *, actor: Principal,
                  now: datetime | None = None) -> ReviewRead:
    """The rep, or whoever may review them, marks a coaching item done: it stops carrying into later periods."""
    review, _period, _current, _act, _name, team = _visible(session, actor, review_id, lock=True)
    if review.rep_id != actor.user_id and not may_review(actor, review.rep_id, team):
        raise Forbidden("Only the rep or their reviewers mark coaching done.", field="review_id")
    items = [dict(item) for item in review.coaching or []]
    if not 0 <= index < len(items):
        raise NotFound("No coaching item {index} on this review.", field="index", index=index)
    if not items[index].get("done"):
        items[index].update(done=True, done_at=as_utc(now or utcnow()).isoformat())
        review.coaching = items
        session.flush()
        audit.append(session, action="qa.coaching_done", subject_type="qa_reviews", subject_id=review.id,
                     actor_id=actor.user_id, payload={"index": index, "text": items[index].get("text", "")})
    return detail(session, actor, review.id)


# --- the recording -------------------------------------------------------------------------------------------------


def recording(session: Session, principal: Principal, activity_id: int) -> Any:
    """The file of a call's recording, for whoever reads the call."""
    act = activity_service.visible_activity(session, principal, activity_id)
    if not act.recording_ref:
        raise NotFound("Call {id} has no recording.", field="activity_id", id=activity_id)
    return audio.locate(act.recording_ref)


# --- trends --------------------------------------------------------------------------------------------------------


def trends(session: Session, principal: Principal, *, until: str | None = None, periods: int = TREND_PERIODS,
           locale: str = "en") -> dict[str, Any]:
    """The average score per criterion per period (months, the last ``periods`` up to ``until``) for each rep and
    team the principal reads. A call reviewed under two samples of a period counts once."""
    months = _months(until or period_of(utcnow()), periods)
    finished = [r for r in listed(session, principal, periods=months, limit=100_000) if r.status in FINISHED]
    latest: dict[tuple[str, int], Any] = {}
    for r in sorted(finished, key=lambda r: (r.reviewed_at or r.call_at, r.id)):
        latest[(r.period, r.activity_id)] = r
    compiled = rubric(session)
    criteria = list(compiled.criteria)
    teams = repository.team_names(session)
    by_rep = _lines(latest.values(), lambda r: (r.rep_id, r.rep), months, criteria)
    by_team = _lines(latest.values(), lambda r: (r.team_id, teams.get(r.team_id, "—") if r.team_id else "—"),
                     months, criteria)
    return {"criteria": criteria, "labels": {k: compiled.label(k, locale) for k in criteria}, "periods": months,
            "reps": by_rep, "teams": by_team}


def _months(until: str, count: int) -> list[str]:
    bounds(until)
    year, month = int(until[:4]), int(until[5:])
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out[::-1]


def _lines(reads: Iterable[Any], key: Any, months: list[str], criteria: list[str]) -> list[dict[str, Any]]:
    groups: dict[tuple[Any, str], dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for r in reads:
        groups[key(r)][r.period].append(r)
    return [{"id": ident, "name": name, "periods": [_averages(p, got.get(p, []), criteria) for p in months]}
            for (ident, name), got in sorted(groups.items(), key=lambda g: (g[0][1], g[0][0] or 0))]


def _averages(period: str, reads: list[Any], criteria: list[str]) -> dict[str, Any]:
    def mean(key: str) -> float | None:
        values = [r.scores[key] for r in reads if key in r.scores]
        return round(sum(values) / len(values), 2) if values else None

    return {"period": period, "reviews": len(reads), "averages": {k: mean(k) for k in criteria}}
