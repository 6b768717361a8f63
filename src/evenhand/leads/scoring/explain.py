"""Explanation lines as text for the UI and the API: ``行业：制造业 +20``.

Rule labels come from the model YAML (data, shown as written); the cap and clamp lines are fixed
texts and go through the translator.
"""

from __future__ import annotations

from collections.abc import Callable

from evenhand.i18n import N_
from evenhand.leads.scoring.rules import Line, ScoreResult

CAP_LABEL = N_("{group}: capped")
CLAMP_LABEL = N_("Total kept within 0–100")


def format_points(points: float) -> str:
    """Signed, at most one decimal: ``+20``, ``-5``, ``+3.8``. Rounded lines may not visibly add up."""
    shown = round(points, 1)
    if shown == int(shown):
        return f"{int(shown):+d}"
    return f"{shown:+.1f}"


def line_label(line: Line, tr: Callable[..., str]) -> str:
    if line.kind == "cap":
        return tr(CAP_LABEL, group=line.label)
    if line.kind == "clamp":
        return tr(CLAMP_LABEL)
    return line.label


def explain_text(result: ScoreResult, tr: Callable[..., str]) -> list[str]:
    """One string per explanation line, in the model's order; ``tr`` is ``t`` or a page's translator."""
    return [f"{line_label(line, tr)} {format_points(line.points)}" for line in result.lines]
