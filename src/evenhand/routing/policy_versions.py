"""The routing policy's versions: exactly one is active, each saved whole with its author and note. Callers commit."""

from __future__ import annotations

import difflib

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.errors import Conflict
from evenhand.i18n import N_
from evenhand.kit import audit
from evenhand.kit import versions as versions_kit
from evenhand.kit.text import require_clean
from evenhand.models import Canary, CanaryStatus, RoutingPolicyVersion, User
from evenhand.routing.document import MESSAGES, PolicyError
from evenhand.routing.policy import CompiledPolicy, compile, default_text, parse

POLICIES: versions_kit.Document[RoutingPolicyVersion, CompiledPolicy] = versions_kit.Document(
    RoutingPolicyVersion, compile=lambda body: compile(parse(body)), error=PolicyError, messages=MESSAGES,
    wrong=N_("The routing policy is wrong at {where} (line {line}): {problem}"),
    missing=N_("No routing policy version {version}."), default_text=default_text,
    default_note="the default policy shipped with evenhand", name_of=lambda compiled: compiled.policy.name,
    saved_action="routing.policy_saved")
compiled_body, validate, active = POLICIES.compiled, POLICIES.validate, POLICIES.active
versions, version = POLICIES.versions, POLICIES.version


# The candidate a running canary serves (``routing.canary``); while it runs the active version stays put.
_CANARY_RUNNING = select(Canary.version).where(Canary.status == CanaryStatus.RUNNING).limit(1)


def save(session: Session, body: str, *, author: Principal | None, note: str = "",
         affected_metrics: list[str] | None = None) -> RoutingPolicyVersion:
    """Store the next version and make it active; the audit entry carries the diff and the declared impact.

    Refused while a canary runs: its control is the active version, and a new one would change the comparison
    halfway (promote or roll back the canary first)."""
    running = session.scalar(_CANARY_RUNNING)
    if running is not None:
        raise Conflict("A canary of policy version {version} is running: promote it or roll it back before saving "
                       "another version.", field="body", version=running)
    metrics = affected_metrics or []
    return POLICIES.save(session, body, author_id=author.user_id if author else None, note=note,
                         payload={"affected_metrics": metrics}, affected_metrics=metrics)


def history(session: Session) -> list[tuple[RoutingPolicyVersion, str | None]]:
    """Every version, newest first, with its author's display name (None: saved by the system or the CLI)."""
    stmt = (select(RoutingPolicyVersion, User.display_name).outerjoin(User, User.id == RoutingPolicyVersion.author_id)
            .order_by(RoutingPolicyVersion.version.desc()))
    return list(session.execute(stmt).tuples())


def store_candidate(session: Session, body: str, *, author_id: int | None, note: str = "",
                    affected_metrics: list[str] | None = None) -> RoutingPolicyVersion:
    """Store ``body`` as the next version without making it active: a canary's candidate, which routes a share of
    leads and is replayed by its number like any other version. Audited with its diff against the active version."""
    compiled = validate(body)
    for name, value in (("body", body), ("note", note)):
        require_clean(value, field=name)
    current = active(session)
    number = (session.scalar(select(func.max(RoutingPolicyVersion.version))) or 0) + 1
    row = RoutingPolicyVersion(version=number, active=False, author_id=author_id, name=compiled.policy.name,
                               body=body, note=note, affected_metrics=list(affected_metrics or []))
    session.add(row)
    session.flush()
    diff = "".join(difflib.unified_diff(current.body.splitlines(True), body.splitlines(True), f"v{current.version}",
                                        f"v{number}"))
    audit.append(session, action="routing.policy_candidate", subject_type="routing_policies", subject_id=number,
                 actor_id=author_id, payload={"version": number, "active": current.version, "note": note,
                                              "diff": diff, "affected_metrics": row.affected_metrics})
    return row
