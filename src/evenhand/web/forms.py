"""What a form shows when a save is refused."""

from __future__ import annotations

from pydantic import ValidationError

from evenhand.errors import DomainError, describe
from evenhand.web.layout import Tr


def problem(exc: ValidationError | DomainError, tr: Tr) -> str:
    """A refusal as the person reads it: the field, then the message in their language."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{'.'.join(map(str, first['loc']))}: {describe(first)}"
    return tr(exc.message, **exc.params)
