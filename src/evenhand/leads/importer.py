"""Importing leads from CSV or Excel exports through a mapping file.

Row numbers are the spreadsheet's: the header is row 1, the first lead row 2 — the numbers a user
sees when they open the file to fix it.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evenhand.leads import mapping as mapping_mod
from evenhand.leads import service
from evenhand.leads.schemas import LeadCreate
from evenhand.leads.service import RowError
from evenhand.leads.tables import FIRST_DATA_ROW, read_table

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ImportReport:
    rows: int
    created: int
    existing: int
    duplicates: int
    rejected: list[RowError]
    header: list[str]
    rejected_rows: dict[int, dict[str, str | None]]


@dataclass(frozen=True)
class Table:
    """A file read through its mapping: the leads of its valid rows, and what was wrong with the others."""

    header: list[str]
    raw_rows: list[dict[str, str | None]]
    valid: list[LeadCreate]
    errors: list[RowError]


Validate = Callable[[list[dict[str, Any]], int], tuple[list[LeadCreate | None], list[RowError]]]


def read(path: Path, mapping_text: str, *, skip_invalid: bool, progress: Progress,
         validate: Validate | None = None) -> Table:
    """Validate every row first (``validate``: the rows as leads and their errors, numbered from the given row;
    by default the fields alone); unless ``skip_invalid``, one bad row rejects the whole file."""
    spec = mapping_mod.parse_mapping(mapping_text)
    header, raw_rows = read_table(path)
    mapping_mod.check_columns(spec, header)
    check = validate or (lambda rows, first: service.validate_rows(rows, first_row=first))
    parsed, errors = check([mapping_mod.apply(spec, r) for r in raw_rows], FIRST_DATA_ROW)
    progress("validated", len(raw_rows), len(raw_rows))
    if errors and not skip_invalid:
        raise service.reject(errors)
    return Table(header, raw_rows, [p for p in parsed if p is not None], errors)


def report(table: Table, results: Sequence[service.Intake]) -> ImportReport:
    created = [r for r in results if r.created]
    bad_rows = {e.row: table.raw_rows[e.row - FIRST_DATA_ROW] for e in table.errors}
    return ImportReport(rows=len(table.raw_rows), created=len(created), existing=len(results) - len(created),
                        duplicates=sum(1 for r in created if r.lead.duplicate_of_id), rejected=table.errors,
                        header=table.header, rejected_rows=bad_rows)


def write_rejects(path: Path, report: ImportReport) -> None:
    """The rejected rows as they were in the file, each with its reason, ready to fix and re-import."""
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "field", "problem", *report.header])
        for e in report.rejected:
            original = report.rejected_rows.get(e.row, {})
            writer.writerow([e.row, e.field, e.message, *(original.get(h) or "" for h in report.header)])
