"""Sign-in, browser sessions, API tokens and the sign-in throttle.

All state is in the database so any number of server processes can share it.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, NamedTuple

from sqlalchemy import Connection, bindparam, delete, func, select, text
from sqlalchemy.orm import Session

from evenhand.auth.backoff import Failures, Rule, remaining
from evenhand.auth.passwords import digest, new_token, verify_password
from evenhand.auth.principal import TOKEN_ROLES, Principal
from evenhand.config import Settings
from evenhand.errors import Invalid, NotFound, TooManyRequests, Unauthorized
from evenhand.kit.clock import as_utc, utcnow
from evenhand.kit.cursor import Prepared
from evenhand.models import ApiToken, LoginAttempt, Role, Team, User, WebSession


def principal_for(session: Session, user: User, *, role: Role | None = None,
                  via: Literal["session", "token", "system"] = "session",
                  csrf_token: str | None = None) -> Principal:
    session.flush()  # a team it supervises may still be pending
    return _principal(session.connection(), user, role=role or user.role, via=via, csrf_token=csrf_token)


@dataclass(frozen=True)
class Throttle:
    """The sign-in throttle (``EVENHAND_LOGIN_*``): one back-off rule per key, and how long failures count."""

    pair: Rule  # one account from one address
    address: Rule  # one address, whatever the account
    account: Rule  # one account, counted only against addresses that have failed on it
    kept: timedelta

    @classmethod
    def of(cls, settings: Settings) -> Throttle:
        base, ceiling = settings.login_backoff_seconds, settings.login_backoff_max_seconds
        return cls(pair=Rule(settings.login_free_failures, base, ceiling),
                   address=Rule(settings.login_free_failures_per_address, base, ceiling),
                   account=Rule(settings.login_free_failures_per_account, base, ceiling),
                   kept=timedelta(minutes=settings.login_failures_kept_minutes))


@dataclass(frozen=True)
class Keys:
    pair: str
    address: str
    account: str

    @classmethod
    def of(cls, username: str, client: str) -> Keys:
        name, client = username.lower()[:64], client[:45]  # longer names match no user; 45 fits any IPv6
        return cls(pair=f"pair:{client} {name}", address=f"ip:{client}", account=f"user:{name}")

    def all(self) -> list[str]:
        return [self.pair, self.address, self.account]


_FAILURES = (select(LoginAttempt.key, func.count(), func.max(LoginAttempt.created_at))
             .where(LoginAttempt.key.in_(bindparam("keys", expanding=True)), LoginAttempt.succeeded.is_(False),
                    LoginAttempt.created_at >= bindparam("since"))
             .group_by(LoginAttempt.key))
_TAKE_TURNS = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")


def check_throttle(session: Session, keys: Keys, throttle: Throttle) -> None:
    """Refuse with the seconds to wait while any key's back-off runs. The account's own count applies only to
    an address that has failed on it: its owner, from an address with no failures there, is never held up
    by strangers guessing elsewhere."""
    rows = session.execute(_FAILURES, {"keys": keys.all(), "since": utcnow() - throttle.kept}).all()
    now = utcnow()  # after the read, which on SQLite may have waited for the writer
    seen = {key: Failures(count, as_utc(last)) for key, count, last in rows}
    waits = [remaining(throttle.pair, seen.get(keys.pair), now),
             remaining(throttle.address, seen.get(keys.address), now)]
    if keys.pair in seen:
        waits.append(remaining(throttle.account, seen.get(keys.account), now))
    if max(waits) > 0:
        raise TooManyRequests("Too many failed sign-ins; try again in {seconds} s.", seconds=math.ceil(max(waits)))


def authenticate(session: Session, *, username: str, password: str, client: str, throttle: Throttle) -> User | None:
    """Check a password unless the throttle says wait (``TooManyRequests``, not recorded). A failure counts
    under all three keys; a success clears the account's failures from that address (caller commits)."""
    keys = Keys.of(username, client)
    _take_turns(session, [keys.pair, keys.address])
    check_throttle(session, keys, throttle)
    user = session.scalar(select(User).where(func.lower(User.username) == username.lower())
                          .order_by((User.username == username).desc(), User.id).limit(1))
    ok = verify_password(user.password_hash if user else None, password) and user is not None and user.active
    _record(session, keys, ok=ok, kept=throttle.kept)
    return user if ok else None


def _take_turns(session: Session, keys: list[str]) -> None:
    """On PostgreSQL, attempts under one address (and one account from it) take turns, so a burst of parallel
    guesses cannot all pass the check before the first failure is recorded. SQLite's writer holds the
    whole database already. Sorted, so two attempts never wait for each other."""
    if session.get_bind().dialect.name == "postgresql":
        for key in sorted(keys):
            session.execute(_TAKE_TURNS, {"key": key})


def _record(session: Session, keys: Keys, *, ok: bool, kept: timedelta) -> None:
    now = utcnow()  # a wait runs from the verdict, not from when the attempt came in
    if ok:
        session.execute(delete(LoginAttempt).where(LoginAttempt.key == keys.pair),
                        execution_options={"synchronize_session": False})
    else:
        session.add_all([LoginAttempt(key=key, succeeded=False, created_at=now) for key in keys.all()])
    session.execute(delete(LoginAttempt).where(LoginAttempt.key.in_(keys.all()), LoginAttempt.created_at < now - kept),
                    execution_options={"synchronize_session": False})
    session.flush()


def open_session(session: Session, *, user: User, days: int) -> tuple[str, WebSession]:
    token = new_token("ehs")
    web = WebSession(user_id=user.id, token_hash=digest(token), csrf_token=secrets.token_urlsafe(24),
                     expires_at=utcnow() + timedelta(days=days))
    session.add(web)
    session.flush()
    return token, web


def close_session(session: Session, *, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == digest(token)))


# Every request runs one of these: compiled once and sent on the driver's cursor (``kit.cursor.Prepared``; see
# CONVENTIONS.md, hot paths): loading the token's and the user's ORM objects, or even executing the statement through
# SQLAlchemy, cost more than the indexed lookup.
class _Who(NamedTuple):
    """A user's columns as a sign-in reads them."""

    id: int
    username: str
    display_name: str
    role: Role
    team_id: int | None
    active: bool


_WHO = (User.id, User.username, User.display_name, User.role, User.team_id, User.active)
_BY_SESSION = Prepared(select(WebSession.expires_at, WebSession.csrf_token, *_WHO)
                       .join(User, User.id == WebSession.user_id).where(WebSession.token_hash == bindparam("hash")))
_BY_API_TOKEN = Prepared(select(ApiToken.role, *_WHO).join(User, User.id == ApiToken.user_id)
                         .where(ApiToken.token_hash == bindparam("hash"), ApiToken.revoked_at.is_(None)))
_SUPERVISED = Prepared(select(Team.id).where(Team.supervisor_id == bindparam("user_id")))


def _connection(db: Session | Connection) -> Connection:
    return db.connection() if isinstance(db, Session) else db


def _principal(conn: Connection, who: _Who | User, *, role: Role, via: Literal["session", "token", "system"],
               csrf_token: str | None = None) -> Principal:
    """Who ``who`` (a user, or the columns a sign-in read) is, acting as ``role``: with the teams they supervise."""
    teams: frozenset[int] = frozenset()
    if role is Role.SUPERVISOR:
        teams = frozenset(team for team, in _SUPERVISED.rows(conn, {"user_id": who.id}))
    return Principal(user_id=who.id, username=who.username, display_name=who.display_name, role=role,
                     team_id=who.team_id, supervised_team_ids=teams, via=via, csrf_token=csrf_token)


def from_session_token(db: Session | Connection, token: str) -> Principal | None:
    """Who holds this browser session, read in the caller's session or, on a hot path, a bare connection."""
    conn = _connection(db)
    found = _BY_SESSION.first(conn, {"hash": digest(token)})
    if found is None:
        return None
    expires_at, csrf_token, who = found[0], found[1], _Who(*found[2:])
    if as_utc(expires_at) < utcnow() or not who.active:
        return None
    return _principal(conn, who, role=who.role, via="session", csrf_token=csrf_token)


def from_api_token(db: Session | Connection, token: str) -> Principal | None:
    """Who holds this API token (not revoked, its user active and still allowed its role), read like
    ``from_session_token``."""
    conn = _connection(db)
    found = _BY_API_TOKEN.first(conn, {"hash": digest(token)})
    if found is None:
        return None
    granted, who = found[0], _Who(*found[1:])
    if not who.active or granted not in TOKEN_ROLES[who.role]:
        return None  # a user demoted since the token was minted loses what the token promised
    return _principal(conn, who, role=granted, via="token")


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
