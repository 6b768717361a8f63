"""Importing leads from CSV or Excel exports through a mapping file.

Row numbers are the spreadsheet's: the header is row 1, the first lead row 2 — the numbers a user
sees when they open the file to fix it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.errors import Invalid
from evenhand.leads import mapping as mapping_mod
from evenhand.leads import service
from evenhand.leads.service import RowError

FIRST_DATA_ROW = 2
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


def read_table(path: Path) -> tuple[list[str], list[dict[str, str | None]]]:
    if not path.exists():
        raise Invalid("No such file: {path}", field="file", path=str(path))
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path)
    if suffix in (".csv", ".txt", ".tsv"):
        return _read_csv(path)
    raise Invalid("Unsupported file type {suffix}; use .csv or .xlsx.", field="file", suffix=suffix)


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str | None]]]:
    text = _decode(path.read_bytes())
    dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t") if text.strip() else csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = [h.strip() for h in next(reader, [])]
    rows = []
    for number, values in enumerate(reader, start=FIRST_DATA_ROW):
        if len(values) > len(header):
            raise Invalid("Row {row} has {got} values but the header has {want} columns.", field=f"{number}",
                          row=number, got=len(values), want=len(header))
        rows.append(dict(zip(header, [*values, *[None] * (len(header) - len(values))], strict=True)))
    return header, rows


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM) first; Chinese Excel on Windows still saves CSV as GB18030."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def _read_xlsx(path: Path) -> tuple[list[str], list[dict[str, str | None]]]:
    from openpyxl import load_workbook

    sheet = load_workbook(path, read_only=True, data_only=True).worksheets[0]
    rows_iter: Iterator[tuple[Any, ...]] = sheet.iter_rows(values_only=True)
    header = [str(h).strip() if h is not None else "" for h in next(rows_iter, ())]
    rows = [{h: _cell(v) for h, v in zip(header, values, strict=False)} for values in rows_iter
            if any(v is not None for v in values)]
    return header, rows


def _cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def import_leads(session: Session, path: Path, mapping_text: str, *, actor: Principal | None,
                 dedup: Sequence[str], skip_invalid: bool, progress: Progress | None = None) -> ImportReport:
    """Validate every row first; unless ``skip_invalid``, one bad row rejects the whole file."""
    spec = mapping_mod.parse_mapping(mapping_text)
    header, raw_rows = read_table(path)
    mapping_mod.check_columns(spec, header)
    report = progress or (lambda _stage, _done, _total: None)
    parsed, errors = service.validate_rows([mapping_mod.apply(spec, r) for r in raw_rows], first_row=FIRST_DATA_ROW)
    report("validated", len(raw_rows), len(raw_rows))
    if errors and not skip_invalid:
        raise service.reject(errors)
    valid = [p for p in parsed if p is not None]
    done = 0

    def written(n: int) -> None:
        nonlocal done
        done += n
        report("written", done, len(valid))

    results = service.intake_many(session, valid, actor=actor, dedup=dedup, progress=written)
    created = [r for r in results if r.created]
    bad_rows = {e.row: raw_rows[e.row - FIRST_DATA_ROW] for e in errors}
    return ImportReport(rows=len(raw_rows), created=len(created), existing=len(results) - len(created),
                        duplicates=sum(1 for r in created if r.lead.duplicate_of_id), rejected=errors,
                        header=header, rejected_rows=bad_rows)


def write_rejects(path: Path, report: ImportReport) -> None:
    """The rejected rows as they were in the file, each with its reason, ready to fix and re-import."""
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "field", "problem", *report.header])
        for e in report.rejected:
            original = report.rejected_rows.get(e.row, {})
            writer.writerow([e.row, e.field, e.message, *(original.get(h) or "" for h in report.header)])
