"""What every ``evenhand`` command prints the same way: its progress bar, and a refusal with its details."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from evenhand.errors import DomainError
from evenhand.i18n import t

MAX_DETAILS = 50  # problems listed under a refusal; the message says how many there are


def progress_bar(console: Console, *, transient: bool = False) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                    console=console, transient=transient)


def fail(console: Console, message: str) -> NoReturn:
    """One red line, exit status 1."""
    console.print(f"[red]{message}[/red]")
    raise typer.Exit(code=1)


def print_domain_error(console: Console, exc: DomainError) -> None:
    """The refusal in the reader's language, then each problem by its row (a file) or line (a document)."""
    console.print(f"[red]{t(exc.message, **exc.params)}[/red]")
    for detail in (exc.details or [])[:MAX_DETAILS]:
        if "row" in detail:
            console.print(t("  row {row}, {field}: {message}", **detail))
        else:
            console.print(t("  line {line}, {field}: {message}", **detail))
