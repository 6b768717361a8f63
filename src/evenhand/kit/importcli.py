"""What every ``evenhand import …`` command shares: its options, reading the mapping file, checking it before the
progress bar starts, one transaction under a progress bar, a refusal printed row by row, the rejects file."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from evenhand.config import get_settings
from evenhand.db import refresh_statistics, session_scope
from evenhand.errors import DomainError
from evenhand.i18n import N_, t
from evenhand.kit import rows, terminal
from evenhand.kit.clock import utcnow

T = TypeVar("T")
ImportFile = Annotated[Path, typer.Argument(help=N_("A .csv or .xlsx export"))]
SkipInvalid = Annotated[bool, typer.Option("--skip-invalid", help=N_("Import the valid rows, list the rest"))]
RejectsTo = Annotated[Path | None, typer.Option(
    "--rejects", help=N_("Where --skip-invalid writes rejected rows (default: under the data directory)"))]
Work = Callable[[Session, rows.Progress], T]


def mapping_text(console: Console, path: Path) -> str:
    if not path.exists():
        terminal.fail(console, t("No such file: {path}", path=str(path)))
    return path.read_text(encoding="utf-8")


@contextmanager
def refusals(console: Console) -> Iterator[None]:
    """A refused file (a bad mapping, a bad row) is printed with every problem; the command exits 1."""
    try:
        yield
    except DomainError as exc:
        terminal.print_domain_error(console, exc)
        raise typer.Exit(code=1) from exc


def checked(console: Console, *files: tuple[Path, str, rows.Kind[Any]]) -> None:
    """Each file's mapping against its kind's fields and its header, before anything is read or shown."""
    with refusals(console):
        for path, text, kind in files:
            rows.check(path, text, kind)


def run(console: Console, title: str, work: Work[T], *, stages: Mapping[str, str] | None = None) -> T:
    """One transaction under a progress bar (titled by each stage the work reports, when ``stages`` names them);
    a refusal printed with its rows, exit status 1. Once committed, the database's statistics are refreshed
    (``db.refresh_statistics``): what arrives next is planned for the tables as they are now."""
    with refusals(console), terminal.progress_bar(console) as bar:
        task = bar.add_task(t(title), total=None)

        def progress(stage: str, done: int, total: int) -> None:
            described = t(stages[stage]) if stages and stage in stages else None
            bar.update(task, completed=done, total=total, description=described)

        with session_scope() as session:
            done = work(session, progress)
        bar.update(task, description=t("Refreshing the database's statistics"))
        try:
            refresh_statistics()
        except SQLAlchemyError as exc:  # the import stands: only the planner waits for autovacuum
            console.print(t("Imported. The database's statistics could not be refreshed ({error}); autovacuum will "
                            "refresh them within minutes.", error=str(exc).splitlines()[0]))
        return done


def write_rejects(console: Console, refused: rows.Rejects, source: Path, target: Path | None) -> None:
    """The rejected rows with their reasons, to ``target`` or under the data directory, and where they went."""
    if refused.errors:
        path = target or rows.rejects_path(get_settings().data_dir, source, now=utcnow())
        refused.write(path)
        console.print(t("Rejected rows with reasons: {path}", path=str(path)))
