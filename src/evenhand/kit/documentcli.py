"""The commands of a versioned YAML document (the stage standards, the alert rules, the QA rubric): one prints a
version, the other validates a file and saves it as the next active version. Each opens its own unit of work; a
refused document lists every problem with its line and exits with 1, having changed nothing."""

# No ``from __future__ import annotations``: Typer reads the commands' annotations, and their help texts are
# arguments of the enclosing call, which a string annotation could not name.

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from evenhand.db import get_engine, session_scope
from evenhand.errors import DomainError
from evenhand.i18n import N_, t
from evenhand.kit import terminal
from evenhand.kit.versions import Document

# The document and the domain's save(session, body, author=, note=); imported when a command runs, not when the
# CLI starts.
Load = Callable[[], tuple[Document[Any, Any], Callable[..., Any]]]
Db = Annotated[str | None, typer.Option("--db", help=N_("Database URL; default: the configured database"))]
VersionOption = Annotated[int | None, typer.Option(help=N_("A saved version; default the active one"))]
out, err = Console(), Console(stderr=True)


def add(app: typer.Typer, load: Load, *, show_as: str, show_help: str, set_as: str, set_help: str,
        file_help: str) -> None:
    """The two commands on ``app``, named ``show_as`` and ``set_as``; the help texts are ``N_()`` strings."""

    @app.command(show_as, help=show_help)
    def show_command(version: VersionOption = None, db: Db = None) -> None:
        body = _show(load, version, db)
        sys.stdout.write(body if body.endswith("\n") else body + "\n")

    @app.command(set_as, help=set_help)
    def set_command(file: Annotated[Path, typer.Argument(help=file_help)],
                    note: Annotated[str, typer.Option(help=N_("What changed and why"))] = "", db: Db = None) -> None:
        out.print(t("Saved as version {version}.", version=_set(load, file, note, db)))


def _show(load: Load, version: int | None, db: str | None) -> str:
    """The version's text; its number, name and note go to stderr, so that stdout carries the document alone, which
    the set command takes back."""
    document, _ = load()
    try:
        with session_scope(_engine(db)) as session:  # the first read on a new database installs version 1
            row = document.version(session, version) if version else document.active(session)
            number, name, note, body = row.version, row.name, row.note, row.body
    except DomainError as exc:
        terminal.refuse(err, exc)
    err.print(t("Version {version} ({name}), {note}", version=number, name=name, note=note or "—"), style="bold")
    return str(body)


def _set(load: Load, file: Path, note: str, db: str | None) -> int:
    document, save = load()
    body = terminal.read_text(err, file)
    try:
        document.validate(body)
        with session_scope(_engine(db)) as session:
            if document.active(session).body == body:
                terminal.fail(err, t("Nothing to save: the text is the active version."))
            return int(save(session, body, author=None, note=note).version)
    except DomainError as exc:
        terminal.refuse(err, exc, source=file)


def _engine(db: str | None) -> Any:
    return get_engine(db) if db else None
