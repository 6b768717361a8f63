"""Configuration documents in YAML: parsed with line numbers, so every problem names its path and line.

Shared by the rule scoring model and the routing policy (and any later YAML document): duplicate keys
are an error rather than a silent overwrite, syntax errors (control characters included) become
problems, and a validation error's path is traced back to the line it came from.

A document is untrusted input, so reading one is bounded (``Limits``): its size in bytes, how deep it nests, how
many values it holds, and the CPU time spent reading it (less what the garbage collector spent in the reading
thread meanwhile: a full collection of a large process is the process's cost, not the document's). Values are
counted once per place they appear, an alias as a copy of what it names: every later stage (the schema, hashing,
the diff) walks the data that way, so a few hundred bytes of nested aliases (a "billion laughs") are refused
after a few thousand steps instead of expanding to a hundred million values. Within that bound aliases stay
allowed: they share a band table between groups, and cost no more than writing the values out would. An alias to
the value that contains it is refused.

Values are plain data: null, booleans, numbers, strings, lists and mappings. A date or time stays the
string it was written as (a schema wanting a date parses it, and names the path when it is wrong); other
tags (``!!binary``, ``!!set``, ``!!python/…``) are refused.
"""

from __future__ import annotations

import gc
import re
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from evenhand.i18n import N_

MESSAGES: dict[str, str] = {
    "yaml_syntax": N_("Not valid YAML: {problem}"),
    "duplicate_key": N_("The key {key} appears twice."),
    "bad_character": N_("The character {character} is not allowed in a document."),
    "not_utf8": N_("The document is not UTF-8 text (byte {position})."),
    "self_alias": N_("The alias {alias} stands for a value that contains it."),
    "too_large": N_("The document is {size} bytes long; at most {limit} are accepted."),
    "too_deep": N_("Nested more than {limit} levels deep."),
    "too_many_values": N_("The document holds more than {limit} values (an alias counts as a copy of what it "
                          "names)."),
    "too_slow": N_("Reading the document took longer than {seconds} seconds."),
}
# Problems that turn a document away for what reading it would cost, not for what it says.
REFUSALS = frozenset({"too_large", "too_deep", "too_many_values", "too_slow"})


@dataclass(frozen=True)
class Limits:
    """What reading one document may cost. ``values`` counts every value once per place it appears (an
    alias as a copy of what it names); ``seconds`` is CPU time of the reading thread outside the garbage collector."""

    bytes: int = 256 * 1024
    depth: int = 32
    values: int = 20_000
    seconds: float = 2.0


LIMITS = Limits()


class _Collections(threading.local):
    """The CPU time this thread has spent in the garbage collector (``gc.callbacks`` run in the collecting thread)."""

    spent = 0.0
    started = 0.0


_COLLECTIONS = _Collections()


def _collecting(phase: str, _info: dict[str, Any]) -> None:
    if phase == "start":
        _COLLECTIONS.started = time.thread_time()
    else:
        _COLLECTIONS.spent += time.thread_time() - _COLLECTIONS.started


gc.callbacks.append(_collecting)


def _reading_time() -> float:
    """This thread's CPU time outside the garbage collector."""
    return time.thread_time() - _COLLECTIONS.spent


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

    @property
    def refused(self) -> bool:
        """Turned away for its size or cost (a limit), not checked against the schema."""
        return any(p.type in REFUSALS for p in self.problems)


def refused(exc: BaseException | None) -> bool:
    """Whether ``exc``, or the ``DocumentError`` it was raised from, refused a document for its cost."""
    while exc is not None and not isinstance(exc, DocumentError):
        exc = exc.__cause__
    return exc is not None and exc.refused


def _describe(p: Problem) -> str:
    where = f"line {p.line}: " if p.line is not None else ""
    return f"{where}{p.path}: {p.message}" if p.path else f"{where}{p.message}"


def load(text: str | bytes, *, error: type[DocumentError], not_a_mapping: str,
         limits: Limits = LIMITS) -> tuple[yaml.Node | None, dict[str, Any]]:
    """The node tree (for line numbers) and the data, which must be a mapping; ``error`` on any problem."""
    try:
        node, data = _read(_text(text, limits), limits)
    except _Stop as stop:
        raise error([stop.problem]) from None
    if not isinstance(data, dict):
        raise error([Problem("", not_a_mapping, line(node, []), "not_a_mapping")])
    return node, data


class _Stop(Exception):
    """Reading ends at the first problem; ``load`` raises it as the document type's error."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def _stop(kind: str, line: int | None, **params: Any) -> _Stop:
    return _Stop(Problem("", MESSAGES[kind].format(**params), line, kind, params))


# Everything YAML's reader refuses (C0 and C1 controls but tab and line breaks, lone surrogates, U+FFFE/F).
_NOT_ALLOWED = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(source: str | bytes, limits: Limits) -> str:
    """The document as text within the size limit and free of characters YAML does not allow."""
    raw = source if isinstance(source, bytes) else source.encode("utf-8", "surrogatepass")
    if len(raw) > limits.bytes:
        raise _stop("too_large", raw.count(b"\n", 0, limits.bytes) + 1, size=len(raw), limit=limits.bytes)
    try:
        text = raw.decode("utf-8") if isinstance(source, bytes) else source
    except UnicodeDecodeError as exc:
        raise _stop("not_utf8", raw.count(b"\n", 0, exc.start) + 1, position=exc.start) from None
    found = _NOT_ALLOWED.search(text)
    if found is not None:
        raise _stop("bad_character", text.count("\n", 0, found.start()) + 1,
                    character=f"U+{ord(found.group()):04X}")
    return text


def _read(text: str, limits: Limits) -> tuple[yaml.Node | None, Any]:
    loader: Any = _Loader(text, limits)  # type: ignore[call-arg]
    try:
        node = loader.get_single_node()
        return node, loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        raise _Stop(_syntax(exc)) from None
    except RecursionError:  # the depth limit keeps reading shallow; this is the last line of defence
        raise _stop("too_deep", None, limit=limits.depth) from None
    finally:
        loader.dispose()


def _syntax(exc: yaml.YAMLError) -> Problem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = str(getattr(exc, "problem", None) or getattr(exc, "context", None) or exc)
    return Problem("", MESSAGES["yaml_syntax"].format(problem=problem), mark.line + 1 if mark is not None else None,
                   "yaml_syntax", {"problem": problem})


# --- the loader: YAML's parser (libyaml's when installed), composed and constructed under the limits ---


class _Composer(Composer):
    """Counts while it builds the node tree: depth, values (aliases expanded) and CPU time."""

    limits: Limits
    deadline: float
    depth: int
    values: int
    shape: dict[int, tuple[int, int]]  # id(node) -> (values, depth) with its aliases expanded

    if TYPE_CHECKING:
        def peek_event(self) -> Any: ...  # the parser's

    def tick(self, mark: Any) -> None:
        if _reading_time() > self.deadline:
            raise _stop("too_slow", _line(mark), seconds=self.limits.seconds)

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        self.tick(event.start_mark)
        if isinstance(event, yaml.AliasEvent):
            return self._alias(super().compose_node(parent, index), event)
        self._grow(1, self.depth + 1, event.start_mark)
        self.depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        assert node is not None
        self.shape[id(node)] = _shape(node, self.shape)
        return node

    def _alias(self, node: yaml.Node | None, event: yaml.AliasEvent) -> yaml.Node:
        shape = self.shape.get(id(node))
        if node is None or shape is None:  # still being composed: the alias sits inside the value it names
            raise _stop("self_alias", _line(event.start_mark), alias=event.anchor)
        self._grow(shape[0], self.depth + shape[1], event.start_mark)
        return node

    def _grow(self, values: int, depth: int, mark: Any) -> None:
        if depth > self.limits.depth:
            raise _stop("too_deep", _line(mark), limit=self.limits.depth)
        self.values += values
        if self.values > self.limits.values:
            raise _stop("too_many_values", _line(mark), limit=self.limits.values)

    def compose_mapping_node(self, anchor: Any) -> yaml.MappingNode:
        """PyYAML keeps the last of two equal keys silently; a lost rule or pool would go unnoticed."""
        node = super().compose_mapping_node(anchor)
        seen: set[str] = set()
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    raise yaml.MarkedYAMLError(problem=MESSAGES["duplicate_key"].format(key=key.value),
                                               problem_mark=key.start_mark)
                seen.add(key.value)
        return node


def _line(mark: Any) -> int | None:
    return mark.line + 1 if mark is not None else None


def _shape(node: yaml.Node, known: dict[int, tuple[int, int]]) -> tuple[int, int]:
    if isinstance(node, yaml.SequenceNode):
        children = [known[id(c)] for c in node.value]
    elif isinstance(node, yaml.MappingNode):
        children = [known[id(c)] for pair in node.value for c in pair]
    else:
        return 1, 1
    return 1 + sum(v for v, _ in children), 1 + max((d for _, d in children), default=0)


_PLAIN = ("null", "bool", "int", "float", "str", "seq", "map")
_TAG = "tag:yaml.org,2002:"


class _Resolver(Resolver):
    """YAML 1.1's implicit types but timestamps (and the ``=`` value key, which PyYAML cannot build)."""

    yaml_implicit_resolvers: dict[Any, Any] = {  # noqa: RUF012 - PyYAML's own class-level table
        first: [(tag, rx) for tag, rx in found if tag.removeprefix(_TAG) in (*_PLAIN, "merge")]
        for first, found in Resolver.yaml_implicit_resolvers.items()}


class _Constructor(SafeConstructor):
    """Plain data only; an explicit ``!!timestamp`` stays a string too."""

    yaml_constructors: ClassVar[dict[Any, Any]] = {
        **{tag: build for tag, build in SafeConstructor.yaml_constructors.items()
           if tag is None or tag.removeprefix(_TAG) in _PLAIN},
        f"{_TAG}timestamp": SafeConstructor.construct_yaml_str}

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        self.tick(node.start_mark)  # type: ignore[attr-defined]
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, ArithmeticError) as exc:  # e.g. ``!!int x``, an int of 5,000 digits
            raise ConstructorError(None, None, str(exc), node.start_mark) from None


class _Reading(_Composer, _Constructor, _Resolver):
    def start(self, limits: Limits) -> None:
        Composer.__init__(self)
        _Constructor.__init__(self)
        _Resolver.__init__(self)
        self.limits, self.deadline = limits, _reading_time() + limits.seconds
        self.depth, self.values, self.shape = 0, 0, {}


class _PyLoader(_Reading, Reader, Scanner, Parser):
    """PyYAML's own parser, in Python."""

    def __init__(self, text: str, limits: Limits) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        self.start(limits)


_Loader: type[_Reading] = _PyLoader
try:
    from yaml._yaml import CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    pass
else:

    class _CLoader(_Reading, CParser):
        """libyaml's parser (about four times faster), with the composing above."""

        def __init__(self, text: str, limits: Limits) -> None:
            CParser.__init__(self, text)
            self.start(limits)

    _Loader = _CLoader


# --- line numbers ----------------------------------------------------------------------------------


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
