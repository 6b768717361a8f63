"""The routing policy's versions: exactly one is active, each saved whole with its author and note. Callers commit."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.errors import NotFound, invalid_document
from evenhand.i18n import N_
from evenhand.kit import versions as versions_kit
from evenhand.models import RoutingPolicyVersion, User
from evenhand.routing.document import MESSAGES, PolicyError
from evenhand.routing.policy import CompiledPolicy, compile, default_text, parse

DEFAULT_NOTE = "the default policy shipped with evenhand"


@lru_cache(maxsize=16)
def compiled_body(body: str) -> CompiledPolicy:
    return compile(parse(body))


def validate(body: str) -> CompiledPolicy:
    """The compiled policy, or ``Invalid`` naming the path and line of every problem."""
    try:
        return compiled_body(body)
    except PolicyError as exc:
        raise invalid_document(exc, N_("The routing policy is wrong at {where} (line {line}): {problem}"),
                               MESSAGES) from exc


def active(session: Session) -> RoutingPolicyVersion:
    """The active version; the first caller on a new database installs the shipped default as version 1."""
    body = default_text()
    return versions_kit.active(session, RoutingPolicyVersion, lambda: RoutingPolicyVersion(
        version=1, name=compiled_body(body).policy.name, body=body, note=DEFAULT_NOTE, active=True))


def save(session: Session, body: str, *, author: Principal | None, note: str = "",
         affected_metrics: list[str] | None = None) -> RoutingPolicyVersion:
    """Store the next version and make it active; the audit entry carries the diff and the declared impact."""
    compiled = validate(body)
    metrics = affected_metrics or []
    return versions_kit.save(session, RoutingPolicyVersion, active(session), action="routing.policy_saved",
                             actor_id=author.user_id if author else None, payload={"affected_metrics": metrics},
                             name=compiled.policy.name, body=body, note=note, affected_metrics=metrics)


def history(session: Session) -> list[tuple[RoutingPolicyVersion, str | None]]:
    """Every version, newest first, with its author's display name (None: saved by the system or the CLI)."""
    stmt = (select(RoutingPolicyVersion, User.display_name).outerjoin(User, User.id == RoutingPolicyVersion.author_id)
            .order_by(RoutingPolicyVersion.version.desc()))
    return list(session.execute(stmt).tuples())


def versions(session: Session) -> list[RoutingPolicyVersion]:
    """Every version, newest first; on a new database the shipped default is installed first."""
    active(session)
    return [row for row, _ in history(session)]


def version(session: Session, number: int) -> RoutingPolicyVersion:
    row = versions_kit.numbered(session, RoutingPolicyVersion, number)
    if row is None:
        raise NotFound("No routing policy version {version}.", field="version", version=number)
    return row
