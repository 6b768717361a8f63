"""What every ``evenhand`` command prints the same way: its progress bar, and a refusal with its details."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from evenhand.errors import WHOLE_DOCUMENT, DomainError
from evenhand.i18n import t

MAX_DETAILS = 50  # problems listed under a refusal; the message says how many there are


def progress_bar(console: Console, *, transient: bool = False) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                    console=console, transient=transient)


def fail(console: Console, message: str) -> NoReturn:
    """One red line, exit status 1."""
    console.print(f"[red]{message}[/red]")
    raise typer.Exit(code=1)


def print_domain_error(console: Console, exc: DomainError, *, source: str | None = None) -> None:
    """The refusal in the reader's language, then each problem by its row (a file) or line (a document).
    ``source`` names the file a document came from, where a problem is with the document as a whole."""
    params = exc.params
    if source is not None and params.get("where") == WHOLE_DOCUMENT:
        params = {**params, "where": source}
    console.print(f"[red]{t(exc.message, **params)}[/red]")
    for detail in (exc.details or [])[:MAX_DETAILS]:
        if "row" in detail:
            console.print(t("  row {row}, {field}: {message}", **detail))
        elif detail.get("field"):
            console.print(t("  line {line}, {field}: {message}", **detail))
        else:
            console.print(t("  {source}, line {line}: {message}", source=source or t("the document"), **detail))


def refuse(console: Console, exc: DomainError, *, source: Path | None = None) -> NoReturn:
    """A service's refusal printed with its details, exit status 1."""
    print_domain_error(console, exc, source=str(source) if source else None)
    raise typer.Exit(code=1) from exc


def read_text(console: Console, file: Path) -> str:
    """A document given on the command line: refused, naming the path, when it is missing or not UTF-8."""
    if not file.is_file():
        fail(console, t("No such file: {path}", path=str(file)))
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        fail(console, t("{path} is not UTF-8 text.", path=str(file)))


def day(console: Console, value: str, option: str) -> date:
    """An option's day (``2026-11-01``), refused naming the option."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(console, t("{option} must be a date like 2026-11-01.", option=option))
