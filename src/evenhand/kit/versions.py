"""Versioned configuration documents (scoring model, routing policy, …): one active version, each save
a new numbered version with its diff in the audit log."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cache, lru_cache
from typing import Annotated, Any, Generic, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from evenhand.errors import Invalid, NotFound, invalid_document
from evenhand.kit import audit
from evenhand.kit.clock import utcnow
from evenhand.kit.once import get_or_create
from evenhand.kit.schema import DEFERRED, Strict
from evenhand.kit.text import require_clean
from evenhand.kit.yamldoc import DocumentError, refused
from evenhand.models import ChangeEntry, ChangeStatus, User

V = TypeVar("V")


@cache
def _active_of(model: Any) -> Select[Any]:
    return select(model).where(model.active.is_(True))  # built once per kind: it is read on every intake


def active(session: Session, model: type[V], make_first: Callable[[], V]) -> V:
    """The active version; the first caller on a new database installs ``make_first()`` as version 1.

    A reader installs it in a transaction of its own and is handed the row: on SQLite a read-only (deferred)
    transaction that has read cannot take the write lock, so two pages opening together on a new database would
    fail with "database is locked"."""
    table: Any = model  # any mapped class with ``version``, ``active`` and ``body``
    found = session.scalar(_active_of(table))
    if found is not None:
        return cast(V, found)
    first = select(table).where(table.version == 1)
    bind = session.get_bind()
    if not bind.get_execution_options().get("evenhand_readonly", False):
        return get_or_create(session, first, make_first)
    with Session(bind.execution_options(evenhand_readonly=False), expire_on_commit=False) as writer, writer.begin():
        return get_or_create(writer, first, make_first)


def numbered(session: Session, model: type[V], number: int) -> V | None:
    table: Any = model
    return cast(V | None, session.scalar(select(table).where(table.version == number)))


def save(session: Session, model: type[V], previous: Any, *, action: str, actor_id: int | None,
         payload: dict[str, Any] | None = None, **fields: Any) -> V:
    """Store the next version (``fields``) as the only active one; the audit entry carries the diff.

    Its text is checked here as well as in the API's schema: the editor pages save through this directly."""
    for name, value in (*fields.items(), *(payload or {}).items()):
        require_clean(value, field=name)
    table: Any = model
    number = (session.scalar(select(func.max(table.version))) or 0) + 1
    session.execute(update(table).values(active=False))
    row = table(version=number, active=True, author_id=actor_id, **fields)
    session.add(row)
    session.flush()
    diff = "".join(difflib.unified_diff(previous.body.splitlines(True), fields["body"].splitlines(True),
                                        f"v{previous.version}", f"v{number}"))
    audit.append(session, action=action, subject_type=table.__tablename__, subject_id=number, actor_id=actor_id,
                 payload={"version": number, "previous": previous.version, "note": fields.get("note", ""),
                          "diff": diff, **(payload or {})})
    _record_version(session, table.__tablename__, number, note=fields.get("note", ""), author_id=actor_id,
                    affected_metrics=(payload or {}).get("affected_metrics", ()))
    return cast(V, row)


def _record_version(session: Session, document: str, number: int, *, note: str, author_id: int | None,
                    affected_metrics: Sequence[str]) -> None:
    """Every saved version is a change: ``routing_policies v5: note``, with the metrics its author declared."""
    title = f"{document} v{number}: {note}" if note else f"{document} v{number}"
    record_change(session, system=document, title=title, description=note, author_id=author_id, document=document,
                  document_version=number, affected_metrics=affected_metrics)


def record_change(session: Session, *, system: str, title: str, author_id: int | None, description: str = "",
                  document: str | None = None, document_version: int | None = None,
                  affected_metrics: Sequence[str] = ()) -> ChangeEntry:
    """A configuration change a person made in evenhand itself (a document's new version, an organisation's
    notification channel), recorded in the change registry in the caller's transaction: released as it is made.

    ``title`` is data, not prose (``routing_policies v5: note``); pages show a translated label for ``system``."""
    now = utcnow()
    entry = ChangeEntry(title=title[:200], kind="config", system=system, description=description,
                        effective_at=now, author_id=author_id, affected_metrics=list(affected_metrics),
                        status=ChangeStatus.RELEASED, source="config", document=document,
                        document_version=document_version, released_at=now, released_by_id=author_id)
    session.add(entry)
    session.flush()
    return entry


C = TypeVar("C")


# The document reader checks its characters, naming the line (``kit.yamldoc``).
DocumentBody = Annotated[str, Field(min_length=1, max_length=200_000), DEFERRED]
Note = Annotated[str, Field(max_length=500)]


class VersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    version: int
    name: str
    note: str
    active: bool
    author_id: int | None
    created_at: datetime


class DocumentText(Strict):
    body: DocumentBody


class ProblemRead(BaseModel):
    field: str | None
    line: int | None
    message: str


class Validation(BaseModel):
    valid: bool
    problems: list[ProblemRead]


class Document(Generic[V, C]):
    """One kind of versioned YAML document (the scoring model, the routing policy, and each document after
    them): how its text compiles, what its problems say, and its versions in ``model``'s table. Scoring and
    routing each hold one; their services and endpoints read through it."""

    def __init__(self, model: type[V], *, compile: Callable[[str], C], error: type[DocumentError],
                 messages: dict[str, str], wrong: str, missing: str, default_text: Callable[[], str],
                 default_note: str, name_of: Callable[[C], str], saved_action: str) -> None:
        self.model, self._compile, self.error, self.messages = model, lru_cache(maxsize=16)(compile), error, messages
        self.wrong, self.missing, self.default_text, self.default_note = wrong, missing, default_text, default_note
        self.name_of, self.saved_action = name_of, saved_action

    def compiled(self, body: str) -> C:
        """Versions never change, so their compiled form is cached by text for the life of the process."""
        return self._compile(body)

    def validate(self, body: str) -> C:
        """The compiled document, or ``Invalid`` naming the path and line of every problem (``wrong``)."""
        try:
            return self.compiled(body)
        except self.error as exc:
            raise invalid_document(exc, self.wrong, self.messages) from exc

    def check(self, body: str) -> Validation:
        """Its problems, each with its path and line; a text refused for what reading it would cost (size,
        depth, values, time) raises instead, like a body over the length limit."""
        try:
            self.validate(body)
        except Invalid as exc:
            if refused(exc):
                raise
            return Validation(valid=False, problems=[ProblemRead(**d) for d in exc.details or []])
        return Validation(valid=True, problems=[])

    def active(self, session: Session) -> V:
        """The active version; the first caller on a new database installs the shipped default as version 1."""
        body = self.default_text()
        table: Any = self.model
        return active(session, self.model, lambda: table(version=1, name=self.name_of(self.compiled(body)), body=body,
                                                         note=self.default_note, active=True))

    def install(self, session: Session, body: str, *, note: str) -> tuple[V, bool]:
        """``body`` as version 1 on a database without versions (True); otherwise the active version, untouched."""
        table: Any = self.model
        if session.scalar(select(table.version).limit(1)) is not None:
            return self.active(session), False
        name = self.name_of(self.validate(body))
        return active(session, self.model, lambda: table(version=1, name=name, body=body, note=note, active=True)), True

    def save(self, session: Session, body: str, *, author_id: int | None, note: str = "",
             payload: dict[str, Any] | None = None, **fields: Any) -> V:
        """Validate, store as the next active version; the audit entry carries the diff and ``payload``."""
        compiled = self.validate(body)
        return save(session, self.model, self.active(session), action=self.saved_action, actor_id=author_id,
                    payload=payload, name=self.name_of(compiled), body=body, note=note, **fields)

    def versions(self, session: Session) -> list[V]:
        """Every version, newest first; on a new database the shipped default is installed first."""
        self.active(session)
        table: Any = self.model
        return list(session.scalars(select(table).order_by(table.version.desc())))

    def history(self, session: Session) -> list[tuple[V, str | None]]:
        """Every version, newest first, with its author's display name (None: the system or the CLI)."""
        self.active(session)
        table: Any = self.model
        stmt = (select(table, User.display_name).outerjoin(User, User.id == table.author_id)
                .order_by(table.version.desc()))
        return list(session.execute(stmt).tuples())

    def version(self, session: Session, number: int) -> V:
        row = numbered(session, self.model, number)
        if row is None:
            raise NotFound(self.missing, field="version", version=number)
        return row
