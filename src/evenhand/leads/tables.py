"""Reading CSV and Excel exports into rows of text (the header is row 1, data starts on row 2)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evenhand.errors import Invalid

FIRST_DATA_ROW = 2


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
    dialect = _dialect(text)
    reader = csv.reader(io.StringIO(text), dialect)
    header = [h.strip() for h in next(reader, [])]
    rows = []
    for number, values in enumerate(reader, start=FIRST_DATA_ROW):
        if len(values) > len(header):
            raise Invalid("Row {row} has {got} values but the header has {want} columns.", field=f"{number}",
                          row=number, got=len(values), want=len(header))
        rows.append(dict(zip(header, [*values, *[None] * (len(header) - len(values))], strict=True)))
    return header, rows


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    """Comma, semicolon or tab, as the sample suggests; plain comma-separated when it cannot tell."""
    try:
        return csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        return csv.excel


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
