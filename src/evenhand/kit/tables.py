"""Reading CSV and Excel exports as rows of text, streamed: a file of a million rows is never held whole.

Row numbers are the spreadsheet's (the header is row 1, data starts on row 2): the numbers a user sees when
they open the file to fix it. A CSV's delimiter (comma, semicolon, tab) is sniffed; its encoding is UTF-8
(with or without BOM) or, as Chinese Excel on Windows still saves it, GB18030."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evenhand.errors import Invalid

FIRST_DATA_ROW = 2
Row = dict[str, str | None]
_BLOCK = 1 << 20


@dataclass(frozen=True)
class TableFile:
    header: list[str]
    rows: Generator[Row, None, None]  # close() it when not read to the end: it holds the file open
    estimated_rows: int  # for a progress bar's total: lines in a CSV, the sheet's dimension in a workbook


def open_table(path: Path) -> TableFile:
    """The header and an iterator over the data rows (as dicts keyed by the header); refuses a missing file, an
    unknown suffix and a row with more values than the header has columns, naming the row."""
    if not path.exists():
        raise Invalid("No such file: {path}", field="file", path=str(path))
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _open_xlsx(path)
    if suffix in (".csv", ".txt", ".tsv"):
        return _open_csv(path)
    raise Invalid("Unsupported file type {suffix}; use .csv or .xlsx.", field="file", suffix=suffix)


def read_table(path: Path) -> tuple[list[str], list[Row]]:
    """The whole file at once, for files known to be small (a mapping's preview, a training set)."""
    table = open_table(path)
    return table.header, list(table.rows)


def _open_csv(path: Path) -> TableFile:
    encoding, lines = _encoding_and_lines(path)
    with path.open(encoding=encoding, newline="") as head:
        sample = head.read(4096)
    handle = path.open(encoding=encoding, newline="")
    reader = csv.reader(handle, _dialect(sample))
    header = [h.strip() for h in next(reader, [])]
    return TableFile(header, _csv_rows(handle, reader, header), max(lines - 1, 0))


def _csv_rows(handle: io.TextIOWrapper, reader: Any, header: list[str]) -> Generator[Row, None, None]:
    width = len(header)
    with handle:  # closed when the rows are read to the end, or the generator is closed
        for number, values in enumerate(reader, start=FIRST_DATA_ROW):
            if len(values) > width:
                raise Invalid("Row {row} has {got} values but the header has {want} columns.", field=f"{number}",
                              row=number, got=len(values), want=width)
            if len(values) < width:
                values = [*values, *[None] * (width - len(values))]
            yield dict(zip(header, values, strict=True))


def _encoding_and_lines(path: Path) -> tuple[str, int]:
    """UTF-8 if the whole file decodes as UTF-8 (read in blocks, nothing kept), else GB18030; and its lines."""
    decoder, lines, encoding = codecs.getincrementaldecoder("utf-8")(), 0, "utf-8-sig"
    with path.open("rb") as raw:
        while block := raw.read(_BLOCK):
            lines += block.count(b"\n")
            if encoding == "utf-8-sig":
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    encoding = "gb18030"
    return encoding, lines


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    """Comma, semicolon or tab, as the sample suggests; plain comma-separated when it cannot tell."""
    try:
        return csv.Sniffer().sniff(text, delimiters=",;\t")
    except csv.Error:
        return csv.excel


def _open_xlsx(path: Path) -> TableFile:
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True, data_only=True)
    sheet = book.worksheets[0]
    values: Iterator[tuple[Any, ...]] = sheet.iter_rows(values_only=True)
    header = [str(h).strip() if h is not None else "" for h in next(values, ())]
    return TableFile(header, _xlsx_rows(book, values, header), max((sheet.max_row or 1) - 1, 0))


def _xlsx_rows(book: Any, values: Iterator[tuple[Any, ...]], header: list[str]) -> Generator[Row, None, None]:
    try:
        for row in values:
            if any(v is not None for v in row):
                yield {h: _cell(v) for h, v in zip(header, row, strict=False)}
    finally:
        book.close()


def _cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):  # a date or time cell: ISO, which the mapping's timestamps read
        return str(value.isoformat())
    return str(value)
