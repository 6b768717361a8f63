"""Peer review (R3.4): a month's cycle of anonymous cross-team reviews on professionalism and collaboration.
Callers commit.

The promise of anonymity, and how it is kept:

- A review row holds whom it is about, the ratings and the comment; nothing of its writer or its time (its id is
  random). Submitting writes it and flips the writer's assignment to done (no time) in one transaction.
- The audit entry of a submission is written by the system (no actor) and names the cycle and the reviewee only.
- A reviewer reads their own assignments; nobody reads anyone else's. Admins and sales ops open and close cycles
  and read completion as counts for the whole cycle, never per reviewer.
- A reviewee's aggregate (their own, their supervisor's, staff's) shows only from the cycle's ``threshold``
  reviews (at least 3, never lowered); below it nothing is told, not even how many there are. From 5 reviews the
  highest and lowest rating of each dimension are left out. Comments come without names or dates, ordered by the
  reviews' random ids.

Opening a cycle (by hand, or by the worker in a month's first days when ``peer_review_auto`` is on) tells each
reviewer, and nobody else, how many reviews they have to write.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.errors import Conflict, Forbidden, Invalid, NotFound
from evenhand.i18n import N_, plural
from evenhand.kit import audit
from evenhand.kit.clock import as_utc
from evenhand.kit.text import require_clean
from evenhand.models import PeerReviewCycle, ReviewCycleStatus
from evenhand.notify import service as notify
from evenhand.performance import peer
from evenhand.performance import peer_repository as repository
from evenhand.performance.peer_repository import Person, Rating
from evenhand.performance.peer_schemas import (
    MONTH,
    Aggregate,
    AssignmentRead,
    CycleOpen,
    CycleRead,
    ReviewSubmit,
    Submitted,
)

log = logging.getLogger(__name__)
SUBJECT = "peer_review_cycles"
DUE, LINK = "peer_review_due", "/performance/peer"
DUE_TITLE = N_("Peer reviews to write for {period}")
DUE_ONE = N_("You have {count} peer review to write for {period}: rate a colleague from another team on "
             "professionalism and collaboration. Nobody learns which review is yours.")
DUE_MANY = N_("You have {count} peer reviews to write for {period}: rate colleagues from other teams on "
              "professionalism and collaboration. Nobody learns which review is yours.")
AUTO_DAYS = 7  # the worker opens last month's cycle in the month's first week only, never a stale one later
QUARTER = re.compile(r"^\d{4}-Q[1-4]$")
LOW_THRESHOLD = N_("The threshold is at least 3: with fewer reviews a rep could tell who wrote one.")


def month(text: str) -> str:
    """A month's key from 2000 to 2099; a quarter or anything else is refused naming ``period``."""
    value = text.strip()
    if QUARTER.match(value):
        raise Invalid(N_("Peer review runs by month (2026-09), not by quarter: {value}."), field="period", value=text)
    if not re.match(MONTH, value):
        raise Invalid(N_("A month is written YYYY-MM, from 2000 to 2099, not {value}."), field="period", value=text)
    return value


def _manager(actor: Principal | None) -> None:
    """Cycles are opened, changed and closed by admins and sales ops (or a command, which has no principal)."""
    if actor is not None and not actor.manages_org:
        raise Forbidden("Only admins and sales operations open, change and close peer review cycles.")


def _found(session: Session, period: str, *, for_update: bool = False) -> PeerReviewCycle:
    found = repository.cycle(session, month(period), for_update=for_update)
    if found is None:
        raise NotFound("No peer review cycle for {period}.", field="period", period=period)
    return found


# --- cycles --------------------------------------------------------------------------------------------------------


def open_cycle(session: Session, data: CycleOpen, *, actor: Principal | None, tell: bool = True) -> CycleRead:
    """Draw the month's assignments under ``seed`` (a fresh one by default) and open the cycle; audited. Each
    reviewer is told how many reviews they have to write (``tell``; the demo's past cycles tell nobody)."""
    _manager(actor)
    key = month(data.period)
    _check_threshold(data.threshold, data.per_reviewer)
    audit.lock(session)
    if repository.cycle(session, key) is not None:
        raise Conflict("A peer review cycle for {period} is open or was held already.", field="period", period=key)
    reps = repository.peers(session)
    seed = peer.new_seed() if data.seed is None else data.seed
    pairs = _draw(reps, data.per_reviewer, seed)
    cycle = PeerReviewCycle(period=key, seed=seed, per_reviewer=data.per_reviewer, threshold=data.threshold)
    session.add(cycle)
    session.flush()
    repository.assign(session, cycle.id, pairs)
    audit.append(session, action="peer.cycle_opened", subject_type=SUBJECT, subject_id=cycle.id,
                 actor_id=actor.user_id if actor else None,
                 payload={"period": key, "seed": seed, "per_reviewer": data.per_reviewer,
                          "threshold": data.threshold, "reps": len(reps)})
    if tell:
        _tell_reviewers(session, cycle, pairs)
    return read(session, cycle, staff=True)


def _tell_reviewers(session: Session, cycle: PeerReviewCycle, pairs: Sequence[peer.Pair]) -> None:
    """One message to each reviewer and nobody else: how many reviews they have to write, linking to the page
    (which lists whom). Its key makes a repeat a no-op."""
    load = Counter(reviewer for reviewer, _ in pairs)
    notify.send_all(session, [
        notify.Message(uid, DUE, DUE_TITLE, plural(count, DUE_ONE, DUE_MANY), link=LINK,
                       key=f"{DUE}:{cycle.id}:{uid}", params={"count": count, "period": cycle.period})
        for uid, count in sorted(load.items())])


def open_due(session: Session, now: datetime) -> CycleRead | None:
    """The worker's monthly cycle: in a month's first ``AUTO_DAYS`` local days, the previous month's cycle with the
    default reviewers and threshold, once. Nothing when one exists (opened by hand or by another worker: the
    chain's lock orders them) or when the teams make a draw impossible (logged, tried again at the next run)."""
    today = as_utc(now).astimezone(get_settings().zone).date()
    if today.day > AUTO_DAYS:
        return None
    key = (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    audit.lock(session)
    if repository.cycle(session, key) is not None:
        return None
    try:
        return open_cycle(session, CycleOpen(period=key), actor=None)
    except Invalid as problem:  # refused before anything is written
        log.warning("no peer review cycle for %s: %s", key, problem)
        return None


def _check_threshold(threshold: int, per_reviewer: int) -> None:
    if threshold < peer.MIN_THRESHOLD:
        raise Invalid(LOW_THRESHOLD, field="threshold")
    if threshold > per_reviewer:
        raise Invalid(N_("Each rep gets {per_reviewer} reviews: a threshold of {threshold} would never show one."),
                      field="threshold", per_reviewer=per_reviewer, threshold=threshold)


def _draw(reps: Sequence[peer.Peer], per_reviewer: int, seed: int) -> list[peer.Pair]:
    found = peer.problem(reps, per_reviewer)
    pairs = None if found else peer.draw(reps, per_reviewer, seed)
    if pairs is None:
        found = found or peer.Problem(N_("No draw gives every rep {per_reviewer} reviewers from other teams."),
                                      {"per_reviewer": per_reviewer})
        raise Invalid(found.message, field="per_reviewer", **found.params)
    return pairs


def raise_threshold(session: Session, period: str, threshold: int, *, actor: Principal | None) -> CycleRead:
    """A higher threshold for the cycle (never below 3, never lower than it is); audited."""
    _manager(actor)
    audit.lock(session)
    cycle = _found(session, period, for_update=True)
    _check_threshold(threshold, cycle.per_reviewer)
    if threshold < cycle.threshold:
        raise Invalid(N_("The threshold can be raised, never lowered: it is {current}."), field="threshold",
                      current=cycle.threshold)
    if threshold != cycle.threshold:
        audit.append(session, action="peer.threshold_raised", subject_type=SUBJECT, subject_id=cycle.id,
                     actor_id=actor.user_id if actor else None,
                     payload={"period": cycle.period, "from": cycle.threshold, "to": threshold})
        cycle.threshold = threshold
        session.flush()
    return read(session, cycle, staff=True)


def close_cycle(session: Session, period: str, *, actor: Principal | None) -> CycleRead:
    """No more reviews are taken; what was written stays. Audited with the cycle's counts."""
    _manager(actor)
    audit.lock(session)
    cycle = _found(session, period, for_update=True)
    if cycle.status is ReviewCycleStatus.CLOSED:
        raise Conflict("The peer review cycle of {period} is closed already.", field="period", period=cycle.period)
    cycle.status = ReviewCycleStatus.CLOSED
    session.flush()
    shown = read(session, cycle, staff=True)
    audit.append(session, action="peer.cycle_closed", subject_type=SUBJECT, subject_id=cycle.id,
                 actor_id=actor.user_id if actor else None,
                 payload={"period": cycle.period, "assignments": shown.assignments, "done": shown.done})
    return shown


def read(session: Session, cycle: PeerReviewCycle, *, staff: bool) -> CycleRead:
    """The cycle with its completion counts; the seed only for staff (with it and the reps, the pairs are redrawn)."""
    reps, total, done = repository.counts(session, [cycle.id]).get(cycle.id, (0, 0, 0))
    return CycleRead(period=cycle.period, status=cycle.status.value, seed=cycle.seed if staff else None,
                     per_reviewer=cycle.per_reviewer, threshold=cycle.threshold, reps=reps, assignments=total,
                     done=done)


def cycles(session: Session, principal: Principal) -> list[CycleRead]:
    return [read(session, c, staff=principal.reads_everything) for c in repository.cycles(session)]


def cycle(session: Session, principal: Principal, period: str) -> CycleRead:
    return read(session, _found(session, period), staff=principal.reads_everything)


def status(session: Session, period: str) -> CycleRead:
    """The cycle as staff read it (the seed included): for commands, run by whoever holds the database."""
    return read(session, _found(session, period), staff=True)


def latest(session: Session) -> str | None:
    """The most recent cycle's month, if any."""
    found = repository.cycles(session)
    return found[0].period if found else None


# --- writing reviews -----------------------------------------------------------------------------------------------


def assignments(session: Session, principal: Principal, period: str) -> list[AssignmentRead]:
    """The caller's own reviews to write (and written) in the month's cycle."""
    found = _found(session, period)
    is_open = found.status is ReviewCycleStatus.OPEN
    return [AssignmentRead(id=a.id, period=found.period, reviewee_id=p.user_id, reviewee=p.name, team=p.team,
                           done=a.done, open=is_open)
            for a, p in repository.own_assignments(session, found.id, principal.user_id)]


def submit(session: Session, data: ReviewSubmit, *, actor: Principal, review_id: str | None = None) -> Submitted:
    """Write the review and mark the assignment done, once; the audit entry names no writer. ``review_id`` is for
    the demo, whose ids come from its seed so that a build is reproducible; the API and the page never pass one."""
    require_clean(data.comment, field="comment")
    audit.lock(session)
    assigned = repository.assignment(session, data.assignment_id, actor.user_id)
    if assigned is None:
        raise NotFound("No review of yours to write with id {id}.", field="assignment_id", id=data.assignment_id)
    cycle = session.get(PeerReviewCycle, assigned.cycle_id)
    assert cycle is not None  # the foreign key
    if cycle.status is not ReviewCycleStatus.OPEN:
        raise Conflict("The peer review cycle of {period} is closed.", field="period", period=cycle.period)
    if not repository.mark_done(session, assigned.id):
        raise Conflict("This review was submitted already; a review cannot be changed.", field="assignment_id")
    repository.add_review(session, cycle.id, assigned.reviewee_id, data.professionalism, data.collaboration,
                          data.comment, review_id=review_id)
    audit.append(session, action="peer.review_submitted", subject_type=SUBJECT, subject_id=cycle.id,
                 actor_id=None, payload={"period": cycle.period, "reviewee_id": assigned.reviewee_id})
    return Submitted(period=cycle.period, reviewee_id=assigned.reviewee_id, done=True)


# --- aggregates ----------------------------------------------------------------------------------------------------


def aggregates(session: Session, principal: Principal, period: str, *, user_id: int | None = None
               ) -> list[Aggregate]:
    """The aggregates of the cycle's reviewees the caller reads: their own, their team's for a supervisor,
    everyone's for staff."""
    found = _found(session, period)
    people = repository.reviewees(session, principal, found.id, user_id)
    written = repository.ratings(session, found.id, [p.user_id for p in people])
    return [summary(found, person, written[person.user_id]) for person in people]


def aggregate(session: Session, principal: Principal, period: str, user_id: int) -> Aggregate:
    found = aggregates(session, principal, period, user_id=user_id)
    if not found:
        raise NotFound("No peer reviews of user {id} in {period} that you may read.", field="user_id", id=user_id,
                       period=period)
    return found[0]


def summary(cycle: PeerReviewCycle, person: Person, written: Sequence[Rating]) -> Aggregate:
    """Below the threshold: that there are not enough reviews, and nothing else."""
    shown = Aggregate(user_id=person.user_id, name=person.name, team=person.team, period=cycle.period,
                      threshold=cycle.threshold, enough=len(written) >= cycle.threshold)
    if not shown.enough:
        return shown
    professionalism, trimmed = peer.trimmed_mean([r.professionalism for r in written])
    collaboration, _ = peer.trimmed_mean([r.collaboration for r in written])
    comments = [r.comment for r in sorted(written, key=lambda r: r.id) if r.comment]
    return shown.model_copy(update={"reviews": len(written), "professionalism": professionalism,
                                    "collaboration": collaboration, "trimmed": trimmed, "comments": comments})
