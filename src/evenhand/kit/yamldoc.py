"""Configuration documents in YAML: parsed with line numbers, so every problem names its path and line.

Shared by the rule scoring model and the routing policy (and any later YAML model): duplicate keys
are an error rather than a silent overwrite, syntax errors (control characters included) become
problems, and a validation error's path is traced back to the line it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from evenhand.i18n import N_

MESSAGES: dict[str, str] = {
    "yaml_syntax": N_("Not valid YAML: {problem}"),
    "duplicate_key": N_("The key {key} appears twice."),
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a document. ``type`` is pydantic's error kind or a key of a ``MESSAGES`` table."""

    path: str
    message: str
    line: int | None
    type: str
    params: dict[str, Any] = field(default_factory=dict)


class DocumentError(ValueError):
    """The document is not valid; ``.path``, ``.message``, ``.line`` describe the first problem."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = tuple(problems)
        first = self.problems[0]
        self.path, self.message, self.line = first.path, first.message, first.line
        super().__init__("; ".join(_describe(p) for p in self.problems))


def _describe(p: Problem) -> str:
    where = f"line {p.line}: " if p.line is not None else ""
    return f"{where}{p.path}: {p.message}" if p.path else f"{where}{p.message}"


def load(text: str, *, error: type[DocumentError], not_a_mapping: str) -> tuple[yaml.Node | None, dict[str, Any]]:
    """The node tree (for line numbers) and the data, which must be a mapping; ``error`` on any problem."""
    try:
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError as exc:  # a control character the reader refuses before parsing starts
        raise error([_syntax(exc)]) from None
    try:
        node = loader.get_single_node()
        _no_duplicate_keys(node)
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        raise error([_syntax(exc)]) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise error([Problem("", not_a_mapping, line(node, []), "not_a_mapping")])
    return node, data


def _syntax(exc: yaml.YAMLError) -> Problem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = str(getattr(exc, "problem", None) or getattr(exc, "context", None) or exc)
    return Problem("", MESSAGES["yaml_syntax"].format(problem=problem), mark.line + 1 if mark is not None else None,
                   "yaml_syntax", {"problem": problem})


def _no_duplicate_keys(node: yaml.Node | None) -> None:
    """PyYAML keeps the last of two equal keys silently; a lost rule or pool would go unnoticed."""
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value in seen:
                raise yaml.MarkedYAMLError(problem=MESSAGES["duplicate_key"].format(key=key.value),
                                           problem_mark=key.start_mark)
            seen.add(key.value)
            _no_duplicate_keys(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _no_duplicate_keys(item)


def line(node: yaml.Node | None, path: list[Any]) -> int | None:
    """1-based line of the deepest node along ``path`` that exists in the document."""
    if node is None:
        return None
    for part in path:
        child = _child(node, part)
        if child is None:
            break
        node = child
    return node.start_mark.line + 1


def _child(node: yaml.Node, part: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        return next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == str(part)), None)
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        child: yaml.Node = node.value[part]
        return child
    return None
