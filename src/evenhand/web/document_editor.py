"""One editor for every versioned YAML document (the routing policy, the scoring model, the stage standards, the
alert rules, the QA rubric): the text with its problems listed and marked on their lines as it is typed, whatever
preview the domain draws, saving with a note as the next version, and the history with each version's difference
against the active one.

Admin and ops edit; everyone else reads the same page with the text locked and no preview or save form. The
component imports no domain: a page passes its document's functions and words (``Document``) and, where it has
one, a ``Panel`` (a preview, a diagram beside the problems, fields of its own in the save form)."""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nicegui import run, ui
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.errors import DomainError, Invalid
from evenhand.i18n import N_, plural
from evenhand.kit.clock import local
from evenhand.web import context
from evenhand.web.forms import show_problems
from evenhand.web.layout import Tr, shell

DEBOUNCE_SECONDS = 0.4
MAX_DIFF_LINES = 400
CSS = ".eh-problem-line { background-color: rgba(193, 0, 21, 0.10); }"
Column = tuple[str, str, Callable[[Any, Tr], str]]  # key, label, the cell from a saved version's row


@dataclass(frozen=True)
class Document:
    """What a page tells the editor about its document. ``key`` names the elements (``{key}-editor``,
    ``{key}-status``, ``{key}-problems``, ``{key}-note``, ``save-{key}``, ``{key}-versions``); the texts are
    ``N_()`` strings. ``save(session, text, author=, note=, **extras)`` returns the new version's row."""

    key: str
    title: str
    active_label: str  # "… version {version}"
    valid: str
    name_column: str
    active: Callable[[Session], Any]
    history: Callable[[Session], Sequence[tuple[Any, str | None]]]  # (row, author's name), newest first
    validate: Callable[[str], Any]
    save: Callable[..., Any]
    columns: tuple[Column, ...] = ()
    height: str = "h-[32rem]"


@dataclass(frozen=True)
class Version:
    """A saved version as the page shows it, read inside the session."""

    version: int
    name: str
    note: str
    author: str
    created_at: datetime
    active: bool
    body: str
    cells: dict[str, str] = field(default_factory=dict)


class Panel:
    """What a document's page adds to its editor; every part is optional. ``editor`` is set before any is drawn."""

    editor: Editor

    def aside(self) -> None:
        """Drawn beside the problems, for everyone."""

    def build(self) -> None:
        """Drawn under the editor for those who edit: a preview."""

    def fields(self) -> None:
        """Drawn in the save form, under the note."""

    def checked(self, text: str, valid: bool) -> None:
        """Called after every check of the text."""

    def hint(self, text: str) -> str:
        """Why this (valid, changed) text may not be saved yet; empty when it may."""
        return ""

    def extras(self) -> dict[str, Any]:
        """Passed to ``Document.save`` beside the note."""
        return {}


def problems(validate: Callable[[str], Any], body: str) -> list[dict[str, Any]]:
    """Every problem of the text with its path and line; empty when the document is valid."""
    try:
        validate(body)
    except Invalid as exc:
        return list(exc.details or [])
    return []


def diff(before: str, after: str, before_name: str, after_name: str) -> list[str]:
    return list(difflib.unified_diff(before.splitlines(), after.splitlines(), before_name, after_name, lineterm=""))


def page(principal: Principal, tr: Tr, document: Document, *, nav: str, panel: Panel | None = None,
         links: Sequence[tuple[str, str]] = ()) -> None:
    """The document's page, for a view registered with ``context.page`` (the navigation marks ``nav``); ``links`` (an
    ``N_()`` text and where it goes) stand beside the active version's number."""
    with shell(principal, tr, title=tr(document.title), path=nav):
        draw(document, principal, tr, panel, links=links)
    return None


def draw(document: Document, principal: Principal, tr: Tr, panel: Panel | None = None, *,
         links: Sequence[tuple[str, str]] = ()) -> None:
    """The active version's number, the editor and the history, drawn where the caller stands."""
    with session_scope(context.engine()) as session:  # the first read on a new database installs version 1
        current = document.active(session)
        versions = [_version(document, row, author, tr) for row, author in document.history(session)]
    active = next((v for v in versions if v.active), None) or _version(document, current, None, tr)
    ui.add_css(CSS)
    with ui.row().classes("items-center gap-4"):
        ui.label(tr(document.active_label, version=active.version)).classes("text-grey-7").props(
            'data-testid="active-version"')
        for text, href in links:
            ui.link(tr(text), href)
    Editor(document, principal, tr, active, panel or Panel()).build()
    _history(document, tr, versions, active)


def _version(document: Document, row: Any, author: str | None, tr: Tr) -> Version:
    return Version(version=row.version, name=row.name, note=row.note, author=author or "—",
                   created_at=row.created_at, active=row.active, body=row.body,
                   cells={key: cell(row, tr) for key, _, cell in document.columns})


class Editor:
    """The text, its status and problems, the panel, and the save form with the changes against the active version,
    wired together: problems are checked a moment after typing stops, and saving waits for that check."""

    def __init__(self, document: Document, principal: Principal, tr: Tr, active: Version, panel: Panel) -> None:
        self.document, self.principal, self.tr, self.active, self.panel = document, principal, tr, active, panel
        self.editable = principal.manages_org
        self.changed_at: float | None = None
        self.valid = True
        panel.editor = self

    @property
    def text(self) -> str:
        return str(self.editor.value)

    def build(self) -> None:
        key = self.document.key
        with ui.row().classes("w-full gap-4 items-start no-wrap"):
            self.editor = ui.codemirror(self.active.body, language="YAML").classes(
                f"w-1/2 {self.document.height} border").props(f'data-testid="{key}-editor"')
            self.editor.set_enabled(self.editable)
            with ui.column().classes("w-1/2 gap-2"):
                self.status = ui.label().props(f'data-testid="{key}-status" role="status"')
                self.problem_list = ui.column().classes("gap-1").props(f'data-testid="{key}-problems"')
                self.panel.aside()
        if self.editable:
            self.panel.build()
            self._save_card()
        self.editor.on_value_change(self._changed)
        ui.timer(0.2, self._debounced)
        self.check()

    def _changed(self) -> None:
        self.changed_at = time.monotonic()
        if self.editable:
            self.refresh_save()

    def _debounced(self) -> None:
        if self.changed_at is not None and time.monotonic() - self.changed_at >= DEBOUNCE_SECONDS:
            self.changed_at = None
            self.check()

    def check(self) -> bool:
        """Lists and marks the text's problems; the panel, the save form and the changes follow."""
        tr, text = self.tr, self.text
        found = problems(self.document.validate, text)
        show_problems(self.editor, self.problem_list, found, tr)
        self.valid = not found
        counted = plural(len(found), N_("{count} problem"), N_("{count} problems"))
        self.status.text = tr(self.document.valid) if not found else tr(counted, count=len(found))
        self.status.classes(replace="text-positive" if not found else "text-negative")
        self.panel.checked(text, not found)
        if self.editable:
            self.refresh_save()
            show_diff(self.changes, diff(self.active.body, text, f"v{self.active.version}", tr("this text")), tr)
        return not found

    def _save_card(self) -> None:
        tr, key = self.tr, self.document.key
        with ui.card().classes("w-full"):
            ui.label(tr("Save as a new version")).classes("text-h6")
            self.note = ui.input(tr("What changed and why")).classes("w-full").props(f'data-testid="{key}-note"')
            self.panel.fields()
            with ui.row().classes("items-center gap-4"):
                self.save_button = ui.button(tr("Save as new version"), on_click=self.save).props(
                    f'color=primary data-testid="save-{key}"')
                self.save_hint = ui.label().classes("text-caption text-grey-7").props('data-testid="save-hint"')
            with ui.expansion(tr("Changes against the active version")).classes("w-full"):
                self.changes = ui.column().classes("w-full gap-0").props(f'data-testid="{key}-changes"')

    def _hint(self, text: str) -> str:
        if text == self.active.body:
            return self.tr("Nothing to save: the text is the active version.")
        return self.panel.hint(text)

    def refresh_save(self) -> None:
        """Saving is possible once the text has been checked, is valid, differs from the active version and the
        panel has nothing against it."""
        hint = self._hint(self.text)
        self.save_button.set_enabled(not hint and self.changed_at is None and self.valid)
        self.save_hint.text = hint

    def save(self) -> None:
        text, tr = self.text, self.tr
        if self._hint(text) or problems(self.document.validate, text):
            return
        try:
            with session_scope(context.engine()) as session:
                version = self.document.save(session, text, author=self.principal, note=self.note.value or "",
                                             **self.panel.extras()).version
        except DomainError as exc:
            ui.notify(tr(exc.message, **exc.params), type="negative")
            return
        ui.notify(tr("Saved as version {version}.", version=version), type="positive")
        ui.navigate.reload()


class Preview(Panel):
    """A button (``label``, an ``N_()`` text with ``label_params``) that runs the domain's ``compute(session,
    principal, text)`` on the checked text in a worker thread (a read-only session) and hands the result to
    ``show(area, result, tr)``."""

    def __init__(self, label: str, compute: Callable[[Session, Principal, str], Any],
                 show: Callable[[ui.column, Any, Tr], None], *, button_id: str, area_id: str,
                 label_params: dict[str, Any] | None = None) -> None:
        self.label, self.label_params, self.compute, self.show = label, label_params or {}, compute, show
        self.button_id, self.area_id = button_id, area_id

    def build(self) -> None:
        with ui.card().classes("w-full"):
            self.button = ui.button(self.editor.tr(self.label, **self.label_params), on_click=self.run).props(
                f'color=primary outline data-testid="{self.button_id}"')
            self.area = ui.column().classes("w-full gap-1").props(f'data-testid="{self.area_id}"')

    def checked(self, text: str, valid: bool) -> None:
        if self.editor.editable:
            self.button.set_enabled(valid)

    async def run(self) -> None:
        editor = self.editor
        if not editor.check():
            return
        self.button.set_enabled(False)
        try:
            result = await run.io_bound(self._compute, editor.principal, editor.text)
        finally:
            self.button.set_enabled(True)
        if result is None:  # the server is shutting down
            return
        if isinstance(result, DomainError):
            ui.notify(editor.tr(result.message, **result.params), type="negative")
            return
        self.show(self.area, result, editor.tr)

    def _compute(self, principal: Principal, text: str) -> Any:
        """Runs in a worker thread; a refusal is returned, to be shown on the page."""
        try:
            with session_scope(context.engine(), readonly=True) as session:
                return self.compute(session, principal, text)
        except DomainError as exc:
            return exc


def _history(document: Document, tr: Tr, versions: list[Version], active: Version) -> None:
    """Every version, and the difference between a chosen earlier one and the active one."""
    zone, key = get_settings().zone, document.key
    ui.label(tr("Versions")).classes("text-h6")
    named = (("version", N_("Version")), ("name", document.name_column), ("note", N_("Note")),
             ("author", N_("Author")), ("created", N_("Saved")), *((k, label) for k, label, _ in document.columns),
             ("active", N_("In use")))
    rows = [{"version": v.version, "name": v.name, "note": v.note, "author": v.author,
             "created": local(v.created_at, zone).strftime("%Y-%m-%d %H:%M"), **v.cells,
             "active": "✓" if v.active else ""} for v in versions]
    ui.table(columns=[{"name": k, "label": tr(label), "field": k, "align": "left"} for k, label in named],
             rows=rows, row_key="version").classes("w-full").props(f'dense flat bordered data-testid="{key}-versions"')
    _compare(key, tr, [v for v in versions if not v.active], active)


def _compare(key: str, tr: Tr, earlier: list[Version], active: Version) -> None:
    if not earlier:
        return
    bodies = {v.version: v.body for v in earlier}
    with ui.row().classes("items-center gap-2"):
        ui.label(tr("Compare with the active version:"))
        chosen = ui.select({n: tr("Version {version}", version=n) for n in bodies}, value=next(iter(bodies))).props(
            'dense outlined data-testid="diff-version"')
    area = ui.column().classes("w-full gap-0").props(f'data-testid="{key}-diff"')

    def show() -> None:
        show_diff(area, diff(bodies[chosen.value], active.body, f"v{chosen.value}", f"v{active.version}"), tr)

    chosen.on_value_change(lambda _: show())
    show()


def show_diff(area: ui.column, lines: list[str], tr: Tr) -> None:
    """A unified diff, one label per line (text, never markup), additions green and removals red."""
    area.clear()
    with area:
        if not lines:
            ui.label(tr("No difference.")).classes("text-grey-7")
        for line in lines[:MAX_DIFF_LINES]:
            colour = "text-positive" if line.startswith("+") else "text-negative" if line.startswith("-") else ""
            ui.label(line or " ").classes(f"whitespace-pre font-mono text-caption {colour}")
