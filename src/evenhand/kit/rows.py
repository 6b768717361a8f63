"""Rows of an import or a batch: validated one by one so every error names its row and field, refused all or
nothing, and written back with their reasons when the good rows are kept (``skip_invalid``).

A file is streamed (``kit.tables``) in chunks: each chunk is mapped, validated and handed to the kind's writer in
the caller's transaction, so a million rows are never held at once. A file with a bad row is refused after the
whole file has been read (every problem is listed) and the caller's transaction is rolled back: nothing is
half-written."""

from __future__ import annotations

import csv
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter, ValidationError

from evenhand.errors import Invalid, describe
from evenhand.kit import mapping as mapping_mod
from evenhand.kit.tables import FIRST_DATA_ROW, Row, open_table

T = TypeVar("T")
Progress = Callable[[str, int, int], None]  # stage, rows done, rows in all (estimated for a file being read)


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    message: str


def validate_rows(adapter: TypeAdapter[T], rows: Sequence[dict[str, Any]], *,
                  first_row: int = 1) -> tuple[list[T | None], list[RowError]]:
    """Validate every row; rows are numbered from ``first_row`` so errors point where the user looks."""
    parsed: list[T | None] = []
    errors: list[RowError] = []
    for offset, row in enumerate(rows):
        try:
            parsed.append(adapter.validate_python(row))
        except ValidationError as exc:
            parsed.append(None)
            errors += [RowError(first_row + offset, ".".join(map(str, e["loc"])) or "row", describe(e))
                       for e in exc.errors()]
    return parsed, errors


def reject(errors: Sequence[RowError], *, path: Callable[[RowError], str] | None = None) -> Invalid:
    """All-or-nothing refusal naming the first bad row and field; ``details`` lists the first thousand."""
    first = errors[0]
    where = path or (lambda e: f"row {e.row}.{e.field}")
    details = [{"row": e.row, "field": where(e), "message": e.message} for e in errors[:1000]]
    return Invalid("Row {row}: {field_name}: {problem} ({count} problems in all; nothing was saved).",
                   field=where(first), details=details, row=first.row, field_name=first.field,
                   problem=first.message, count=len(errors))


Validate = Callable[[list[dict[str, Any]], int], tuple[list[T | None], list[RowError]]]


@dataclass
class Rejects:
    """What was wrong with a file: the errors, and the rejected rows as they were in it."""

    header: list[str]
    errors: list[RowError] = field(default_factory=list)
    rows: dict[int, Row] = field(default_factory=dict)
    read: int = 0

    def write(self, path: Path) -> None:
        """The rejected rows as they were in the file, each with its reason, ready to fix and import again."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8-sig") as handle:
            writer = csv.writer(handle)
            writer.writerow(["row", "field", "problem", *self.header])
            for e in self.errors:
                original = self.rows.get(e.row, {})
                writer.writerow([e.row, e.field, e.message, *(original.get(h) or "" for h in self.header)])


@dataclass(frozen=True)
class Kind(Generic[T]):
    """One kind of import: its name in messages, the fields its mapping may name, the times among them, and
    how a chunk of mapped rows is validated (by default, field by field against ``adapter``)."""

    name: str
    adapter: TypeAdapter[T]
    fields: Sequence[str]
    moments: Collection[str] = ()

    def validate(self, rows: list[dict[str, Any]], first_row: int) -> tuple[list[T | None], list[RowError]]:
        return validate_rows(self.adapter, rows, first_row=first_row)


def check(path: Path, mapping_text: str, kind: Kind[Any]) -> None:
    """The mapping against the kind's fields and the file's header, before a row is read (and before a command
    starts its progress bar): every unknown field, every missing column named at once."""
    spec = mapping_mod.parse(mapping_text, known=kind.fields, kind=kind.name)
    table = open_table(path)
    next(table.rows, None)  # enters the reader, so that closing it closes the file
    table.rows.close()
    mapping_mod.check_columns(spec, table.header)


def chunks(path: Path, mapping_text: str, kind: Kind[T], *, zone: ZoneInfo, rejects: Rejects | None = None,
           validate: Validate[T] | None = None, size: int = 2000,
           progress: Progress | None = None) -> Iterator[list[tuple[int, T]]]:
    """The valid rows of a file, chunk by chunk, each with its row number. The mapping is checked against the
    kind's fields and the file's header before the first row is read. Errors go to ``rejects``; the caller
    decides at the end whether to keep the good rows (``skip_invalid``) or refuse the file (``reject``)."""
    spec = mapping_mod.parse(mapping_text, known=kind.fields, kind=kind.name)
    table = open_table(path)
    mapping_mod.check_columns(spec, table.header)
    check = validate or kind.validate
    rows = iter(table.rows)
    number = FIRST_DATA_ROW
    if rejects is not None:
        rejects.header = table.header
    while raw := list(islice(rows, size)):
        parsed, errors = check([mapping_mod.apply(spec, r, zone=zone, moments=kind.moments) for r in raw], number)
        if rejects is not None:
            rejects.errors += errors
            rejects.rows.update({e.row: raw[e.row - number] for e in errors})
            rejects.read += len(raw)
        good = [(number + i, p) for i, p in enumerate(parsed) if p is not None]
        number += len(raw)
        if progress:
            progress("read", number - FIRST_DATA_ROW, max(table.estimated_rows, number - FIRST_DATA_ROW))
        yield good


def rejects_path(data_dir: Path, source: Path, *, now: datetime) -> Path:
    """Where rejected rows go unless the user names a file: under the data directory, never beside the input
    (whose folder may be read-only, shared, or synced elsewhere)."""
    return data_dir / "rejects" / f"{source.stem}.{now:%Y%m%d-%H%M%S}.rejected.csv"
