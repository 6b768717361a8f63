"""What a UI page needs from the request: the database, who is signed in, and their language."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import RedirectResponse

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


def signed_in_url(request: Request) -> str:
    """Where to sign in and come back to the very page asked for, its query included."""
    asked = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/login?next={quote(asked, safe='/')}"


def page(view: Callable[..., Any]) -> Callable[..., Any]:
    """A page for signed-in readers, registered with ``ui.page(path)(page(view))``. ``view(principal, tr, …)`` is
    called with who is signed in and a translator in their language, then whatever else it names (the request, the
    path's and the query's parameters) as NiceGUI gives them. Anyone else is sent to sign in and brought back to the
    URL they asked for. ``view`` may be a coroutine function."""
    hints = typing.get_type_hints(view)
    named = [p.replace(annotation=hints.get(p.name, p.annotation))
             for p in list(inspect.signature(view).parameters.values())[2:]]
    wants_request = any(p.name == "request" for p in named)
    if not wants_request:
        named.insert(0, inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request))

    @functools.wraps(view)
    def served(**kwargs: Any) -> Any:
        """The view's result (a coroutine for an async view, which NiceGUI awaits), or the way to sign in."""
        request = kwargs["request"] if wants_request else kwargs.pop("request")
        signed = principal(request)
        if signed is None:
            return RedirectResponse(signed_in_url(request), status_code=303)
        return view(signed, use_locale(request), **kwargs)

    served.__signature__ = inspect.Signature(named)  # type: ignore[attr-defined]  # what NiceGUI and FastAPI read
    return served
