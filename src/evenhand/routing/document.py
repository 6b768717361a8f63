"""Reading a policy document: YAML with line numbers, and validation errors that name path and line."""

from __future__ import annotations

from typing import Any

import yaml

from evenhand.i18n import N_
from evenhand.kit import yamldoc
from evenhand.kit.yamldoc import Problem, line

MESSAGES: dict[str, str] = {
    **yamldoc.MESSAGES,
    "not_a_mapping": N_("A routing policy must be a YAML mapping with name and pools."),
}


class PolicyError(yamldoc.DocumentError):
    """The document is not a valid routing policy; ``.path``, ``.message``, ``.line`` describe the first problem."""


def load(text: str) -> tuple[yaml.Node | None, dict[str, Any]]:
    """The node tree (for line numbers) and the plain data; duplicate keys are an error, not a silent overwrite."""
    return yamldoc.load(text, error=PolicyError, not_a_mapping=MESSAGES["not_a_mapping"])


def problem(error: Any, root: yaml.Node | None) -> Problem:
    """A pydantic error as a ``Problem``; its ``loc`` becomes a dotted path (``pools.2.condition``)."""
    ctx = dict(error.get("ctx") or {})
    at = ctx.pop("at", None)  # a validator on a list points at the item and key it means ("3.id")
    loc = (*error["loc"], *(int(p) if p.isdigit() else p for p in at.split("."))) if at else tuple(error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    params = {k: v for k, v in ctx.items() if isinstance(v, str | int | float)}
    return Problem(".".join(str(p) for p in loc), message, line(root, list(loc)), error["type"], params)


__all__ = ["MESSAGES", "PolicyError", "Problem", "line", "load", "problem"]
