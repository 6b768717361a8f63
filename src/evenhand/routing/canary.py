"""Canaries: a candidate routing policy version serving a share of leads beside the active version (the control),
each lead sent to one arm by a stable hash of the lead. Callers commit.

One canary runs at a time, and while it runs the active version cannot be saved (``policy_versions.save``), so the
control stays the version it started against. A ``Router`` reads the running canary once; each lead's arm decides
which version selects its pool and decides, and the decision records that version and the arm, so replay is the
same as for any decision. Rolling back ends the canary in one action: the next router reads no canary (a router
reads the arms through the configuration's revision, which starting and ending a canary change). Promoting
saves the candidate's text as the next active version.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.errors import Conflict, Invalid, NotFound
from evenhand.kit import audit, revision
from evenhand.kit.clock import utcnow
from evenhand.kit.revision import Revision, Revisioned
from evenhand.kit.text import require_clean
from evenhand.models import Canary, CanaryStatus, ChangeEntry, ChangeStatus, RoutingPolicyVersion
from evenhand.routing import policy_versions
from evenhand.routing.policy import CompiledPolicy

ArmName = Literal["canary", "control"]
CANARY: ArmName = "canary"
CONTROL: ArmName = "control"
SHARE_MAX = 0.5  # a canary is the smaller arm: half the leads at most
DOCUMENT = "routing_policies"  # the versions' table, as the change registry names documents
_RUNNING = select(Canary).where(Canary.status == CanaryStatus.RUNNING).order_by(Canary.id).limit(1)


def arm_for(salt: str, share: float, lead_id: int) -> ArmName:
    """``canary`` for about ``share`` of lead ids: blake2b of ``salt:lead_id`` read as a fraction of 2⁶⁴. The same
    lead always falls in the same arm of one canary (a lead routed again, or released from the queue, keeps its
    policy); a new salt per canary draws a new sample."""
    digest = hashlib.blake2b(f"{salt}:{lead_id}".encode(), digest_size=8).digest()
    return CANARY if int.from_bytes(digest, "big") < share * 2**64 else CONTROL


def arm_of(canary: Canary, lead_id: int) -> ArmName:
    return arm_for(canary.salt, canary.share, lead_id)


def running(session: Session) -> Canary | None:
    """The running canary, if any (one indexed read: the router makes it once per batch)."""
    return session.scalar(_RUNNING)


@dataclass(frozen=True)
class Arm:
    """The policy version that routes a lead; ``name`` is None when no canary runs."""

    name: ArmName | None
    version: int
    policy: CompiledPolicy
    canary_id: int | None = None

    def evidence(self) -> dict[str, Any] | None:
        """What a decision's audit entry adds: nothing without a canary, so those records stay as they were."""
        return None if self.name is None else {"arm": self.name, "canary_id": self.canary_id}


@dataclass(frozen=True)
class Arms:
    """The arms one router uses: the active version alone, or while a canary runs the active version (control)
    and the candidate (canary), a lead's arm given by the canary's salt and share (``arm_for``)."""

    control: Arm
    candidate: Arm | None = None
    salt: str = ""
    share: float = 0.0

    def of(self, lead_id: int) -> Arm:
        if self.candidate is None:
            return self.control
        return self.candidate if arm_for(self.salt, self.share, lead_id) == CANARY else self.control

    def all(self) -> list[Arm]:
        return [self.control] if self.candidate is None else [self.control, self.candidate]


_ARMS: Revisioned[None, Arms] = Revisioned(keep=8)


def arms(session: Session, at: Revision | None) -> Arms:
    """The arms at configuration revision ``at``: the active version and the running canary's candidate, read and
    compiled once per revision in this process (saving a version, starting or ending a canary changes it)."""
    return _ARMS.get(session, at, None, lambda: _read_arms(session))


def lead_arm(session: Session, lead_id: int) -> Arm:
    """The arm that routes this lead now. Whatever is decided about a lead after its intake (a reassignment, its wait
    in the holding queue escalated, who may reassign it) follows the same version its first decision did, for as
    long as the canary runs: a canary's lead is the candidate's from start to finish."""
    return arms(session, revision.current(session)).of(lead_id)


def _read_arms(session: Session) -> Arms:
    active = policy_versions.active(session)
    control = policy_versions.compiled_body(active.body)
    found = running(session)
    if found is None:
        return Arms(Arm(None, active.version, control))
    candidate = policy_versions.version(session, found.version)
    return Arms(Arm(CONTROL, active.version, control, found.id),
                Arm(CANARY, candidate.version, policy_versions.compiled_body(candidate.body), found.id),
                found.salt, found.share)


def start(session: Session, body: str, *, share: float, metrics: list[str], author: Principal | None,
          note: str = "") -> Canary:
    """Serve ``body`` to ``share`` of the leads (0 < share ≤ 0.5) beside the active version: the text is validated
    and stored as the next version, not active; the canary is audited and recorded in the change registry as
    released, with the metrics it declares it may affect. Refused while another canary runs, or when the text is
    the active version."""
    if not 0 < share <= SHARE_MAX:
        raise Invalid("The canary's share must be above 0 and at most {most}.", field="share", most=SHARE_MAX)
    require_clean(note, field="note")
    audit.lock(session)  # two starts take turns: the second sees the first running
    _refuse_second(session)
    control = policy_versions.active(session)
    if control.body == body:
        raise Invalid("The candidate is the active version: there is nothing to compare.", field="body")
    author_id = author.user_id if author else None
    candidate = policy_versions.store_candidate(session, body, author_id=author_id, note=note,
                                                affected_metrics=metrics)
    canary = Canary(version=candidate.version, control_version=control.version, share=share,
                    salt=secrets.token_hex(8), metrics=list(metrics), started_at=utcnow(), started_by_id=author_id,
                    change_id=_record_change(session, candidate, share, metrics, author_id, note).id)
    session.add(canary)
    session.flush()
    _audit(session, canary, "routing.canary_started", author_id, note=note)
    return canary


def _refuse_second(session: Session) -> None:
    found = running(session)
    if found is not None:
        raise Conflict("Canary {id} (policy version {version}) is running: roll it back or promote it first.",
                       field="canary", id=found.id, version=found.version)


def _record_change(session: Session, candidate: RoutingPolicyVersion, share: float, metrics: list[str],
                   author_id: int | None, note: str) -> ChangeEntry:
    """The canary as a released configuration change; the title is data (``routing_policies v5 canary 10%``)."""
    now = utcnow()
    title = f"{DOCUMENT} v{candidate.version} canary {share:.0%}" + (f": {note}" if note else "")
    entry = ChangeEntry(title=title[:200], kind="canary", system=DOCUMENT, description=note, effective_at=now,
                        author_id=author_id, affected_metrics=list(metrics), status=ChangeStatus.RELEASED,
                        source="config", document=DOCUMENT, document_version=candidate.version, released_at=now,
                        released_by_id=author_id)
    session.add(entry)
    session.flush()
    return entry


def rollback(session: Session, canary_id: int, *, by: Principal | None, reason: str = "") -> Canary:
    """End the canary at once: every router from now on routes with the active version alone. Its change entry is
    marked rolled back; the candidate version stays stored (its decisions replay from it)."""
    require_clean(reason, field="reason")
    canary = _running_one(session, canary_id)
    _end(canary, CanaryStatus.ROLLED_BACK, by)
    change = session.get(ChangeEntry, canary.change_id) if canary.change_id else None
    if change is not None:
        change.status = ChangeStatus.ROLLED_BACK
    session.flush()
    _audit(session, canary, "routing.canary_rolled_back", canary.ended_by_id, reason=reason)
    return canary


def promote(session: Session, canary_id: int, *, by: Principal | None, note: str = "") -> RoutingPolicyVersion:
    """End the canary and save the candidate's text as the next active version (every lead routes with it now);
    the new version declares the canary's metrics."""
    require_clean(note, field="note")
    canary = _running_one(session, canary_id)
    body = policy_versions.version(session, canary.version).body
    _end(canary, CanaryStatus.PROMOTED, by)
    session.flush()  # the save below refuses while a canary runs
    saved = policy_versions.save(session, body, author=by, note=note or f"canary {canary.id}",
                                 affected_metrics=list(canary.metrics))
    _audit(session, canary, "routing.canary_promoted", canary.ended_by_id, note=note, saved_version=saved.version)
    return saved


def _running_one(session: Session, canary_id: int) -> Canary:
    """The canary, read afresh after the chain's lock, so two people ending it take turns and the second is told."""
    audit.lock(session)
    canary = session.get(Canary, canary_id, populate_existing=True)
    if canary is None:
        raise NotFound("No canary with id {id}.", field="canary_id", id=canary_id)
    if canary.status is not CanaryStatus.RUNNING:
        raise Conflict("Canary {id} has already ended ({status}).", field="canary_id", id=canary_id,
                       status=canary.status.value)
    return canary


def _end(canary: Canary, status: CanaryStatus, by: Principal | None) -> None:
    canary.status, canary.ended_at, canary.ended_by_id = status, utcnow(), by.user_id if by else None


def _audit(session: Session, canary: Canary, action: str, actor_id: int | None, **extra: Any) -> None:
    audit.append(session, action=action, subject_type="canaries", subject_id=canary.id, actor_id=actor_id,
                 payload={"version": canary.version, "control_version": canary.control_version,
                          "share": canary.share, "salt": canary.salt, "metrics": list(canary.metrics),
                          "change_id": canary.change_id, **extra})


def history(session: Session, *, limit: int = 50) -> list[Canary]:
    """Canaries, newest first."""
    return list(session.scalars(select(Canary).order_by(Canary.id.desc()).limit(limit)))


def get(session: Session, canary_id: int) -> Canary:
    canary = session.get(Canary, canary_id)
    if canary is None:
        raise NotFound("No canary with id {id}.", field="canary_id", id=canary_id)
    return canary
