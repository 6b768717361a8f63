"""What a UI page needs from the request: the database and who is signed in."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine
from starlette.requests import Request

from evenhand.auth import service as auth_service
from evenhand.auth.principal import Principal
from evenhand.db import session_scope
from evenhand.deps import SESSION_COOKIE
from evenhand.i18n import current_locale, request_locale, set_locale, translator

_engine: Engine | None = None


def bind(engine: Engine) -> None:
    """Called once per process when the UI is mounted; the engine is configuration, not shared state."""
    global _engine
    _engine = engine


def engine() -> Engine:
    assert _engine is not None, "web.context.bind() was not called"
    return _engine


def principal(request: Request) -> Principal | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    with session_scope(engine(), readonly=True) as session:
        return auth_service.from_session_token(session, token)


def use_locale(request: Request) -> Callable[..., str]:
    """Fix the page's locale and return a translator bound to it (event handlers run outside the request)."""
    set_locale(request_locale(request.cookies, request.headers.get("accept-language")))
    return translator(current_locale())
