"""The declared layers of ``src/evenhand`` (CONVENTIONS.md, "Layers"), checked by reading the source.

Each failure names the file and line. Three rules:
- a package imports only packages of its own layer or below (``LAYERS``, bottom first);
- no two modules import each other, directly or through others (a cycle of any length);
- an entry point (``routes.py``, ``pages.py``, ``*_pages.py``, ``cli.py``) runs no query of its own: it
  builds no SQLAlchemy statement, calls no query method on a session, and imports no other domain's
  repository or pages.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import evenhand

SRC = Path(evenhand.__file__).parent

# Bottom first. A package may import its own layer and those below it, never one above.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"config", "i18n", "errors", "kit", "models", "db", "migrate", "migrations"}),
    frozenset({"auth", "deps", "web"}),
    frozenset({"org"}),
    frozenset({"notify"}),
    frozenset({"opportunities", "audit"}),
    frozenset({"leads"}),
    frozenset({"activities", "routing"}),
    frozenset({"appeals", "capture", "standards", "honesty", "qa"}),
    frozenset({"intake", "board", "alerts"}),
    frozenset({"reports", "performance", "monitor"}),
    frozenset({"demo"}),
    frozenset({"app", "asgi", "cli"}),
)
RANK = {package: rank for rank, layer in enumerate(LAYERS) for package in layer}
# Packages whose modules are their domain's entry points: they stand below nobody, so never imported.
ENTRY_POINT_NAMES = ("routes.py", "pages.py", "cli.py")
QUERY_BUILDERS = {"select", "insert", "update", "delete", "func", "text", "exists", "and_", "or_", "case"}
SESSION_QUERIES = {"execute", "scalars", "scalar", "get", "add", "add_all", "delete", "query", "merge",
                   "refresh", "flush", "connection", "get_one", "bulk_save_objects"}


@dataclass(frozen=True)
class Import:
    module: str  # importing module, dotted
    target: str  # imported module, dotted (``from a import b`` counts as ``a.b`` when ``a/b.py`` exists)
    where: str  # file:line


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def sources() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(SRC.rglob("*.py")):
        if "migrations" not in path.parts:
            yield path, ast.parse(path.read_text(encoding="utf-8"), str(path))


def _is_module(dotted: str) -> bool:
    base = SRC.parent.joinpath(*dotted.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def imports(path: Path, tree: ast.Module) -> Iterator[Import]:
    module = module_name(path)
    where = lambda node: f"{path.relative_to(SRC.parent)}:{node.lineno}"  # noqa: E731
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("evenhand."):
                    yield Import(module, alias.name, where(node))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("evenhand") \
                and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                yield Import(module, sub if _is_module(sub) else node.module, where(node))


def all_imports() -> list[Import]:
    return [i for path, tree in sources() for i in imports(path, tree) if i.target != "evenhand"]


def against_the_layers(found: list[Import]) -> list[str]:
    wrong = []
    for i in found:
        source, target = package(i.module), package(i.target)
        if source not in RANK or target not in RANK:
            wrong.append(f"{i.where}: package {source if source not in RANK else target} has no declared layer")
        elif RANK[target] > RANK[source]:
            wrong.append(f"{i.where}: {source} imports {i.target}, a layer above it")
    return wrong


def cycles(found: list[Import]) -> list[str]:
    """Every strongly connected set of two or more modules (Tarjan), named with one import of each link."""
    graph: dict[str, dict[str, str]] = {}
    for i in found:
        if i.module != i.target and not i.module.startswith(i.target + "."):  # a package's own __init__
            graph.setdefault(i.module, {}).setdefault(i.target, i.where)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    out = []
    for group in groups:
        links = [f"{a} → {b} ({graph[a][b]})" for a in group for b in graph.get(a, {}) if b in group]
        out.append("modules import each other: " + "; ".join(links))
    return out


def is_entry_point(path: Path) -> bool:
    return path.name in ENTRY_POINT_NAMES or path.name.endswith("_pages.py")


def entry_point_queries(path: Path, tree: ast.Module) -> Iterator[str]:
    where = path.relative_to(SRC.parent)
    own = package(module_name(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("sqlalchemy", "sqlalchemy.sql"):
            for alias in node.names:
                if alias.name in QUERY_BUILDERS:
                    yield f"{where}:{node.lineno}: an entry point builds a query ({alias.name} from sqlalchemy)"
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("evenhand."):
            for alias in node.names:
                target = f"{node.module}.{alias.name}" if _is_module(f"{node.module}.{alias.name}") else node.module
                last = target.rsplit(".", 1)[-1]
                if package(target) != own and (last == "repository" or last == "pages" or last.endswith("_pages")):
                    yield f"{where}:{node.lineno}: an entry point imports another domain's {last} ({target})"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in SESSION_QUERIES and _names_a_session(node.func.value):
            yield f"{where}:{node.lineno}: an entry point calls session.{node.func.attr} itself"


def _names_a_session(value: ast.expr) -> bool:
    if isinstance(value, ast.Name):
        return value.id in ("session", "s", "db") or value.id.endswith("_session")
    return isinstance(value, ast.Attribute) and value.attr == "session"


def test_packages_import_only_their_own_layer_and_below() -> None:
    wrong = against_the_layers(all_imports())
    assert not wrong, "\n" + "\n".join(sorted(set(wrong)))


def test_no_two_modules_import_each_other() -> None:
    found = cycles(all_imports())
    assert not found, "\n" + "\n".join(found)


def test_entry_points_run_no_query_of_their_own() -> None:
    wrong = [problem for path, tree in sources() if is_entry_point(path) for problem in entry_point_queries(path, tree)]
    assert not wrong, "\n" + "\n".join(wrong)


def test_the_checks_see_what_they_check() -> None:
    """The rules are not vacuous: they find the imports and calls they are about."""
    tree = ast.parse("from sqlalchemy import select\nfrom evenhand.leads import repository\nsession.execute(x)\n")
    problems = list(entry_point_queries(SRC / "routing" / "routes.py", tree))
    assert len(problems) == 3
    found = [Import("evenhand.a.x", "evenhand.b.y", "a/x.py:1"), Import("evenhand.b.y", "evenhand.a.x", "b/y.py:2")]
    assert cycles(found) and "a/x.py:1" in cycles(found)[0]
    assert against_the_layers([Import("evenhand.org.service", "evenhand.routing.flows", "org/service.py:3")])
    assert all_imports(), "no imports read from src/evenhand"
