"""The routing policy's versions: exactly one is active, each saved whole with its author and note. Callers commit."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.i18n import N_
from evenhand.kit import versions as versions_kit
from evenhand.models import RoutingPolicyVersion, User
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


def save(session: Session, body: str, *, author: Principal | None, note: str = "",
         affected_metrics: list[str] | None = None) -> RoutingPolicyVersion:
    """Store the next version and make it active; the audit entry carries the diff and the declared impact."""
    metrics = affected_metrics or []
    return POLICIES.save(session, body, author_id=author.user_id if author else None, note=note,
                         payload={"affected_metrics": metrics}, affected_metrics=metrics)


def history(session: Session) -> list[tuple[RoutingPolicyVersion, str | None]]:
    """Every version, newest first, with its author's display name (None: saved by the system or the CLI)."""
    stmt = (select(RoutingPolicyVersion, User.display_name).outerjoin(User, User.id == RoutingPolicyVersion.author_id)
            .order_by(RoutingPolicyVersion.version.desc()))
    return list(session.execute(stmt).tuples())
