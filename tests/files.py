"""Exports written in a test, as a CRM or a spreadsheet saves them: a CSV, or the first sheet of a workbook."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from openpyxl import Workbook


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, *rows])
    return path


def write_xlsx(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    """An empty cell for every empty value, as a spreadsheet leaves a blank."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in [header, *rows]:
        sheet.append([None if cell in ("", None) else cell for cell in row])
    book.save(path)
    return path
