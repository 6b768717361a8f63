"""Which characters free text may hold, for every way text comes in: API bodies, query strings, pages.

Refused everywhere: NUL (PostgreSQL text cannot store it), the other C0 controls but tab, line feed and
carriage return, DEL and the C1 controls (invisible, and terminals act on some of them), the bidirectional
marks, embeddings, overrides and isolates (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069: they make
a name or a note read differently from what is stored) and lone surrogates (not encodable as UTF-8).
Tab and line breaks are allowed in every field: a single-line field shows them as spaces.
"""

from __future__ import annotations

import re
from typing import Any

from evenhand.errors import Invalid
from evenhand.i18n import N_

NUL = N_("Text may not contain the NUL character.")
CONTROL = N_("Text may not contain control characters or bidirectional marks and overrides (such as U+202E).")
_REFUSED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
                      "\ud800-\udfff]")


def refusal(value: str) -> str | None:
    """Why ``value`` is refused (an English message template), or None when it may be stored."""
    found = _REFUSED.search(value)
    if found is None:
        return None
    return NUL if found.group() == "\x00" else CONTROL


def refusal_in(value: Any) -> str | None:
    """The first refusal in ``value`` or anything it holds: strings in lists, tuples, sets, dict keys and values."""
    if isinstance(value, str):
        return refusal(value)
    items: Any = ()
    if isinstance(value, dict):
        items = [*value.keys(), *value.values()]
    elif isinstance(value, list | tuple | set | frozenset):
        items = value
    return next((reason for item in items if (reason := refusal_in(item))), None)


def require_clean(value: Any, *, field: str) -> None:
    """``Invalid`` naming ``field`` when its text holds a refused character (for services that pages call)."""
    reason = refusal_in(value)
    if reason:
        raise Invalid(reason, field=field)
