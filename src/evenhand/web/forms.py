"""What a form shows when a save is refused."""

from __future__ import annotations

from typing import Any

from nicegui import ui
from pydantic import ValidationError

from evenhand.errors import DomainError, describe
from evenhand.web.layout import Tr


def problem(exc: ValidationError | DomainError, tr: Tr) -> str:
    """A refusal as the person reads it: the field, then the message in their language."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{'.'.join(map(str, first['loc']))}: {describe(first)}"
    return tr(exc.message, **exc.params)


def show_problems(editor: Any, listing: Any, found: list[dict[str, Any]], tr: Tr) -> None:
    """A document's problems listed beside its editor (a click shows the line) and marked on their lines."""
    listing.clear()
    with listing:
        for p in found:
            item = ui.label(f"{tr('Line {line}', line=p['line'] or '?')} · {p['field'] or '—'}: {p['message']}")
            item.classes("text-negative text-caption cursor-pointer")
            if p.get("line"):  # a click shows the line in the editor
                item.on("click", lambda _, n=int(p["line"]): editor.reveal_line(n))
    lines = {int(p["line"]): p["message"] for p in found if p.get("line")}
    editor.line_tooltips = dict(lines)
    editor.decorations = [{"kind": "line", "line": n, "class": "eh-problem-line"} for n in sorted(lines)]
    editor.update()
