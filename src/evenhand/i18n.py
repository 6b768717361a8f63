"""Translation: English source strings are the keys; ``locales/<locale>.json`` maps them.

The current locale lives in a context variable set per request or page, so the same ``t()`` call
serves the API, the UI and the CLI.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any

from evenhand.config import LOCALES, get_settings

_LOCALE_DIR = Path(__file__).parent / "locales"
LOCALE_COOKIE = "evenhand_locale"
_current: ContextVar[str | None] = ContextVar("evenhand_locale", default=None)


@lru_cache
def catalog(locale: str) -> dict[str, str]:
    path = _LOCALE_DIR / f"{locale}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def current_locale() -> str:
    return _current.get() or get_settings().locale


def set_locale(locale: str | None) -> None:
    _current.set(normalise(locale))


def normalise(locale: str | None) -> str | None:
    """Map 'zh', 'zh_CN', 'zh-cn', 'en-US' … onto a supported locale, or None."""
    if not locale:
        return None
    head = locale.replace("_", "-").split(",")[0].split(";")[0].strip().lower()
    for known in LOCALES:
        if head == known.lower() or head.split("-")[0] == known.lower().split("-")[0]:
            return known
    return None


def N_(message: str) -> str:
    """Marks a string for translation where it is defined; ``t`` translates it where it is shown."""
    return message


def plural(count: int, one: str, many: str) -> str:
    """The English source for ``count`` things: ``one`` for exactly one, ``many`` otherwise. Mark both with ``N_``
    where they are written, and give both the same translation where the language has one form (Chinese)."""
    return one if count == 1 else many


def request_locale(cookies: Mapping[str, str], accept_language: str | None) -> str | None:
    """An explicit choice (the cookie) wins over the browser's Accept-Language."""
    return normalise(cookies.get(LOCALE_COOKIE)) or normalise(accept_language)


def t(message: str, /, locale: str | None = None, **params: Any) -> str:
    text = catalog(locale or current_locale()).get(message, message)
    return text.format(**params) if params else text


def translator(locale: str) -> Callable[..., str]:
    """``t`` bound to ``locale``: for a page's handlers (they run outside the request) and a file made in a language."""

    def tr(message: str, **params: Any) -> str:
        return t(message, locale=locale, **params)

    return tr
