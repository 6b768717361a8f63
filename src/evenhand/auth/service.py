"""Sign-in, browser sessions, API tokens and the login rate limit.

All state is in the database so any number of server processes can share it.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Literal

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import Session

from evenhand.auth.passwords import digest, new_token, verify_password
from evenhand.auth.principal import TOKEN_ROLES, Principal
from evenhand.errors import Invalid, NotFound, TooManyRequests, Unauthorized
from evenhand.kit.clock import as_utc, utcnow
from evenhand.models import ApiToken, LoginAttempt, Role, Team, User, WebSession


def principal_for(session: Session, user: User, *, role: Role | None = None,
                  via: Literal["session", "token", "system"] = "session",
                  csrf_token: str | None = None) -> Principal:
    acting = role or user.role
    teams: frozenset[int] = frozenset()
    if acting is Role.SUPERVISOR:
        teams = frozenset(session.scalars(select(Team.id).where(Team.supervisor_id == user.id)))
    return Principal(user_id=user.id, username=user.username, display_name=user.display_name, role=acting,
                     team_id=user.team_id, supervised_team_ids=teams, via=via, csrf_token=csrf_token)


def check_rate(session: Session, *, keys: list[str], limit: int) -> None:
    """Refuse when any one key (the username, or the client address) failed ``limit`` times in a minute."""
    since = utcnow() - timedelta(minutes=1)
    per_key = (select(func.count().label("n")).where(LoginAttempt.key.in_(keys), LoginAttempt.created_at >= since,
                                                     LoginAttempt.succeeded.is_(False))
               .group_by(LoginAttempt.key).subquery())
    failures = session.scalar(select(func.max(per_key.c.n)))
    if (failures or 0) >= limit:
        raise TooManyRequests("Too many failed sign-ins; wait a minute and try again.")


def authenticate(session: Session, *, username: str, password: str, client: str, limit: int) -> User | None:
    """Check a password under the rate limit; the attempt is recorded either way (caller commits)."""
    keys = [f"user:{username.lower()}", f"ip:{client}"]
    check_rate(session, keys=keys, limit=limit)
    user = session.scalar(select(User).where(func.lower(User.username) == username.lower())
                          .order_by((User.username == username).desc(), User.id).limit(1))
    ok = verify_password(user.password_hash if user else None, password) and user is not None and user.active
    session.add_all([LoginAttempt(key=k, succeeded=ok) for k in keys])
    session.flush()
    return user if ok else None


def open_session(session: Session, *, user: User, days: int) -> tuple[str, WebSession]:
    token = new_token("ehs")
    web = WebSession(user_id=user.id, token_hash=digest(token), csrf_token=secrets.token_urlsafe(24),
                     expires_at=utcnow() + timedelta(days=days))
    session.add(web)
    session.flush()
    return token, web


def close_session(session: Session, *, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == digest(token)))


# Every request runs one of these: built once (see CONVENTIONS.md, hot paths).
_BY_SESSION = (select(WebSession, User).join(User, User.id == WebSession.user_id)
               .where(WebSession.token_hash == bindparam("hash")))
_BY_API_TOKEN = (select(ApiToken, User).join(User, User.id == ApiToken.user_id)
                 .where(ApiToken.token_hash == bindparam("hash"), ApiToken.revoked_at.is_(None)))


def from_session_token(session: Session, token: str) -> Principal | None:
    row = session.execute(_BY_SESSION, {"hash": digest(token)}).first()
    if row is None or as_utc(row.WebSession.expires_at) < utcnow() or not row.User.active:
        return None
    return principal_for(session, row.User, csrf_token=row.WebSession.csrf_token)


def from_api_token(session: Session, token: str) -> Principal | None:
    row = session.execute(_BY_API_TOKEN, {"hash": digest(token)}).first()
    if row is None or not row.User.active or row.ApiToken.role not in TOKEN_ROLES[row.User.role]:
        return None  # a user demoted since the token was minted loses what the token promised
    return principal_for(session, row.User, role=row.ApiToken.role, via="token")


def create_token(session: Session, *, username: str, role: Role, name: str = "api") -> tuple[str, ApiToken]:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound("No user named {name}.", field="user", name=username)
    if role not in TOKEN_ROLES[user.role]:
        raise Invalid("A {user_role} cannot hold a {role} token.", field="role", user_role=user.role.value,
                      role=role.value)
    token = new_token("eht")
    row = ApiToken(user_id=user.id, name=name, role=role, token_hash=digest(token))
    session.add(row)
    session.flush()
    return token, row


def revoke_token(session: Session, *, token_id: int) -> None:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound("No token with id {id}.", field="token_id", id=token_id)
    row.revoked_at = utcnow()


def require_session(principal: Principal | None) -> Principal:
    if principal is None:
        raise Unauthorized("Sign in first.")
    return principal
